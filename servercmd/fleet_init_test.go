package servercmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clock"
)

// TestFleetInit: against NATS, the admin commands only bind the fleet's
// buckets (fleet members fails, naming fleet init, while they are
// missing); fleet init creates them, and says which; again, it finds
// them; then fleet members binds them.
func TestFleetInit(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer s.Shutdown()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := Run(context.Background(), args, Env{Env: cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out,
			Getenv: func(string) string { return "" }, Clock: clock.System{}, Version: "test"}})
		return out.String(), err
	}
	if out, err := run("init", "--config", cfg, "--server-id", "admin", "--host", "vpn.example.org"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	key := filepath.Join(dir, "admin.key")
	out, err := run("fleet", "admin-key", "--admin-key", key)
	if err != nil {
		t.Fatalf("fleet admin-key: %v\n%s", err, out)
	}
	line, _, _ := strings.Cut(out[strings.Index(out, "admin_key: "):], "\n")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("fleet:\n  id: acme\n  servers: [" + s.ClientURL() + "]\n  insecure: true\n  " + line + "\n")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	members := []string{"fleet", "members", "--config", cfg, "--admin-key", key}
	if out, err := run(members...); err == nil || !strings.Contains(out+err.Error(), "otpknockd fleet init") {
		t.Errorf("fleet members before fleet init: %v\n%s\nwant a failure naming otpknockd fleet init", err, out)
	}
	want := "Fleet acme: buckets otpknock_users_61636d65 and otpknock_used_61636d65 ready (replicas 1).\n"
	for range 2 {
		out, err := run("fleet", "init", "--config", cfg, "--admin-key", key)
		if err != nil || out != want {
			t.Errorf("fleet init: %v, said %q, want %q", err, out, want)
		}
	}
	if out, err := run(members...); err != nil || !strings.HasPrefix(out, "MEMBER") {
		t.Errorf("fleet members after fleet init: %v\n%s", err, out)
	}
}
