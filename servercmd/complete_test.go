package servercmd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/fleet/fleettest"
)

// TestCompletions checks the dynamic completions: user names of the
// config --config names, --knock and --log-format values; never a
// secret; and the completion command: a script for each known shell, a
// usage error naming them for an unknown one.
func TestCompletions(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	var secrets []string
	for _, u := range []string{"alice", "bob"} {
		uri := uriRE.FindString(h.mustRun("", "user", "add", u, "-c", cfg, "--no-qr", "--no-reload"))
		secrets = append(secrets, clitest.URISecret(uri))
	}
	clitest.Completions(t, "otpknockd", h.in, []clitest.Completion{
		{Args: []string{"user", "remove", "-c", cfg, ""}, Want: []string{"alice", "bob"}},
		{Args: []string{"user", "qr", "-c", cfg, "b"}, Want: []string{"bob"}},
		{Args: []string{"user", "show", "-c", h.path("none.yaml"), ""}},
		{Args: []string{"user", "add", "carol", "--knock", "p"}, Want: []string{"packet"}},
		{Args: []string{"server", "--log-format", ""}, Want: []string{"text", "json"}},
		{Args: []string{"show", ""}},
	}, secrets)
}

// TestUnknownCommandWithHelp checks that --help does not turn an unknown
// subcommand into its parent's help and exit 0, while known commands
// still print their help.
func TestUnknownCommandWithHelp(t *testing.T) {
	clitest.Lines(t, newHarness, (*harness).in, []clitest.Line[*harness]{
		{Args: []string{"usr", "add", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"user", "rmm", "-h"}, Code: cli.ExitUsage},
		{Args: []string{"user", "-c", "x.yaml", "bogus", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"completion", "tcsh", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"user", "rm", "--help"}, Help: true},
		{Args: []string{"user", "-c", "x.yaml", "list", "--help"}, Help: true},
		{Args: []string{"send", "gw1", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"--help"}, Help: true},
	})
}

// hangingStore is a fleet store whose Records never answers, ignoring
// its context: an unreachable NATS at its worst.
type hangingStore struct {
	fleet.Store
	release chan struct{}
}

func (s hangingStore) Records(context.Context) ([]fleet.Record, error) {
	<-s.release
	return nil, errors.New("released")
}

// completeWith runs otpknockd __complete ARGS... with store as the
// fleet and returns the completions and how long they took.
func completeWith(t *testing.T, store fleet.Store, args ...string) ([]string, time.Duration) {
	t.Helper()
	var out, errb bytes.Buffer
	start := time.Now()
	err := Run(context.Background(), append([]string{"__complete"}, args...), Env{Env: cli.Env{Stdin: strings.NewReader(""), Stdout: &out,
		Stderr: &errb, Getenv: func(string) string { return "" }, Clock: clock.System{}, Version: "test"}, Fleet: store})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("__complete %v: %v\n%s", args, err, errb.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			got = append(got, l)
		}
	}
	return got, took
}

// TestFleetUserCompletions: in a fleet, user remove completes the
// fleet's users (not a removed one) from the store; when the store is
// down or does not answer, from this member's last copy, within a
// bounded wait; --local completes the config's users.
func TestFleetUserCompletions(t *testing.T) {
	h := newFleetHarness(t)
	h.addMember("m1", "vpn.example.org")
	cfg, err := config.Load(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Member m1 keeps its last copy where the config says.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var mu sync.Mutex
	var held []string
	if _, err := fleet.Join(ctx, h.store, fleet.MemberConfig{Name: "m1", Identity: "vpn.example.org", Key: h.members["m1"],
		Admin: mustAdminPublic(t, h.key), CacheFile: cfg.Fleet.CacheFile, Log: slog.New(slog.DiscardHandler),
		OnUsers: func(us []fleet.UserKey) {
			mu.Lock()
			defer mu.Unlock()
			held = nil
			for _, u := range us {
				held = append(held, u.User)
			}
		}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "dave"} {
		h.mustRun(h.userArgs("add", u, "--no-qr")...)
	}
	h.mustRun(h.userArgs("remove", "dave", "--yes")...)
	h.mustRun(h.userArgs("add", "carol", "--local", "--no-qr", "--no-reload")...)
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		done := slices.Equal(held, []string{"alice", "bob"})
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("member m1 holds %v, want alice and bob", held)
		}
	}
	release := make(chan struct{})
	defer close(release)
	down := fleettest.NewMemory()
	down.SetDown(true)
	for _, c := range []struct {
		name  string
		store fleet.Store
		args  []string
		want  []string
	}{
		{"from the store", h.store, []string{"user", "remove", "-c", h.cfg, ""}, []string{"alice", "bob"}},
		{"prefix", h.store, []string{"user", "remove", "-c", h.cfg, "b"}, []string{"bob"}},
		{"--local", h.store, []string{"user", "remove", "--local", "-c", h.cfg, ""}, []string{"carol"}},
		{"store down: last copy", down, []string{"user", "remove", "-c", h.cfg, ""}, []string{"alice", "bob"}},
		{"store hangs: last copy", hangingStore{release: release}, []string{"user", "remove", "-c", h.cfg, ""}, []string{"alice", "bob"}},
		{"show acts on the config", h.store, []string{"user", "show", "-c", h.cfg, ""}, []string{"carol"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, took := completeWith(t, c.store, c.args...)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("completions (-want +got):\n%s", diff)
			}
			if took > 2*fleetCompleteWait {
				t.Errorf("completion took %v, want at most %v", took, 2*fleetCompleteWait)
			}
		})
	}
}
