package servercmd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/fleet/fleettest"
	"github.com/otpknock/otpknock/provision"
)

// fleetHarness runs otpknockd's fleet commands against an in-memory
// fleet, with a config whose fleet section names the admin key.
type fleetHarness struct {
	t                *testing.T
	store            *fleettest.Memory
	cfg, key, enroll string
	members          map[string]fleet.KeyPair
}

func (h *fleetHarness) run(args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, Env{Env: cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }, Clock: clock.System{}, Version: "test"}, Fleet: h.store})
	return out.String() + errb.String(), err
}

func (h *fleetHarness) mustRun(args ...string) string {
	h.t.Helper()
	out, err := h.run(args...)
	if err != nil {
		h.t.Fatalf("otpknockd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (h *fleetHarness) fleetArgs(args ...string) []string {
	return append([]string{"fleet", "--config", h.cfg, "--admin-key", h.key, "--enrollments", h.enroll}, args...)
}

// userArgs is otpknockd user ARGS... against the harness's fleet.
func (h *fleetHarness) userArgs(args ...string) []string {
	return append(append([]string{"user"}, args...), "--config", h.cfg, "--admin-key", h.key, "--enrollments", h.enroll)
}

func (h *fleetHarness) addMember(name, identity string) {
	kp, err := fleet.NewKeyPair()
	if err != nil {
		h.t.Fatal(err)
	}
	h.members[name] = kp
	if err := h.store.PutMember(context.Background(), fleet.MemberInfo{Name: name, Identity: identity, Public: kp.Public[:]}); err != nil {
		h.t.Fatal(err)
	}
}

func newFleetHarness(t *testing.T) *fleetHarness {
	dir := t.TempDir()
	h := &fleetHarness{t: t, store: fleettest.NewMemory(), cfg: filepath.Join(dir, "config.yaml"), key: filepath.Join(dir, "admin.key"),
		enroll: filepath.Join(dir, "enrollments"), members: map[string]fleet.KeyPair{}}
	h.mustRun("init", "--config", h.cfg, "--server-id", "admin", "--host", "vpn.example.org")
	out := h.mustRun(h.fleetArgs("admin-key")...)
	line, _, _ := strings.Cut(out[strings.Index(out, "admin_key: "):], "\n")
	f, err := os.OpenFile(h.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("fleet:\n  id: acme\n  servers: [nats://198.18.0.100:4222]\n  insecure: true\n  " + line + "\n" +
		"  cache_file: " + filepath.Join(dir, "fleet-users.json") + "\n"); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestFleetCommands: user add enrolls once for every member and prints
// one fleet URI whose key, for the name knocked, is what each member
// opens; list shows who holds whom; sync gives a later member the user;
// remove takes it from every member.
func TestFleetCommands(t *testing.T) {
	h := newFleetHarness(t)
	h.addMember("m1", "vpn.example.org")
	h.addMember("m2", "vpn.example.org")
	out := h.mustRun(h.userArgs("add", "alice", "--open", "tcp/22", "--no-qr")...)
	uri := uriRE.FindString(out)
	acct, err := provision.ParseURI(uri)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if acct.Fleet != "acme" || acct.ServerID != "" || acct.Host != "vpn.example.org" {
		t.Fatalf("account %+v: want fleet acme, no server, host vpn.example.org", acct)
	}
	key, id, err := acct.KeyFor("vpn.example.org")
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := h.store.Records(context.Background())
	for _, r := range recs {
		k, err := fleet.Open(r, h.members[r.Member], r.Member, id, mustAdminPublic(t, h.key))
		if err != nil || !bytes.Equal(k.Key, key) {
			t.Errorf("member %s opens %x, %v; want the client's key %x", r.Member, k.Key, err, key)
		}
	}
	wantList := "NAME   KNOCK     AUTH  MEMBERS  MISSING\nalice  sequence  hmac  m1,m2    -\n"
	if diff := cmp.Diff(wantList, h.mustRun(h.userArgs("list")...)); diff != "" {
		t.Errorf("user list (-want +got):\n%s", diff)
	}
	h.addMember("m3", "bastion3.example.org")
	if got := h.mustRun(h.userArgs("list")...); !strings.Contains(got, "m3") {
		t.Errorf("user list lacks the missing member m3:\n%s", got)
	}
	if got := h.mustRun(h.fleetArgs("sync")...); !strings.Contains(got, "alice: sealed for m3") {
		t.Errorf("sync:\n%s", got)
	}
	m3key, _ := derive.MemberKey(acct.Secret, "acme", "bastion3.example.org")
	recs, _ = h.store.Records(context.Background())
	found := false
	for _, r := range recs {
		if r.Member == "m3" {
			k, err := fleet.Open(r, h.members["m3"], "m3", "bastion3.example.org", mustAdminPublic(t, h.key))
			found = err == nil && bytes.Equal(k.Key, m3key)
		}
	}
	if !found {
		t.Error("m3 holds no record of alice's bastion3 key after sync")
	}
	h.mustRun(h.userArgs("remove", "alice", "--yes")...)
	wantStore := "member m1 identity vpn.example.org\nmember m2 identity vpn.example.org\nmember m3 identity bastion3.example.org\n" +
		"record alice for m1 (removed)\nrecord alice for m2 (removed)\nrecord alice for m3 (removed)"
	if diff := cmp.Diff(wantStore, h.store.String()); diff != "" {
		t.Errorf("store after remove: a tombstone for each member (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(fleet.EnrollmentPath(h.enroll, "alice")); !os.IsNotExist(err) {
		t.Errorf("enrollment secret after remove: %v, want gone", err)
	}
	if got := h.mustRun(h.userArgs("list")...); strings.Contains(got, "alice") {
		t.Errorf("user list shows the removed alice:\n%s", got)
	}
	if _, err := h.run(h.userArgs("remove", "alice", "--yes")...); cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "NAME:") {
		t.Errorf("removing alice twice: %v, want exit 2 naming NAME", err)
	}
	h.mustRun(h.userArgs("add", "alice", "--open", "tcp/22", "--no-qr")...)
	if got := h.mustRun(h.userArgs("list")...); !strings.Contains(got, "alice  sequence  hmac  m1,m2,m3  -") {
		t.Errorf("user list after alice is added again:\n%s", got)
	}
}

func mustAdminPublic(t *testing.T, path string) [32]byte {
	kp, err := fleet.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return kp.Public
}

// TestFleetCommandErrors: bad input is one line naming what is wrong,
// exit 2, and nothing is written.
func TestFleetCommandErrors(t *testing.T) {
	h := newFleetHarness(t)
	h.addMember("m1", "vpn.example.org")
	other := filepath.Join(t.TempDir(), "other.key")
	if _, _, err := fleet.LoadOrCreateKey(other); err != nil {
		t.Fatal(err)
	}
	lone := filepath.Join(t.TempDir(), "lone.yaml")
	h.mustRun("init", "--config", lone, "--server-id", "gw1")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"bad name", h.userArgs("add", "Alice"), "NAME:"},
		{"bad service", h.userArgs("add", "alice", "--open", "tcp/0"), "--open"},
		{"bad from", h.userArgs("add", "alice", "--from", "198.18.0.1/15"), "--from"},
		{"grant prefix /8", h.userArgs("add", "alice", "--grant-prefix", "8"), "--grant-prefix: v4: /8"},
		{"grant prefix ipv6 /32", h.userArgs("add", "alice", "--grant-prefix", "24,32"), "--grant-prefix: v6: /32"},
		{"grant prefix not a number", h.userArgs("add", "alice", "--grant-prefix", "24,x"), "--grant-prefix"},
		{"another admin key", []string{"user", "add", "alice", "--config", h.cfg, "--admin-key", other, "--enrollments", h.enroll}, "--admin-key"},
		{"--fleet without a fleet section", []string{"user", "list", "--fleet", "--config", lone, "--admin-key", h.key}, "no fleet section"},
		{"--fleet and --local", h.userArgs("list", "--fleet", "--local"), "--fleet and --local"},
		{"a local-only flag", h.userArgs("add", "alice", "--qr-png", filepath.Join(t.TempDir(), "a.png")), "--qr-png"},
		{"--no-reload on remove", h.userArgs("remove", "alice", "--no-reload", "--yes"), "--no-reload"},
		{"remove an unknown user", h.userArgs("remove", "bob", "--yes"), "NAME:"},
		{"fleet user is gone", h.fleetArgs("user", "list"), "user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := h.run(c.args...)
			if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v (exit %d), want one line naming %q, exit 2\n%s", err, cli.ExitCode(err), c.want, out)
			}
			if recs, _ := h.store.Records(context.Background()); len(recs) != 0 {
				t.Errorf("records written: %v", recs)
			}
			if es, _ := fleet.LoadEnrollments(h.enroll); len(es) != 0 {
				t.Errorf("enrollments written: %v", es)
			}
		})
	}
}

