package servercmd

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/listener/listenertest"
)

// lockedBuffer is an output the server's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stepT is the step the server tests run in; they start 3 s into it.
const stepT = 60000000

// fakeServer is a server's surroundings made of fakes.
type fakeServer struct {
	path   string // the config file
	clock  *clocktest.Fake
	fw     *firewalltest.Fake
	src    *listenertest.Fake
	hup    chan os.Signal
	stdout *lockedBuffer
	stderr *lockedBuffer
}

// newFakeServer writes a config with alice (tcp/22) in a temporary
// directory.
func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	dir := t.TempDir()
	c := clocktest.NewFake(derive.StepStart(stepT, 30*time.Second).Add(3 * time.Second))
	s := &fakeServer{path: filepath.Join(dir, "config.yaml"), clock: c, fw: &firewalltest.Fake{Clock: c}, src: &listenertest.Fake{},
		hup: make(chan os.Signal), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	if _, err := config.WriteInit(s.path, config.InitOptions{ServerID: "gw1", Host: "198.18.0.1", StateFile: filepath.Join(dir, "state.json")}); err != nil {
		t.Fatal(err)
	}
	s.addUser(t, "alice", "tcp/22")
	return s
}

// addUser adds a user to the config, with a secret made of its name.
func (s *fakeServer) addUser(t *testing.T, name, open string) {
	t.Helper()
	cfg, err := config.AddUser(s.path, config.NewUser{Name: name, Open: []string{open}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.WriteSecret(name, secretOf(name)); err != nil {
		t.Fatal(err)
	}
}

func secretOf(name string) []byte { return []byte(fmt.Sprintf("%-32s", name+"'s secret")) }

// sequence is the user's knocks of step stepT.
func (s *fakeServer) sequence(t *testing.T, name string) []derive.Knock {
	t.Helper()
	cfg, err := config.Load(s.path)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := derive.Sequence(secretOf(name), cfg.ServerID, cfg.Params, stepT, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func (s *fakeServer) env() Env {
	return Env{Env: cli.Env{Stdout: s.stdout, Stderr: s.stderr, Getenv: func(string) string { return "" }, Clock: s.clock, Version: "test"},
		Firewall: func() (firewall.Backend, error) { return s.fw, nil },
		Packets:  func(uint16) (listener.Source, error) { return s.src, nil },
		Hangup:   s.hup, StateDir: filepath.Dir(s.path)}
}

// run runs otpknock with the fakes.
func (s *fakeServer) run(ctx context.Context, args ...string) error {
	return Run(ctx, args, s.env())
}

// knock feeds the knocks and returns once the server handled them.
func (s *fakeServer) knock(t *testing.T, src string, ks []derive.Knock) {
	t.Helper()
	for _, k := range ks {
		s.src.Inject(listener.Packet{Src: netip.MustParseAddr(src), Knock: k})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.src.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestServer runs the server command in process on fakes: it grants a
// knock, reloads on a hangup, and leaves the firewall closed and no
// goroutine behind when its context ends.
func TestServer(t *testing.T) {
	s := newFakeServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, "server", "-c", s.path) }()
	wait, stopWait := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopWait()
	if err := s.clock.WaitTickers(wait, 2); err != nil {
		t.Fatalf("the server never started: %v\n%s", err, s.stderr)
	}
	s.knock(t, "198.18.0.2", s.sequence(t, "alice"))

	s.addUser(t, "bob", "tcp/2222")
	s.hup <- syscall.SIGHUP
	s.hup <- syscall.SIGHUP // taken once the first reload is done
	s.knock(t, "2001:2::2", s.sequence(t, "bob"))

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server: %v\n%s", err, s.stderr)
	}
	// Three setups: the lock at start, the server's firewall, the reload.
	want := "installed=true nflog=false setups=3\ngrant 198.18.0.2 tcp/22 30s\ngrant 2001:2::2 tcp/2222 30s"
	if got := s.fw.String(); got != want {
		t.Errorf("firewall:\n%s\nwant:\n%s", got, want)
	}
	logs := s.stderr.String()
	for _, line := range []string{"msg=started", "msg=grant src=198.18.0.2 user=alice", `msg="config reloaded" users=2`,
		"msg=grant src=2001:2::2 user=bob", "msg=stopped"} {
		if !strings.Contains(logs, line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "servercmd.relayReloads") {
		t.Errorf("the reload goroutine outlived the server:\n%s", stacks)
	}
}
