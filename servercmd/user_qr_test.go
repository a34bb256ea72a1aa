package servercmd

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/qr"
)

// TestUserQR checks that user qr prints the URI user add printed, writes
// a PNG (mode 0600) that imports to the same account, takes --host, and
// changes neither the config nor the secret.
func TestUserQR(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	added := uriRE.FindString(h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload", "--open", "tcp/2222", "--bind-source"))
	cfgBefore, _ := os.ReadFile(cfg)
	secretBefore, _ := os.ReadFile(h.path("secrets/alice.key"))

	h.stdoutColumns = 200 // a terminal
	out := h.mustRun("", "user", "qr", "alice", "-c", cfg, "--qr-png", h.path("alice.png"))
	h.stdoutColumns = 0
	if got := uriRE.FindString(out); got != added {
		t.Errorf("user qr URI:\n%s\nwant the URI of user add:\n%s", got, added)
	}
	if !strings.Contains(out, "█") && !strings.Contains(out, "▀") && !strings.Contains(out, "▄") {
		t.Errorf("user qr drew no QR code:\n%s", out)
	}
	if st, err := os.Stat(h.path("alice.png")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("PNG: %v, mode %v", err, st)
	}
	png, _ := os.ReadFile(h.path("alice.png"))
	fromPNG, err := qr.DecodePNG(png)
	if err != nil || fromPNG != added {
		t.Errorf("the PNG decodes to %q (%v), want the URI of user add", fromPNG, err)
	}

	moved := uriRE.FindString(h.mustRun("", "user", "qr", "alice", "-c", cfg, "--no-qr", "--host", "knock.example.org"))
	acct, err := provision.ParseURI(moved)
	if err != nil || acct.Host != "knock.example.org" {
		t.Errorf("--host: URI %q (%v), want host knock.example.org", moved, err)
	}
	if cfgAfter, _ := os.ReadFile(cfg); !bytes.Equal(cfgBefore, cfgAfter) {
		t.Errorf("user qr changed the config")
	}
	if secretAfter, _ := os.ReadFile(h.path("secrets/alice.key")); !bytes.Equal(secretBefore, secretAfter) {
		t.Errorf("user qr changed the secret")
	}
}

// TestUserQRErrors checks that a refused user qr is one usage line and
// writes no PNG.
func TestUserQRErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, h *harness)
		args  []string
		msg   string
	}{
		{"unknown user", nil, []string{"bob"}, `no user "bob"`},
		{"png directory missing", nil, []string{"alice", "--qr-png", "{dir}/nonexistent/u.png"}, "--qr-png: directory"},
		{"png is a directory", nil, []string{"alice", "--qr-png", "{dir}"}, "is a directory"},
		{"bad host", nil, []string{"alice", "--host", "name:2222"}, "--host"},
		{"secret readable by others", func(t *testing.T, h *harness) { os.Chmod(h.path("secrets/alice.key"), 0o644) },
			[]string{"alice", "--qr-png", "{dir}/u.png"}, "chmod 600"},
		{"secret missing", func(t *testing.T, h *harness) { os.Remove(h.path("secrets/alice.key")) },
			[]string{"alice", "--qr-png", "{dir}/u.png"}, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg := h.path("config.yaml")
			h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
			h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload")
			if tt.setup != nil {
				tt.setup(t, h)
			}
			before := dirList(h.dir)
			args := []string{"user", "qr", "-c", cfg}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "{dir}", h.dir))
			}
			out, _, err := h.run("", args...)
			if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v (exit %d), want one line with %q, exit %d", err, cli.ExitCode(err), tt.msg, cli.ExitUsage)
			}
			if strings.Contains(out, "otpauth://") {
				t.Errorf("a refused user qr printed the URI")
			}
			if diff := cmp.Diff(before, dirList(h.dir)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQROnlyOnTerminals: user add and user qr draw the QR code (color
// escapes) only on a terminal that allows colors; into a pipe or a file,
// with NO_COLOR or TERM=dumb they write no escape and one line saying
// how to get the PNG, and nothing when --qr-png wrote it already.
func TestQROnlyOnTerminals(t *testing.T) {
	const refused = "QR code not shown: "
	tests := []struct {
		name    string
		columns int // 0: stdout is no terminal
		env     map[string]string
		png     bool
		want    string // "drawn", a line of the refusal, or "" for neither
	}{
		{"terminal", 200, nil, false, "drawn"},
		{"terminal with --qr-png", 200, nil, true, "drawn"},
		{"pipe or file", 0, nil, false, refused + "standard output is not a terminal; write it with --qr-png FILE"},
		{"pipe with --qr-png", 0, nil, true, ""},
		{"NO_COLOR", 200, map[string]string{"NO_COLOR": "1"}, false, refused + "NO_COLOR is set"},
		{"TERM=dumb", 200, map[string]string{"TERM": "dumb"}, false, refused + "TERM=dumb"},
	}
	for _, cmd := range []string{"add", "qr"} {
		for _, tt := range tests {
			t.Run(cmd+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t)
				cfg := h.path("config.yaml")
				h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
				if cmd == "qr" {
					h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload")
				}
				h.stdoutColumns = tt.columns
				for k, v := range tt.env {
					h.env[k] = v
				}
				args := []string{"user", cmd, "alice", "-c", cfg}
				if cmd == "add" {
					args = append(args, "--no-reload")
				}
				if tt.png {
					args = append(args, "--qr-png", h.path("alice.png"))
				}
				out := h.mustRun("", args...)
				drawn := strings.Contains(out, "\x1b[")
				switch {
				case tt.want == "drawn" && !drawn:
					t.Errorf("no QR code drawn:\n%s", out)
				case tt.want != "drawn" && drawn:
					t.Errorf("escape sequences written:\n%q", out)
				case tt.want != "drawn" && tt.want != "" && !strings.Contains(out, "\n"+tt.want):
					t.Errorf("output lacks %q:\n%s", tt.want, out)
				case tt.want == "" && strings.Contains(out, refused):
					t.Errorf("a refusal line although --qr-png wrote the PNG:\n%s", out)
				}
			})
		}
	}
}
