package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The fleet acme's users bucket, as the guide's permissions name it.
const (
	usersBucket = "otpknock_users_61636d65"
	usersStream = "KV_" + usersBucket
)

func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

// memberPermissions: connected as m1's NATS user (its password and
// client certificate, from the admin host's namespace), the guide's
// permissions let it read the users bucket and write its own
// registration back, and NATS refuses, with a permissions violation
// naming the subject, a put, a delete and a purge of u0's record for m2,
// a write of m2's registration, and a purge, a change or a removal of
// the bucket; u0's record is then as it was. fleet init fails as m1.
func (w *poolWorld) memberPermissions(pki *testPKI) func(*testing.T) {
	return func(t *testing.T) {
		violations := make(chan error, 16)
		var nc *nats.Conn
		w.p.Do(t, w.lb, func() {
			var err error
			nc, err = nats.Connect("tls://"+natsAddr(0)+":4222", nats.RootCAs(filepath.Join(pki.dir, "ca.pem")),
				nats.ClientCert(filepath.Join(pki.dir, "m1.pem"), filepath.Join(pki.dir, "m1.key")), nats.UserInfo("m1", tlsPassword),
				nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
					select {
					case violations <- err:
					default:
					}
				}))
			if err != nil {
				t.Fatal(err)
			}
		})
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := js.KeyValue(t.Context(), usersBucket)
		if err != nil {
			t.Fatalf("m1's NATS user cannot bind the users bucket: %v", err)
		}
		record := "r." + hexOf("u0") + "." + hexOf("m2")
		before, err := kv.Get(t.Context(), record)
		if err != nil {
			t.Fatalf("m1's NATS user cannot read u0's record for m2: %v", err)
		}
		own, err := kv.Get(t.Context(), "m."+hexOf("m1"))
		if err != nil {
			t.Fatalf("m1's NATS user cannot read its registration: %v", err)
		}
		if _, err := kv.Put(t.Context(), own.Key(), own.Value()); err != nil {
			t.Errorf("m1's NATS user cannot write its own registration: %v", err)
		}
		other, err := kv.Get(t.Context(), "m."+hexOf("m2"))
		if err != nil {
			t.Fatalf("m1's NATS user cannot read m2's registration: %v", err)
		}
		for _, c := range []struct {
			name, subject string
			do            func(context.Context) error
		}{
			{"put of u0's record", "$KV." + usersBucket + "." + record, func(ctx context.Context) error {
				_, err := kv.Put(ctx, record, []byte(`{"user":"u0","member":"m2"}`))
				return err
			}},
			{"delete of u0's record", "$KV." + usersBucket + "." + record, func(ctx context.Context) error { return kv.Delete(ctx, record) }},
			{"purge of u0's record", "$KV." + usersBucket + "." + record, func(ctx context.Context) error { return kv.Purge(ctx, record) }},
			{"write of m2's registration", "$KV." + usersBucket + "." + other.Key(), func(ctx context.Context) error {
				_, err := kv.Put(ctx, other.Key(), own.Value())
				return err
			}},
			{"purge of the bucket", "$JS.API.STREAM.PURGE." + usersStream, func(ctx context.Context) error {
				s, err := js.Stream(ctx, usersStream)
				if err != nil {
					return err
				}
				return s.Purge(ctx)
			}},
			{"change of the bucket", "$JS.API.STREAM.UPDATE." + usersStream, func(ctx context.Context) error {
				s, err := js.Stream(ctx, usersStream)
				if err != nil {
					return err
				}
				cfg := s.CachedInfo().Config
				cfg.MaxAge = time.Minute // every record gone in a minute
				_, err = js.UpdateStream(ctx, cfg)
				return err
			}},
			{"removal of the bucket", "$JS.API.STREAM.DELETE." + usersStream, func(ctx context.Context) error {
				return js.DeleteKeyValue(ctx, usersBucket)
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				for len(violations) > 0 {
					<-violations
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				err := c.do(ctx)
				want := fmt.Sprintf("Permissions Violation for Publish to %q", c.subject)
				select {
				case v := <-violations:
					if !errors.Is(v, nats.ErrPermissionViolation) || !strings.Contains(v.Error(), want) {
						t.Errorf("NATS said %v, want %s", v, want)
					}
				case <-time.After(time.Second):
					t.Errorf("no permissions violation from NATS (the call: %v), want %s", err, want)
				}
				if err == nil {
					t.Error("the call succeeded, want it to fail")
				}
			})
		}
		after, err := kv.Get(t.Context(), record)
		if err != nil || after.Revision() != before.Revision() || !bytes.Equal(after.Value(), before.Value()) {
			t.Errorf("u0's record for m2 after m1's attempts: %v, revision %d, want revision %d unchanged", err, revision(after), before.Revision())
		}
		if reg, err := kv.Get(t.Context(), other.Key()); err != nil || !bytes.Equal(reg.Value(), other.Value()) {
			t.Errorf("m2's registration after m1's attempt: %v, changed", err)
		}
		t.Run("fleet init", w.memberCannotInit)
	}
}

// memberCannotInit: otpknockd fleet init with m1's config (its NATS
// user) fails, saying what NATS refused.
func (w *poolWorld) memberCannotInit(t *testing.T) {
	cmd := w.p.Cmd(w.lb, bins.Server, "fleet", "init", "--config", w.cfgs[0])
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := runWithin(cmd, 20*time.Second)
	if want := `NATS refused this user: nats: permissions violation: Permissions Violation for Publish to "$JS.API.INFO"`; err == nil ||
		!strings.Contains(out.String(), want) {
		t.Errorf("fleet init as m1: %v\n%s\nwant a failure saying %s", err, out.String(), want)
	}
}

func revision(e jetstream.KeyValueEntry) uint64 {
	if e == nil {
		return 0
	}
	return e.Revision()
}

// removeOverTLS: user remove, as admin, reaches every member over TLS
// within 2 s, and user list then lists u1 alone.
func (w *poolWorld) removeOverTLS(t *testing.T) {
	const applied = `msg="fleet: users applied" users=1`
	var before []int
	for i := range w.members {
		before = append(before, strings.Count(w.logs[i].String(), applied))
	}
	w.admin("user", "remove", "u0", "--yes")
	end := time.Now().Add(2 * time.Second)
	for i := range w.members {
		for strings.Count(w.logs[i].String(), applied) == before[i] {
			if time.Now().After(end) {
				t.Fatalf("m%d did not drop u0 within 2 s:\n%s", i+1, w.logs[i])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	out := w.admin("user", "list")
	if regexp.MustCompile(`(?m)^u0\s`).MatchString(out) || !regexp.MustCompile(`(?m)^u1\s`).MatchString(out) {
		t.Errorf("user list after user remove u0: want u1 alone:\n%s", out)
	}
}
