package fleet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream is the [Store] on a NATS JetStream cluster: a key-value
// bucket of users and members, one of used steps (create-if-absent, with
// the bucket's expiry), and plain subjects for grants and audit events.
type JetStream struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	opts  Options
	scope string // hex of the fleet id: bucket and subject names

	// bind guards the buckets, bound on first use: a one-slot semaphore,
	// so that a caller gives up waiting for another's binding when its
	// context ends (a knock's used-step check must not wait behind a
	// start's 2 s attempt while NATS is unreachable).
	bind  chan struct{}
	users jetstream.KeyValue
	used  jetstream.KeyValue

	// denied is the last permissions violation NATS reported: a
	// request it refuses gets no answer, only this asynchronous error.
	denied atomic.Pointer[violation]
}

// violation is a permissions violation and when it was reported.
type violation struct {
	err error
	at  time.Time
}

// Dial connects to the fleet's NATS servers. It returns at once when
// they are down: the connection keeps retrying in the background, and
// calls fail until it succeeds ([JetStream.Connected]); with o.Once it
// fails instead, naming TLS when the handshake failed and the
// credentials when the servers refused them.
func Dial(o Options) (*JetStream, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	opts := []nats.Option{nats.Name(o.Name), nats.RetryOnFailedConnect(!o.Once), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.Timeout(2 * time.Second),
		// A pool grant is written on the knock's path (WriteGrant): a
		// server that stops reading fails the write after 2 s, not the
		// library's default minute.
		nats.FlusherTimeout(2 * time.Second)}
	s := &JetStream{opts: o, scope: hex.EncodeToString([]byte(o.Fleet)), bind: make(chan struct{}, 1)}
	opts = append(opts, o.connReport()...)
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			s.denied.Store(&violation{err, time.Now()})
		}
	}))
	if o.CredsFile != "" {
		opt, err := credentials(o.CredsFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil && tlsFailure(err) {
		return nil, fmt.Errorf("fleet: connecting to %s over TLS (check fleet.tls_ca, tls_cert and tls_key): %w", strings.Join(o.URLs, ","), err)
	}
	if errors.Is(err, nats.ErrAuthorization) {
		return nil, fmt.Errorf("fleet: connecting to %s: NATS refuses the credentials (check fleet.credentials, or user and password_file): %w", strings.Join(o.URLs, ","), err)
	}
	if err != nil {
		return nil, fmt.Errorf("fleet: connecting to %s: %w", strings.Join(o.URLs, ","), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if s.opts.Replicas == 0 {
		s.opts.Replicas = 1
	}
	if s.opts.UsedTTL == 0 {
		s.opts.UsedTTL = DefaultUsedTTL
	}
	s.nc, s.js = nc, js
	return s, nil
}

// credentials is the option of a credentials file: a .creds file (a
// user JWT and its nkey seed, for servers in operator mode), or an nkey
// seed alone (a server's authorization user given by its nkey).
func credentials(path string) (nats.Option, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fleet.credentials: %w", err)
	}
	defer clear(b)
	if bytes.Contains(b, []byte("BEGIN NATS USER JWT")) {
		return nats.UserCredentials(path), nil
	}
	opt, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		return nil, fmt.Errorf("fleet.credentials: %s is neither a .creds file (a user JWT and its seed) nor a user's nkey seed: %w", path, err)
	}
	return opt, nil
}

// why adds to err the permissions violation NATS reported since a
// call began, if any: a request it refuses ends in a timeout that does
// not say why.
func (s *JetStream) why(err error, since time.Time) error {
	if d := s.denied.Load(); err != nil && d != nil && !d.at.Before(since) {
		return fmt.Errorf("%w (NATS refused this user: %v)", err, d.err)
	}
	return err
}

// Close closes the connection.
func (s *JetStream) Close() { s.nc.Close() }

// Connected reports whether the connection is up.
func (s *JetStream) Connected() bool { return s.nc.IsConnected() }

// ErrNoBuckets is returned, wrapped, by a [JetStream] without
// [Options.Manage] while the fleet's buckets do not exist.
var ErrNoBuckets = errors.New("the fleet's buckets do not exist yet: create them from the admin host with otpknockd fleet init")

// Buckets binds the fleet's two buckets (with [Options.Manage], creating
// them when absent and setting their replicas and expiry) and returns
// their names.
func (s *JetStream) Buckets(ctx context.Context) ([]string, error) {
	if _, _, err := s.buckets(ctx); err != nil {
		return nil, err
	}
	return []string{s.usersBucket(), s.usedBucket()}, nil
}

func (s *JetStream) usersBucket() string { return "otpknock_users_" + s.scope }

func (s *JetStream) usedBucket() string { return "otpknock_used_" + s.scope }

// buckets binds the two buckets, once: see [JetStream.Buckets].
func (s *JetStream) buckets(ctx context.Context) (users, used jetstream.KeyValue, err error) {
	select {
	case s.bind <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("fleet: buckets: %w", ctx.Err())
	}
	defer func() { <-s.bind }()
	if s.users == nil {
		s.users, err = s.bucket(ctx, jetstream.KeyValueConfig{Bucket: s.usersBucket(), History: 1, Replicas: s.opts.Replicas,
			Description: "otpknock fleet " + s.opts.Fleet + ": sealed user records and members"})
		if err != nil {
			return nil, nil, fmt.Errorf("fleet: users bucket: %w", err)
		}
	}
	if s.used == nil {
		s.used, err = s.bucket(ctx, jetstream.KeyValueConfig{Bucket: s.usedBucket(), History: 1, Replicas: s.opts.Replicas,
			TTL: s.opts.UsedTTL, Description: "otpknock fleet " + s.opts.Fleet + ": used steps"})
		if err != nil {
			return nil, nil, fmt.Errorf("fleet: used bucket: %w", err)
		}
	}
	return s.users, s.used, nil
}

// bucket creates or updates the bucket of c with [Options.Manage], else
// binds it: a member's NATS user may read the stream's info but not
// create or change the stream.
func (s *JetStream) bucket(ctx context.Context, c jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	start := time.Now()
	if s.opts.Manage {
		kv, err := s.js.CreateOrUpdateKeyValue(ctx, c)
		return kv, s.why(err, start)
	}
	kv, err := s.js.KeyValue(ctx, c.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("%s: %w", c.Bucket, ErrNoBuckets)
	}
	return kv, s.why(err, start)
}

func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

func recordKey(user, member string) string { return "r." + hexOf(user) + "." + hexOf(member) }

// PutRecord stores r under its user and member.
func (s *JetStream) PutRecord(ctx context.Context, r Record) error {
	return s.put(ctx, recordKey(r.User, r.Member), r)
}

// PutMember registers m.
func (s *JetStream) PutMember(ctx context.Context, m MemberInfo) error {
	return s.put(ctx, "m."+hexOf(m.Name), m)
}

func (s *JetStream) put(ctx context.Context, key string, v any) error {
	users, _, err := s.buckets(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := users.Put(ctx, key, b); err != nil {
		return fmt.Errorf("fleet: storing %s: %w", key, s.why(err, start))
	}
	return nil
}

// DeleteUser removes every record of user.
func (s *JetStream) DeleteUser(ctx context.Context, user string) error {
	users, _, err := s.buckets(ctx)
	if err != nil {
		return err
	}
	keys, err := s.keys(ctx, users, "r."+hexOf(user)+".*")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := users.Purge(ctx, k); err != nil {
			return fmt.Errorf("fleet: removing %s: %w", user, err)
		}
	}
	return nil
}

func (s *JetStream) keys(ctx context.Context, kv jetstream.KeyValue, filter string) ([]string, error) {
	l, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("fleet: listing %s: %w", filter, err)
	}
	var out []string
	for k := range l.Keys() {
		out = append(out, k)
	}
	return out, nil
}

