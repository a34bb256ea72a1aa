package fleet_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/otpknock/otpknock/fleet"
)

// natsServer starts an in-process nats-server with JetStream and the
// buckets of fleet acme, created as the admin host's otpknockd fleet
// init does; it stops with the test.
func natsServer(t testing.TB) *server.Server {
	t.Helper()
	s := bareNATS(t)
	if _, err := manage(t, s).Buckets(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// bareNATS starts an in-process nats-server with JetStream, its store
// in a temporary directory, on a loopback port, and no buckets; it
// stops with the test.
func bareNATS(t testing.TB) *server.Server {
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

// dial connects a JetStream store to s (insecure: a test server), as a
// member does: it binds the buckets, never creates them.
func dial(t testing.TB, s *server.Server, name string) *fleet.JetStream {
	t.Helper()
	return dialWith(t, fleet.Options{URLs: []string{s.ClientURL()}, Fleet: "acme", Name: name, Insecure: true, UsedTTL: time.Minute})
}

// manage connects to s as the admin host's otpknockd fleet init does,
// creating the buckets when absent.
func manage(t testing.TB, s *server.Server) *fleet.JetStream {
	t.Helper()
	return dialWith(t, fleet.Options{URLs: []string{s.ClientURL()}, Fleet: "acme", Name: "admin", Insecure: true,
		UsedTTL: time.Minute, Manage: true})
}

func dialWith(t testing.TB, o fleet.Options) *fleet.JetStream {
	t.Helper()
	js, err := fleet.Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(js.Close)
	return js
}
