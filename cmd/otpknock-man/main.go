// Command otpknock-man writes the man pages of both programs into a
// directory: otpknock.1, otpknock-send.1, ... for the client, and
// otpknockd.1, otpknockd-user-add.1, ... for the server; `make man` and
// `make install` run it. It is a program of its own so that neither
// binary links the man page writer and its Markdown parser.
//
//	go run ./cmd/otpknock-man [-version V] DIR
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clientcmd"
	"github.com/otpknock/otpknock/servercmd"
	"github.com/spf13/cobra"
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

// write writes a man page for every command of otpknock and otpknockd
// into dir, each titled with its own name (OTPKNOCKD-SERVER) and closed
// by the sections cobra does not write: ENVIRONMENT, FILES and EXIT
// STATUS.
func write(dir, version string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	env := cli.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: os.Getenv, Version: version}
	for _, root := range []*cobra.Command{clientcmd.Root(clientcmd.Env{Env: env}), servercmd.Root(servercmd.Env{Env: env})} {
		if err := writeTree(dir, version, root); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote man pages to %s\n", dir)
	return nil
}

// writeTree writes the pages of root and the commands under it.
func writeTree(dir, version string, root *cobra.Command) error {
	root.DisableAutoGenTag = true
	for _, c := range pages(root) {
		c.Long = preformat(c.Long)
		name := strings.ReplaceAll(c.CommandPath(), " ", "-")
		hdr := &doc.GenManHeader{Title: strings.ToUpper(name), Section: "1", Source: "otpknock " + version, Manual: "otpknock manual"}
		var b bytes.Buffer
		if err := doc.GenMan(c, hdr, &b); err != nil {
			return fmt.Errorf("man pages: %s: %w", name, err)
		}
		page := insertSections(b.String(), sections(c))
		if err := os.WriteFile(filepath.Join(dir, name+".1"), []byte(page), 0o644); err != nil {
			return fmt.Errorf("man pages: %w", err)
		}
	}
	return nil
}

// pages lists c and every command under it that gets a page, as cobra's
// GenManTree does.
func pages(c *cobra.Command) []*cobra.Command {
	if !c.IsAvailableCommand() && c.HasParent() || c.IsAdditionalHelpTopicCommand() {
		return nil
	}
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, pages(sub)...)
	}
	return out
}

// preformat marks the aligned blocks of a command's long help (lines
// with a run of spaces inside, or indented) as Markdown code blocks, so
// that the man page keeps their lines instead of filling them into one
// paragraph.
func preformat(long string) string {
	lines := strings.Split(long, "\n")
	var out []string
	inBlock := false
	for _, l := range lines {
		aligned := strings.HasPrefix(l, "  ") || strings.Contains(strings.TrimLeft(l, " "), "  ")
		switch {
		case aligned && !inBlock:
			out = append(out, "")
			inBlock = true
		case !aligned && inBlock:
			if strings.TrimSpace(l) != "" {
				out = append(out, "")
			}
			inBlock = false
		}
		if aligned {
			l = "    " + l
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// insertSections puts roff sections before SEE ALSO, where man(7) has
// them, or at the end.
func insertSections(page, roff string) string {
	if i := strings.Index(page, ".SH SEE ALSO"); i >= 0 {
		return page[:i] + roff + page[i:]
	}
	return page + roff
}

// What a page is about, for its ENVIRONMENT and FILES.
const (
	client = 1 << iota
	server
)

// kinds says which commands read the client's profiles and which the
// server's config.
var kinds = map[string]int{
	"otpknock": client, "otpknockd": server, "import": client, "show": client, "profiles": client, "send": client,
	"connect": client, "tui": client, "init": server, "user": server, "server": server, "firewall": server,
}

// sections returns the ENVIRONMENT, FILES and EXIT STATUS sections of c's
// page.
func sections(c *cobra.Command) string {
	top := c
	for top.HasParent() && top.Parent().HasParent() {
		top = top.Parent()
	}
	kind := kinds[top.Name()]
	var b strings.Builder
	if kind&client != 0 {
		b.WriteString(".SH ENVIRONMENT\n" +
			".TP\n\\fBOTPKNOCK_CLIENT_CONFIG\\fP\nThe client's profile file, instead of the default below.\n" +
			".TP\n\\fBXDG_CONFIG_HOME\\fP\nWhere the default profile file lies on Linux and the other Unixes: $XDG_CONFIG_HOME/otpknock/client.yaml, else ~/.config/otpknock/client.yaml.\n" +
			".TP\n\\fBNO_COLOR\\fP\nWhen set, otpknock tui draws without colors.\n\n")
	}
	if kind != 0 {
		b.WriteString(".SH FILES\n")
	}
	if kind&client != 0 {
		b.WriteString(".TP\n\\fI~/.config/otpknock/client.yaml\\fP\nThe client's profiles, with their secrets: mode 0600, refused when others can read it (macOS: ~/Library/Application Support/otpknock/, Windows: %AppData%\\\\otpknock\\\\).\n" +
			".TP\n\\fIstate.json\\fP\nBeside the profiles: the last step each profile knocked in, as the server accepts each step once.\n")
	}
	if kind&server != 0 {
		b.WriteString(".TP\n\\fI/etc/otpknock/config.yaml\\fP\nThe server's config (--config): server_id, host, knock parameters, users.\n" +
			".TP\n\\fI/etc/otpknock/secrets/NAME.key\\fP\nEach user's secret (secrets_dir), mode 0600.\n" +
			".TP\n\\fI/var/lib/otpknock/state.json\\fP\nThe last used step of each user (state_file), so a restart accepts no sequence twice.\n" +
			".TP\n\\fI/var/lib/otpknock/otpknock.pid\\fP\nThe running server's pid, beside state_file: user add and remove signal it to reload.\n")
	}
	if kind != 0 {
		b.WriteString("\n")
	}
	b.WriteString(".SH EXIT STATUS\n" +
		".TP\n\\fB0\\fP\nSuccess.\n" +
		".TP\n\\fB1\\fP\nA runtime failure: a knock sent whose service did not open, the server failing to install or while it runs.\n" +
		".TP\n\\fB2\\fP\nA usage, configuration or input error, said in one line on standard error; nothing was written.\n\n")
	return b.String()
}