// Records returns every record.
func (s *JetStream) Records(ctx context.Context) ([]Record, error) {
	var out []Record
	return out, s.list(ctx, "r.>", func(b []byte) error {
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
}

// Members lists the registered members.
func (s *JetStream) Members(ctx context.Context) ([]MemberInfo, error) {
	var out []MemberInfo
	return out, s.list(ctx, "m.>", func(b []byte) error {
		var m MemberInfo
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
}

func (s *JetStream) list(ctx context.Context, filter string, add func([]byte) error) error {
	users, _, err := s.buckets(ctx)
	if err != nil {
		return err
	}
	keys, err := s.keys(ctx, users, filter)
	if err != nil {
		return err
	}
	for _, k := range keys {
		e, err := users.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("fleet: reading %s: %w", k, err)
		}
		if err := add(e.Value()); err != nil {
			return fmt.Errorf("fleet: %s: %w", k, err)
		}
	}
	return nil
}

// WatchRecords calls changed after each change to the records.
func (s *JetStream) WatchRecords(ctx context.Context, changed func()) error {
	users, _, err := s.buckets(ctx)
	if err != nil {
		return err
	}
	w, err := users.Watch(ctx, "r.>", jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("fleet: watching users: %w", err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					changed()
				}
			}
		}
	}()
	return nil
}

// UseStep creates the key of (identity, user, step) if absent.
func (s *JetStream) UseStep(ctx context.Context, identity, user string, step uint64) error {
	_, used, err := s.buckets(ctx)
	if err != nil {
		return err
	}
	key := hexOf(identity) + "." + hexOf(user) + "." + strconv.FormatUint(step, 10)
	_, err = used.Create(ctx, key, []byte(s.opts.Name))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrUsed
	}
	if err != nil {
		return fmt.Errorf("fleet: using step %d of %s: %w", step, user, err)
	}
	return nil
}

