package servercmd

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

// TestParseProcNet reads tables in the kernel's format (testdata, from
// /proc/net/tcp and udp6 of a Linux 6 host, trimmed): listening TCP and
// unconnected UDP sockets serve, connected ones do not.
func TestParseProcNet(t *testing.T) {
	got := map[derive.Knock]bool{}
	for _, tt := range []struct {
		file  string
		proto derive.Proto
	}{{"testdata/proc_net_tcp", derive.TCP}, {"testdata/proc_net_udp6", derive.UDP}} {
		f, err := os.Open(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		err = parseProcNet(f, tt.proto, got)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
	}
	want := map[derive.Knock]bool{{Proto: derive.TCP, Port: 22}: true, {Proto: derive.TCP, Port: 3306}: true, {Proto: derive.UDP, Port: 51820}: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("serving (-want +got):\n%s", diff)
	}
	if err := parseProcNet(strings.NewReader("hdr\n 0: 00000000 00000000:0000 0A\n"), derive.TCP, got); err == nil {
		t.Errorf("a local address without a port parsed")
	}
}

// TestUserAddWarnsListening checks that user add warns, on stderr and
// one line per service, about guarding a service this host serves now.
func TestUserAddWarnsListening(t *testing.T) {
	h := newHarness(t)
	h.listening = map[derive.Knock]bool{{Proto: derive.TCP, Port: 443}: true, {Proto: derive.UDP, Port: 22}: true}
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	_, stderr, err := h.run("", "user", "add", "bob", "-c", cfg, "--no-qr", "--no-reload", "--open", "tcp/443", "--open", "tcp/22")
	if err != nil {
		t.Fatal(err)
	}
	warnings := warningLines(stderr)
	want := []string{"warning: tcp/443 is served on this host now: once the server runs (or reloads), tcp/443 is closed to every address that has not knocked; established connections stay"}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestUserAddQuietWhenGuarded: a service another user of the config
// already opens is guarded by otpknock now; adding a user for it again
// warns about nothing, while a new one still gets its warning.
func TestUserAddQuietWhenGuarded(t *testing.T) {
	h := newHarness(t)
	h.listening = map[derive.Knock]bool{{Proto: derive.TCP, Port: 22}: true, {Proto: derive.TCP, Port: 443}: true}
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	if _, _, err := h.run("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload", "--open", "tcp/22"); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := h.run("", "user", "add", "bob", "-c", cfg, "--no-qr", "--no-reload", "--open", "tcp/22", "--open", "tcp/443")
	if err != nil {
		t.Fatal(err)
	}
	warnings := warningLines(stderr)
	want := []string{"warning: tcp/443 is served on this host now: once the server runs (or reloads), tcp/443 is closed to every address that has not knocked; established connections stay"}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// warningLines are the lines of stderr that start "warning: ".
func warningLines(stderr string) []string {
	var warnings []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "warning: ") {
			warnings = append(warnings, l)
		}
	}
	return warnings
}
