// Command otpknock-man writes otpknock's man pages (otpknock.1,
// otpknock-server.1, ...) into a directory: `make man` and `make
// install` run it. It is a program of its own so that the otpknock
// binary does not link the man page writer and its Markdown parser.
//
//	go run ./cmd/otpknock-man [-version V] DIR
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/otpknock/otpknock/cli"
	"github.com/spf13/cobra/doc"
)

func main() {
	fs := flag.NewFlagSet("otpknock-man", flag.ContinueOnError)
	version := fs.String("version", "dev", "the version the pages name")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "otpknock-man: want the output DIR (usage: otpknock-man [-version V] DIR)")
		os.Exit(2)
	}
	if err := write(fs.Arg(0), *version, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "otpknock-man:", err)
		os.Exit(1)
	}
}

// write writes a man page for every command of otpknock into dir.
func write(dir, version string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	root := cli.Command(cli.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: os.Getenv, Version: version})
	root.DisableAutoGenTag = true
	hdr := &doc.GenManHeader{Title: "OTPKNOCK", Section: "1", Source: "otpknock " + version, Manual: "otpknock manual"}
	if err := doc.GenManTree(root, hdr, dir); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	fmt.Fprintf(stdout, "wrote man pages to %s\n", dir)
	return nil
}