func (s *JetStream) grantSubject(identity string) string {
	return "otpknock." + s.scope + ".grant." + hexOf(identity)
}

func (s *JetStream) auditSubject() string { return "otpknock." + s.scope + ".audit" }

// PublishGrant publishes g on its identity's subject and flushes, so
// it has left when PublishGrant returns.
func (s *JetStream) PublishGrant(ctx context.Context, g Grant) error {
	return s.publish(ctx, s.grantSubject(g.Identity), g)
}

// PublishEvent publishes e on the fleet's audit subject.
func (s *JetStream) PublishEvent(ctx context.Context, e Event) error {
	return s.publish(ctx, s.auditSubject(), e)
}

func (s *JetStream) publish(ctx context.Context, subject string, v any) error {
	if err := s.queue(subject, v); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("fleet: publishing on %s: %w", subject, err)
	}
	return nil
}

// WriteGrant publishes g on its identity's subject and writes it to the
// connection before it returns, without waiting for the server
// (Confirm does): the grant leaves from the caller's goroutine, not
// from the connection's writer goroutine once it is scheduled. While
// the connection reconnects it waits in the connection's buffer.
func (s *JetStream) WriteGrant(g Grant) error {
	subject := s.grantSubject(g.Identity)
	if err := s.queue(subject, g); err != nil {
		return err
	}
	// A flush writes the buffer from the calling goroutine, then waits
	// for the server's answer; under a context already ended it does
	// not wait, and its error is the context's.
	done, cancel := context.WithDeadline(context.Background(), time.Time{})
	cancel()
	_ = s.nc.FlushWithContext(done)
	return nil
}

// Confirm returns once the server has received what was written before
// it (a round trip).
func (s *JetStream) Confirm(ctx context.Context) error {
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("fleet: flushing: %w", err)
	}
	return nil
}

// queue publishes v on subject into the connection's buffer.
func (s *JetStream) queue(subject string, v any) error {
	if !s.nc.IsConnected() {
		return fmt.Errorf("fleet: publishing on %s: %w", subject, nats.ErrConnectionClosed)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.nc.Publish(subject, b); err != nil {
		return fmt.Errorf("fleet: publishing on %s: %w", subject, err)
	}
	return nil
}

// SubscribeGrants calls fn with each grant published for identity.
func (s *JetStream) SubscribeGrants(ctx context.Context, identity string, fn func(Grant)) error {
	return subscribe(ctx, s.nc, s.grantSubject(identity), fn)
}

// SubscribeEvents calls fn with each audit event.
func (s *JetStream) SubscribeEvents(ctx context.Context, fn func(Event)) error {
	return subscribe(ctx, s.nc, s.auditSubject(), fn)
}

// subscribe decodes each message of subject as a T for fn (malformed
// ones are dropped) until ctx ends. The subscription survives
// reconnections.
func subscribe[T any](ctx context.Context, nc *nats.Conn, subject string, fn func(T)) error {
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		var v T
		if json.Unmarshal(m.Data, &v) == nil {
			fn(v)
		}
	})
	if err != nil {
		return fmt.Errorf("fleet: subscribing to %s: %w", subject, err)
	}
	// The server knows the subscription once a flush returns: what is
	// published after subscribe returns reaches it.
	if err := nc.FlushTimeout(2 * time.Second); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("fleet: subscribing to %s: %w", subject, err)
	}
	context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
	return nil
}

var _ Store = (*JetStream)(nil)

var _ wireStore = (*JetStream)(nil)
