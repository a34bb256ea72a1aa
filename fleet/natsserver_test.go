package fleet_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/otpknock/otpknock/fleet"
)

// natsServer starts an in-process nats-server with JetStream, its store
// in a temporary directory, on a loopback port; it stops with the test.
func natsServer(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// dial connects a JetStream store to s (insecure: a test server).
func dial(t testing.TB, s *server.Server, name string) *fleet.JetStream {
	t.Helper()
	js, err := fleet.Dial(fleet.Options{URLs: []string{s.ClientURL()}, Fleet: "acme", Name: name, Insecure: true, UsedTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(js.Close)
	return js
}
