package clientcmd

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/publicaddr"
	"github.com/otpknock/otpknock/sender"
)

// harness runs otpknock's commands in process against a temporary
// profile store.
type harness struct {
	t         *testing.T
	dir       string
	clock     *clocktest.Fake
	env       map[string]string
	writer    sender.Writer
	prober    sender.Prober
	realClock bool
	// finder is the public-address discovery send, connect and tui get
	// (nil: none, so no test sends STUN requests); servers is what
	// --stun gave it (nil: the defaults) and finds counts the calls.
	finder  client.Finder
	servers []string
	finds   int
	// acct is the account of the profile withProfile imported.
	acct provision.Account
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	return &harness{t: t, dir: dir, clock: clocktest.NewFake(time.Unix(1_800_000_017, 0)),
		env: map[string]string{"OTPKNOCK_CLIENT_CONFIG": filepath.Join(dir, "client", "client.yaml")}}
}

func (h *harness) run(stdin string, args ...string) (stdout, stderr string, err error) {
	return h.line(stdin, args...).Parts()
}

// line runs a command line through Run on the harness's store, clock,
// sender and discovery.
func (h *harness) line(stdin string, args ...string) clitest.Result {
	entry := func(ctx context.Context, args []string, env cli.Env) error {
		return Run(ctx, args, Env{Env: env, Writer: h.writer, Prober: h.prober,
			Finder: func(servers []string, _ *publicaddr.Cache) client.Finder {
				h.servers, h.finds = servers, h.finds+1
				return h.finder
			},
		})
	}
	return clitest.Run(entry, clitest.Env(h.env, h.clock, h.realClock), stdin, args...)
}

func (h *harness) mustRun(stdin string, args ...string) string {
	h.t.Helper()
	return h.line(stdin, args...).Must(h.t)
}

func (h *harness) path(p string) string { return filepath.Join(h.dir, p) }

// fixture returns the account of testdata/NAME.uri, a URI as otpknockd
// user add wrote it (server gw1 at 198.18.0.1, tcp/22), with edit
// applied, and its URI.
func fixture(t *testing.T, name string, edit func(*provision.Account)) (provision.Account, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".uri"))
	if err != nil {
		t.Fatal(err)
	}
	acct, err := provision.ParseURI(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("testdata/%s.uri: %v", name, err)
	}
	if edit != nil {
		edit(&acct)
	}
	uri, err := acct.URI()
	if err != nil {
		t.Fatal(err)
	}
	return acct, uri
}

// at returns an edit that makes an account knock host.
func at(host string) func(*provision.Account) {
	return func(a *provision.Account) { a.Host = host }
}

// both applies edits in order.
func both(edits ...func(*provision.Account)) func(*provision.Account) {
	return func(a *provision.Account) {
		for _, e := range edits {
			e(a)
		}
	}
}

// bound makes an account source-bound.
func bound(a *provision.Account) { a.BindSource = true }

// serverSequence derives what the server expects of acct at a time,
// from src (zero unless source-bound): the derivation otpknockd runs on
// its config and the user's secret.
func serverSequence(t *testing.T, acct provision.Account, at time.Time, src netip.Addr) []string {
	t.Helper()
	ks, err := derive.Sequence(acct.Secret, acct.ServerID, acct.Params, derive.Step(at, acct.Params.Period), src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range ks {
		out = append(out, k.String())
	}
	return out
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// in runs a command line with no stdin, {dir} standing for the
// harness's directory.
func (h *harness) in(args ...string) clitest.Result {
	return h.line("", clitest.InDir(h.dir, args)...)
}

// withGW1 is a harness holding profile gw1 at 198.18.0.1.
func withGW1(t *testing.T) *harness {
	h, _ := withProfile(t, "198.18.0.1")
	return h
}
