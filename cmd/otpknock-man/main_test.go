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
	tests := []struct{ page, has string }{
		{"otpknock.1", "Port knocking with one-time sequences"},
		{"otpknock-server.1", "otpknock server"},
		{"otpknock-connect.1", "ProxyCommand"},
		{"otpknock-user-add.1", "otpknock user add"},
	}
	for _, tt := range tests {
		t.Run(tt.page, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.page))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{`.TH "OTPKNOCK" "1"`, "otpknock v1.2.3", tt.has} {
				if !strings.Contains(string(data), s) {
					t.Errorf("%s lacks %q", tt.page, s)
				}
			}
		})
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