// TestUserScope: with a fleet section, user add and remove act on the
// fleet and leave the config alone; --local acts on the config alone.
func TestUserScope(t *testing.T) {
	h := newFleetHarness(t)
	h.addMember("m1", "vpn.example.org")
	h.mustRun(h.userArgs("add", "alice", "--no-qr")...)
	h.mustRun(h.userArgs("add", "bob", "--local", "--no-qr", "--no-reload")...)
	recs, _ := h.store.Records(context.Background())
	var inFleet []string
	for _, r := range recs {
		inFleet = append(inFleet, r.User+"@"+r.Member)
	}
	if diff := cmp.Diff([]string{"alice@m1"}, inFleet); diff != "" {
		t.Errorf("fleet records (-want +got):\n%s", diff)
	}
	cfg, err := config.Load(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var local []string
	for _, u := range cfg.Users {
		local = append(local, u.Name)
	}
	if diff := cmp.Diff([]string{"bob"}, local); diff != "" {
		t.Errorf("config users (-want +got):\n%s", diff)
	}
	if got := h.mustRun(h.userArgs("list", "--local")...); !strings.Contains(got, "bob") || strings.Contains(got, "alice") {
		t.Errorf("user list --local:\n%s", got)
	}
	if got := h.mustRun(h.userArgs("list")...); !strings.Contains(got, "alice") || strings.Contains(got, "bob") {
		t.Errorf("user list in the fleet:\n%s", got)
	}
	if _, err := h.run(h.userArgs("remove", "alice")...); cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("remove without a terminal or --yes: %v, want exit 2 naming --yes", err)
	}
	if recs, _ := h.store.Records(context.Background()); len(recs) != 1 {
		t.Errorf("records after an unconfirmed remove: %v, want alice's", recs)
	}
}

