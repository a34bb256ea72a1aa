package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/otpknock/otpknock/fleet"
)

// TestUseStepDoesNotWaitForABinding: while NATS is unreachable and the
// buckets are not bound yet (a member that started without NATS), a
// used-step check gives up at its own deadline, not at the end of
// another caller's longer attempt to bind them.
func TestUseStepDoesNotWaitForABinding(t *testing.T) {
	s := natsServer(t)
	url := s.ClientURL()
	s.Shutdown() // nothing answers there any more
	js, err := fleet.Dial(fleet.Options{URLs: []string{url}, Fleet: "acme", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		js.Records(ctx) // binds the buckets, failing after 3 s
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = js.UseStep(ctx, "vpn.example.org", "alice", 1)
	if took := time.Since(start); err == nil || took > time.Second {
		t.Errorf("UseStep with a 250 ms deadline: %v after %v, want an error within it", err, took)
	}
}

// TestDialLogsWhyItCannotConnect: a failed connection is logged, once
// for each reason while it keeps failing.
func TestDialLogsWhyItCannotConnect(t *testing.T) {
	s := natsServer(t)
	url := s.ClientURL()
	s.Shutdown()
	buf := &syncWriter{w: &bytes.Buffer{}}
	js, err := fleet.Dial(fleet.Options{URLs: []string{url}, Fleet: "acme", Insecure: true,
		Log: slog.New(slog.NewTextHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // several attempts, 250 ms apart
	js.Close()
	out := buf.String()
	if n := strings.Count(out, `msg="fleet: cannot connect to NATS"`); n != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("the log has %d lines for the refused connection, want 1 naming it:\n%s", n, out)
	}
}

// TestDialOnce: a command's dial (Once) fails at once when no server
// answers.
func TestDialOnce(t *testing.T) {
	s := natsServer(t)
	url := s.ClientURL()
	s.Shutdown()
	start := time.Now()
	js, err := fleet.Dial(fleet.Options{URLs: []string{url}, Fleet: "acme", Insecure: true, Once: true})
	if err == nil {
		js.Close()
	}
	if !errors.Is(err, nats.ErrNoServers) || time.Since(start) > 2*time.Second {
		t.Errorf("Dial once to a stopped server: %v after %v, want %v at once", err, time.Since(start), nats.ErrNoServers)
	}
}

// syncWriter is a writer for a log that goroutines share.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.(*bytes.Buffer).String()
}

// TestMemberWaitsForTheBuckets: a member only binds the fleet's
// buckets. Before the admin host creates them it starts with no users,
// says so once while it keeps trying, and creates nothing; once they
// exist it registers and joins within its next retry.
func TestMemberWaitsForTheBuckets(t *testing.T) {
	s := bareNATS(t)
	admin := keyPair(t)
	m, err := join(t, t.Context(), dial(t, s, "m1"), admin, "m1", "vpn", "", fleet.Local)
	if err != nil {
		t.Fatalf("a member started before the buckets exist: %v, want it waiting for them", err)
	}
	time.Sleep(2500 * time.Millisecond) // two retries
	m.mu.Lock()
	log := m.log.String()
	m.mu.Unlock()
	if n := strings.Count(log, "buckets do not exist yet in NATS: waiting for the admin host to create them (otpknockd fleet init)"); n != 1 {
		t.Errorf("the member's log has %d lines saying the buckets are missing, want 1:\n%s", n, log)
	}
	if m.Connected() {
		t.Error("Connected without the buckets")
	}
	if err := m.UseStep("alice", 1); err != nil {
		t.Errorf("fleet_unavailable: local: UseStep while the buckets are missing: %v, want a local grant", err)
	}
	if _, err := dial(t, s, "m2").Buckets(t.Context()); !errors.Is(err, fleet.ErrNoBuckets) {
		t.Errorf("a member's Buckets before fleet init: %v, want %v (it binds, never creates)", err, fleet.ErrNoBuckets)
	}
	names, err := manage(t, s).Buckets(t.Context())
	if want := []string{"otpknock_users_61636d65", "otpknock_used_61636d65"}; err != nil || !slices.Equal(names, want) {
		t.Fatalf("fleet init's buckets: %v, %v, want %v", names, err, want)
	}
	eventually(t, 3*time.Second, "the member joins once the buckets exist", m.Connected)
	ms, err := dial(t, s, "lister").Members(t.Context())
	if err != nil || len(ms) != 1 || ms[0].Name != "m1" {
		t.Errorf("members after the buckets were created: %+v, %v, want m1 registered", ms, err)
	}
}

// TestDialNkeySeed: a credentials file holding a user's nkey seed alone
// signs in as the server's nkey user; another user's seed is refused,
// and a file that is neither a .creds file nor a seed is named.
func TestDialNkeySeed(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer s.Shutdown()
	other, _ := nkeys.CreateUser()
	dir := t.TempDir()
	seedFile := func(name string, kp nkeys.KeyPair) string {
		seed, _ := kp.Seed()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, append(seed, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a seed\n"), 0o600)
	for _, c := range []struct {
		name, file, wantErr string
	}{
		{"its seed", seedFile("user.nk", user), ""},
		{"another user's seed", seedFile("other.nk", other), "NATS refuses the credentials"},
		{"neither", garbage, "is neither a .creds file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			js, err := fleet.Dial(fleet.Options{URLs: []string{s.ClientURL()}, Fleet: "acme", Insecure: true, Once: true, CredsFile: c.file})
			if err == nil {
				defer js.Close()
			}
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("Dial with %s: %v, want an error with %q (none: %v)", c.file, err, c.wantErr, c.wantErr == "")
			}
		})
	}
}
