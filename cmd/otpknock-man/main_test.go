package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrite writes the pages and checks that every command has one,
// naming the version and the command's synopsis.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	var out bytes.Buffer
	if err := write(dir, "v1.2.3", &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "wrote man pages to "+dir+"\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	tests := []struct {
		page, title string
		has         []string
		lacks       []string
	}{
		{"otpknock.1", "OTPKNOCK", []string{"the otpknock client", "otpknock tui",
			"\n.SH ENVIRONMENT\n", "OTPKNOCK_CLIENT_CONFIG", "\n.SH FILES\n", "client.yaml", "otpknock-tui(1)"}, []string{"/etc/otpknock/config.yaml", "otpknock-init(1)"}},
		{"otpknockd.1", "OTPKNOCKD", []string{"The otpknock server and its administration", "/etc/otpknock/config.yaml", "otpknockd-user(1)"},
			[]string{"OTPKNOCK_CLIENT_CONFIG", "otpknockd-tui(1)"}},
		{"otpknockd-server.1", "OTPKNOCKD-SERVER", []string{"otpknockd server", "/var/lib/otpknock/state.json"}, []string{"OTPKNOCK_CLIENT_CONFIG"}},
		{"otpknock-connect.1", "OTPKNOCK-CONNECT", []string{"ProxyCommand", ".EX\n  ssh -o ProxyCommand", "OTPKNOCK_CLIENT_CONFIG", "state.json"}, []string{"/etc/otpknock"}},
		{"otpknock-tui.1", "OTPKNOCK-TUI", []string{"otpknock tui", "NO_COLOR"}, []string{"/etc/otpknock"}},
		{"otpknockd-user-add.1", "OTPKNOCKD-USER-ADD", []string{"otpknockd user add", "secrets/NAME.key"}, []string{"OTPKNOCK_CLIENT_CONFIG"}},
		{"otpknock-version.1", "OTPKNOCK-VERSION", nil, []string{".SH FILES", ".SH ENVIRONMENT"}},
		{"otpknockd-version.1", "OTPKNOCKD-VERSION", nil, []string{".SH FILES", ".SH ENVIRONMENT"}},
	}
	for _, tt := range tests {
		t.Run(tt.page, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.page))
			if err != nil {
				t.Fatal(err)
			}
			page := string(data)
			has := append([]string{`.TH "` + tt.title + `" "1"`, "otpknock v1.2.3", ".SH EXIT STATUS\n", "\\fB2\\fP\nA usage"}, tt.has...)
			for _, s := range has {
				if !strings.Contains(page, s) {
					t.Errorf("%s lacks %q", tt.page, s)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(page, s) {
					t.Errorf("%s has %q", tt.page, s)
				}
			}
			if i, j := strings.Index(page, ".SH EXIT STATUS"), strings.Index(page, ".SH SEE ALSO"); j >= 0 && i > j {
				t.Errorf("%s: EXIT STATUS after SEE ALSO", tt.page)
			}
		})
	}
	for _, gone := range []string{"otpknock-init.1", "otpknock-user-add.1", "otpknockd-tui.1", "otpknockd-import.1"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("%s written: the command is the other program's", gone)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "otpknock-man.1")); err == nil {
		t.Error("otpknock-man.1 written: the generator is no command of otpknock")
	}
}

// TestWriteRefusesAFile checks that a DIR that is a file is an error.
func TestWriteRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if err := write(f, "dev", &bytes.Buffer{}); err == nil || !strings.HasPrefix(err.Error(), "man pages: ") {
		t.Errorf("write to a file = %v, want a man pages: error", err)
	}
}
