package daemon

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/fleet"
)

// TestAuditLog: a lone server with audit_log writes one JSON line per
// grant and refusal, mode 0600, with who, credential, step, member,
// source, services and why.
func TestAuditLog(t *testing.T) {
	cfg, secret := setupConfig(t)
	cfg.AuditLog = filepath.Join(t.TempDir(), "log", "audit.jsonl")
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
	r := start(t, cfg, c, &firewalltest.Fake{Clock: c})
	seq, _ := derive.Sequence(secret, "gw1", cfg.Params, 60000000, netip.Addr{})
	r.knock(t, netip.MustParseAddr("198.18.0.2"), seq)
	r.knock(t, netip.MustParseAddr("198.18.0.3"), seq)
	r.stop(t)
	b, err := os.ReadFile(cfg.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	var got []fleet.Event
	for line := range strings.Lines(string(b)) {
		var e fleet.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		e.Time = time.Time{}
		got = append(got, e)
	}
	want := []fleet.Event{
		{Kind: "grant", Member: "gw1", User: "alice", Credential: "sequence", Step: 60000000, Source: "198.18.0.2", Services: []string{"tcp/22", "udp/1194"}},
		{Kind: "replay", Member: "gw1", User: "alice", Credential: "sequence", Step: 60000000, Source: "198.18.0.3", Services: []string{"tcp/22", "udp/1194"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
	if st, _ := os.Stat(cfg.AuditLog); st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %04o, want 0600", st.Mode().Perm())
	}
}