// TestFleetUserEd25519: user add --key in a fleet seals for each member
// a locator of its own (derived like an hmac member key) and the public
// key line, the same for all; the URI carries the locator's enrollment
// secret and no private key, and a client's key for a member is that
// member's locator. --generate puts the private key in the URI only.
func TestFleetUserEd25519(t *testing.T) {
	h := newFleetHarness(t)
	h.addMember("m1", "vpn.example.org")
	h.addMember("m2", "bastion2.example.org")
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	line := derive.FormatKeyLine(pub, "erin@laptop")
	out := h.mustRun(h.userArgs("add", "erin", "--key", line, "--no-qr")...)
	acct, err := provision.ParseURI(uriRE.FindString(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if acct.Auth != derive.AuthEd25519 || acct.Knock != derive.ModePacket || acct.PrivateKey != nil {
		t.Fatalf("account auth %v knock %v private key %v: want ed25519, packet, none", acct.Auth, acct.Knock, acct.PrivateKey != nil)
	}
	recs, _ := h.store.Records(context.Background())
	got := map[string]string{}
	for _, r := range recs {
		ident := map[string]string{"m1": "vpn.example.org", "m2": "bastion2.example.org"}[r.Member]
		k, err := fleet.Open(r, h.members[r.Member], r.Member, ident, mustAdminPublic(t, h.key))
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := acct.KeyFor(ident)
		if !bytes.Equal(k.Key, want) {
			t.Errorf("member %s holds %x, want the client's locator for %s %x", r.Member, k.Key, ident, want)
		}
		got[r.Member] = k.Auth + " " + k.Knock + " " + k.PublicKey
	}
	want := map[string]string{"m1": "ed25519 packet " + line, "m2": "ed25519 packet " + line}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	es, err := fleet.LoadEnrollments(h.enroll)
	if err != nil || len(es) != 1 || es[0].PublicKey != line {
		t.Errorf("enrollments %+v, %v: want erin's with her public key line, for fleet sync", es, err)
	}
	h.addMember("m3", "bastion3.example.org")
	h.mustRun(h.fleetArgs("sync")...)
	recs, _ = h.store.Records(context.Background())
	synced := false
	for _, r := range recs {
		if r.Member != "m3" {
			continue
		}
		k, err := fleet.Open(r, h.members["m3"], "m3", "bastion3.example.org", mustAdminPublic(t, h.key))
		want, _, _ := acct.KeyFor("bastion3.example.org")
		synced = err == nil && k.Auth == "ed25519" && k.PublicKey == line && bytes.Equal(k.Key, want)
	}
	if !synced {
		t.Error("fleet sync did not give m3 erin's locator for its identity and her public key")
	}
	if got := h.mustRun(h.userArgs("list")...); !strings.Contains(got, "erin  packet  ed25519  m1,m2,m3  -") {
		t.Errorf("user list does not show erin as an ed25519 packet user:\n%s", got)
	}

	out = h.mustRun(h.userArgs("add", "gen", "--auth", "ed25519", "--generate", "--no-qr")...)
	acct, err = provision.ParseURI(uriRE.FindString(out))
	if err != nil || acct.PrivateKey == nil {
		t.Fatalf("--generate: account %v, %v: want the private key in the URI\n%s", acct, err, out)
	}
	enr, _ := os.ReadFile(fleet.EnrollmentPath(h.enroll, "gen"))
	if bytes.Contains(enr, []byte(derive.EncodeSecret(acct.PrivateKey.Seed()))) {
		t.Error("the enrollment file holds the generated private key")
	}
	if _, err := h.run(h.userArgs("add", "bad", "--key", line, "--knock", "sequence")...); cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "--knock") {
		t.Errorf("--key with --knock sequence: %v, want exit 2 naming --knock", err)
	}
}

// TestAuditFile: audit prints the audit log's lines.
func TestAuditFile(t *testing.T) {
	h := newFleetHarness(t)
	log := filepath.Join(t.TempDir(), "audit.jsonl")
	lines := `{"kind":"grant","user":"alice"}` + "\n" + `{"kind":"replay","user":"alice"}` + "\n"
	if err := os.WriteFile(log, []byte(lines+`{"kind":"par`), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := h.mustRun("audit", "--file", log); got != lines {
		t.Errorf("audit printed %q, want the whole lines %q", got, lines)
	}
	if _, err := h.run("audit", "--config", h.cfg); cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "audit_log") {
		t.Errorf("audit without audit_log: %v, want exit 2 naming audit_log", err)
	}
}
