package clientcmd

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
)

func TestShow(t *testing.T) {
	h := newHarness(t)
	acct, uri := fixture(t, "alice", nil)
	h.mustRun(uri, "import", "-")
	want := serverSequence(t, acct, h.clock.Now(), netip.Addr{})

	out, status, err := h.run("", "show")
	if err != nil {
		t.Fatal(err)
	}
	// The sequence alone on stdout, for pipes; the step on stderr.
	if wantOut := strings.Join(want, " ") + "\n"; out != wantOut {
		t.Errorf("show:\n%s\nwant:\n%s", out, wantOut)
	}
	if wantStatus := "step 60000000, 13s left\n"; status != wantStatus {
		t.Errorf("show's status on stderr: %q, want %q", status, wantStatus)
	}
	knock := h.mustRun("", "show", "198.18.0.1", "--format", "knock")
	first := strings.SplitN(knock, "\n", 2)[0]
	var conv []string
	for _, k := range want {
		proto, port, _ := strings.Cut(k, "/")
		conv = append(conv, port+":"+proto)
	}
	if first != strings.Join(conv, " ") {
		t.Errorf("--format knock: %q, want %q", first, strings.Join(conv, " "))
	}
	h.clock.Advance(-40 * time.Second)
	shifted := h.mustRun("", "show", "--time-offset", "40s")
	if shifted != out {
		t.Errorf("--time-offset 40s with the clock 40s behind:\n%s\nwant:\n%s", shifted, out)
	}
}

func TestBoundAndICMP(t *testing.T) {
	h := newHarness(t)
	acct, uri := fixture(t, "alice", both(at("2001:2::1"), bound))
	h.mustRun(uri, "import", "-")
	if _, _, err := h.run("", "show"); err == nil || !strings.Contains(err.Error(), "--public-ip") {
		t.Errorf("bound profile without --public-ip: %v", err)
	}
	if alias := h.mustRun("", "show", "--source", "2001:2::10"); alias != h.mustRun("", "show", "--public-ip", "2001:2::10") {
		t.Errorf("show --source (the former name) differs from --public-ip")
	}
	a := h.mustRun("", "show", "--public-ip", "2001:2::10")
	b := h.mustRun("", "show", "--source", "2001:2::11")
	if a == b {
		t.Errorf("two sources gave the same bound sequence: %s", a)
	}
	if want := strings.Join(serverSequence(t, acct, h.clock.Now(), netip.MustParseAddr("2001:2::10")), " ") + "\n"; a != want {
		t.Errorf("bound: show %q, the server expects %q", a, want)
	}
	_, uri2 := fixture(t, "bob", func(a *provision.Account) { a.Params.Protocols = derive.Protocols(derive.ICMP) })
	h.mustRun(uri2, "import", "-", "--name", "ping")
	if out := h.mustRun("", "show", "ping"); !strings.HasPrefix(out, "icmp/") {
		t.Errorf("icmp profile: %s", out)
	}
	if _, _, err := h.run("", "show", "ping", "--format", "knock"); err == nil || !strings.Contains(err.Error(), "knock client cannot send") {
		t.Errorf("icmp with --format knock: %v", err)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	junk := h.path("junk.png")
	os.WriteFile(junk, []byte("\x89PNG\r\n\x1a\nnot really"), 0o600)
	text := h.path("text.txt")
	os.WriteFile(text, []byte("hello"), 0o600)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"extra argument", "", []string{"show", "a", "b"}, "at most one PROFILE"},
		{"unknown flag", "", []string{"show", "--bogus"}, "unknown flag: --bogus"},
		{"bad format", "", []string{"show", "--format", "xml"}, "--format"},
		{"no profiles", "", []string{"show"}, "no profiles"},
		{"bad uri on stdin", "otpauth://totp/x?secret=AAAA", []string{"import", "-"}, "provisioning URI"},
		{"not a uri", "", []string{"import", text}, "neither an otpauth:// URI nor a PNG"},
		{"bad png", "", []string{"import", junk}, "not a PNG"},
		{"missing file", "", []string{"import", h.path("nofile")}, "reading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := h.run(tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if got := cli.ExitCode(err); got != cli.ExitUsage {
				t.Errorf("exit code %d, want %d", got, cli.ExitUsage)
			}
		})
	}
	if _, err := os.Stat(h.env["OTPKNOCK_CLIENT_CONFIG"]); !os.IsNotExist(err) {
		t.Errorf("failed imports created the profile store")
	}
}
