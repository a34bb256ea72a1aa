package fullcli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/qr"
	"github.com/spf13/cobra"
)

// TestRootForCommand checks that the tree built for one command gives
// the same help and the same refusals as the whole tree: a command's
// output must not depend on its siblings being built.
func TestRootForCommand(t *testing.T) {
	var cases [][]string
	for _, c := range Root(Env{}).Commands() {
		cases = append(cases, []string{c.Name(), "--help"}, []string{c.Name(), "--no-such-flag"})
	}
	cases = append(cases, []string{"user", "add", "--help"}, []string{"profiles", "nope"}, []string{"send"})
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			h := newHarness(t)
			out, stderr, err := h.run("", args...)
			whole := Root(Env{Env: cli.Env{Stdout: &bytes.Buffer{}}})
			var wantOut bytes.Buffer
			whole.SetArgs(args)
			whole.SetOut(&wantOut)
			whole.SetErr(&wantOut)
			wantErr := whole.Execute()
			if args[len(args)-1] == "--help" && !strings.Contains(wantOut.String(), "Usage:") {
				t.Fatalf("the whole tree printed no help:\n%s", wantOut.String())
			}
			if diff := cmp.Diff(wantOut.String(), out+stderr); diff != "" {
				t.Errorf("output (-whole tree +one command):\n%s", diff)
			}
			if (err == nil) != (wantErr == nil) || err != nil && !strings.Contains(err.Error(), wantErr.Error()) {
				t.Errorf("error: one command %v, whole tree %v", err, wantErr)
			}
		})
	}
}

// TestHandoffCovers: every command of otpknockd is otpknock's own or
// handed off to otpknockd, and every command otpknock has is otpknockd's.
func TestHandoffCovers(t *testing.T) {
	client := map[string]*cobra.Command{}
	for _, c := range cli.Root(cli.Env{}, nil).Commands() {
		client[c.Name()] = c
	}
	full := map[string]bool{}
	for _, c := range Root(Env{}).Commands() {
		if c.Hidden {
			continue
		}
		full[c.Name()] = true
		_, handed := cli.HandoffSummary(c.Name())
		if own, ok := client[c.Name()]; !ok || own.DisableFlagParsing != handed {
			t.Errorf("%s: in otpknock %v, handed off %v, otpknock parses its flags %v", c.Name(), ok, handed, ok && !own.DisableFlagParsing)
		}
	}
	for name := range client {
		if !full[name] {
			t.Errorf("otpknock has %s, otpknockd has not", name)
		}
	}
}

// TestDecodeQR: the command otpknock's import hands a PNG to prints the
// URI of the QR code on its standard input, and refuses anything else
// with an error of usage.
func TestDecodeQR(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	uri := uriRE.FindString(h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload"))
	png, err := qr.PNG(uri, 400)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := h.run(string(png), cli.DecodeQRCommand)
	if err != nil || out != uri+"\n" {
		t.Errorf("decode-qr: %q, %v; want %q", out, err, uri+"\n")
	}
	if _, _, err := h.run("not a png", cli.DecodeQRCommand); cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "not a PNG") {
		t.Errorf("decode-qr of text: %v (exit %d), want a usage error saying not a PNG", err, cli.ExitCode(err))
	}
}
