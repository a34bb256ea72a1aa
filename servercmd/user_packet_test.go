package servercmd

import (
	"bytes"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
)

// TestUserAddPacket adds a packet user beside a sequence user: the
// config and the URI carry knock=packet for the packet user only, user
// list prints each mode and user show the packet user's element, which
// needs no --source even for a source-bound user.
func TestUserAddPacket(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	seqOut := h.mustRun("", "user", "add", "bob", "-c", cfg, "--no-qr")
	pktOut := h.mustRun("", "user", "add", "alice", "-c", cfg, "--knock", "packet", "--bind-source", "--no-qr")
	for _, tc := range []struct{ name, out, want string }{{"bob", seqOut, ""}, {"alice", pktOut, "packet"}} {
		u, err := url.Parse(uriRE.FindString(tc.out))
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Query().Get("knock"); got != tc.want {
			t.Errorf("%s's URI has knock=%q, want %q: %s", tc.name, got, tc.want, u)
		}
	}
	if !strings.Contains(pktOut, "source-bound, packet knock.") || !strings.Contains(seqOut, ", sequence knock.") {
		t.Errorf("user add output lacks the mode:\n%s\n%s", seqOut, pktOut)
	}
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := c.User("alice")
	bob, _ := c.User("bob")
	if alice.Knock != derive.ModePacket || bob.Knock != derive.ModeSequence {
		t.Errorf("config modes: alice %v, bob %v; want packet, sequence", alice.Knock, bob.Knock)
	}

	list := h.mustRun("", "user", "list", "-c", cfg)
	for _, re := range []string{`(?m)^NAME +OPENS +FROM +BOUND +KNOCK +SECRET$`, `(?m)^alice +tcp/22 +any +yes +packet +ok`, `(?m)^bob +tcp/22 +any +no +sequence +ok`} {
		if !regexpMatch(re, list) {
			t.Errorf("user list lacks %s:\n%s", re, list)
		}
	}

	secret, err := c.ReadSecret("alice")
	if err != nil {
		t.Fatal(err)
	}
	pd, err := derive.NewPacket(secret, c.ServerID, c.Params)
	if err != nil {
		t.Fatal(err)
	}
	k, err := pd.Knock(derive.Step(h.clock.Now(), c.Params.Period))
	if err != nil {
		t.Fatal(err)
	}
	want := "packet " + k.String() + "\n"
	if got := h.mustRun("", "user", "show", "alice", "-c", cfg); got != want {
		t.Errorf("user show alice = %q, want %q", got, want)
	}
	if got := h.mustRun("", "user", "show", "bob", "-c", cfg); strings.HasPrefix(got, "packet") || len(strings.Fields(strings.SplitN(got, "\n", 2)[0])) != 4 {
		t.Errorf("user show bob = %q, want a sequence of 4 knocks", got)
	}
}

// TestUserAddPacketErrors: a bad --knock, and --knock packet where the
// protocols carry no packet, are usage errors on one line that write
// nothing.
func TestUserAddPacketErrors(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(data, []byte("protocols: [tcp, udp]"), []byte("protocols: [tcp]"), 1), 0o600)
	before, _ := os.ReadFile(cfg)
	for _, tc := range []struct{ knock, want string }{
		{"single", `--knock: "single" must be sequence or packet`},
		{"packet", "knock: alice: protocols: packet knocks need udp or icmp among the protocols"},
	} {
		_, _, err := h.run("", "user", "add", "alice", "-c", cfg, "--knock", tc.knock, "--no-qr")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--knock %s: %v, want one line containing %q", tc.knock, err, tc.want)
		}
		if got := cli.ExitCode(err); got != cli.ExitUsage {
			t.Errorf("--knock %s: exit code %d, want %d", tc.knock, got, cli.ExitUsage)
		}
	}
	if after, _ := os.ReadFile(cfg); !bytes.Equal(before, after) {
		t.Errorf("failed user adds changed the config")
	}
	if entries, _ := os.ReadDir(h.path("secrets")); len(entries) != 0 {
		t.Errorf("failed user adds left secrets: %v", entries)
	}
	// Positive control: the same config takes a sequence user.
	h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr")
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
