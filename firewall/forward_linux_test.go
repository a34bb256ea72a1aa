package firewall

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

func forwardPlan() Plan {
	p := testPlan()
	p.Forward = []derive.Knock{{Proto: derive.TCP, Port: 2222}}
	return p
}

// TestIPTablesForward installs a plan with a forwarded service with and
// without Docker's DOCKER-USER chain: the state (golden), a grant in the
// forward set, Verify of each piece, and a plan without it removing it.
func TestIPTablesForward(t *testing.T) {
	for _, docker := range []bool{true, false} {
		name := map[bool]string{true: "DOCKER-USER", false: "FORWARD"}[docker]
		t.Run(name, func(t *testing.T) {
			f := newFakeIPTables()
			if docker {
				for _, tb := range []*fakeTables{f.t4, f.t6} {
					tb.NewChain(Table, dockerUser)
					tb.Insert(Table, dockerUser, 1, "-j", "RETURN")
					tb.Insert(Table, "FORWARD", 1, "-j", dockerUser)
				}
			}
			p := forwardPlan()
			if err := f.Setup(p); err != nil {
				t.Fatal(err)
			}
			ssh := derive.Knock{Proto: derive.TCP, Port: 22}
			for _, g := range []struct {
				src string
				svc derive.Knock
			}{{"198.18.0.2", p.Forward[0]}, {"2001:2::2", p.Forward[0]}, {"198.18.0.3", ssh}} {
				if err := f.Grant(HostPrefix(netip.MustParseAddr(g.src)), g.svc, 30*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			golden(t, "kernel_forward_"+strings.ToLower(strings.ReplaceAll(name, "-", "_"))+".golden", f.String())
			st, err := f.Status(p)
			if err != nil {
				t.Fatal(err)
			}
			for v6, rules := range map[bool][]string{false: st.Forward4, true: st.Forward6} {
				if want := p.ForwardRules(v6); len(rules) != len(want) || !strings.HasPrefix(rules[0], "-A "+ForwardChain+" ") {
					t.Errorf("Status: forward rules (IPv6 %v) %q, want the %d of %s", v6, rules, len(want), ForwardChain)
				}
			}
			if got, err := f.restart().Verify(p); err != nil || got != nil {
				t.Fatalf("Verify of the installed plan = %q, %v", got, err)
			}
			from := map[bool]string{true: dockerUser, false: "FORWARD"}[docker]
			breaks := []struct {
				name    string
				breakIt func()
				want    []string
			}{
				{"jump", func() { f.t4.Flush(Table, from) }, []string{"iptables: jump from " + from}},
				{"set", func() { f.s.Destroy("otpknock6-tcp-2222") }, []string{"ip6tables: set otpknock6-tcp-2222"}},
				{"rules", func() { f.t6.Flush(Table, ForwardChain) }, []string{"ip6tables: rules of OTPKNOCK-FWD: 0, want 4"}},
			}
			for _, b := range breaks {
				b.breakIt()
				got, err := f.Verify(p)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(b.want, got); diff != "" {
					t.Errorf("%s: Verify (-want +got):\n%s", b.name, diff)
				}
				if err := f.Setup(p); err != nil {
					t.Fatal(err)
				}
				if got, err := f.Verify(p); err != nil || got != nil {
					t.Errorf("%s: Verify after Setup = %q, %v", b.name, got, err)
				}
			}
			if !docker { // Docker starts: the jump moves to DOCKER-USER
				f.t4.NewChain(Table, dockerUser)
				f.t4.Insert(Table, "FORWARD", 1, "-j", dockerUser)
				if got, _ := f.Verify(p); !cmp.Equal(got, []string{"iptables: jump from DOCKER-USER"}) {
					t.Errorf("Verify after Docker started = %q", got)
				}
				if err := f.Setup(p); err != nil {
					t.Fatal(err)
				}
				if got := f.t4.Rules(Table, "FORWARD"); !cmp.Equal(got, []string{"-j DOCKER-USER"}) {
					t.Errorf("FORWARD after Docker started: %q", got)
				}
				if got, err := f.Verify(p); err != nil || got != nil {
					t.Errorf("Verify after the move = %q, %v", got, err)
				}
			}
			if err := f.Setup(testPlan()); err != nil {
				t.Fatal(err)
			}
			if s := f.String(); strings.Contains(s, ForwardChain) || strings.Contains(s, "-tcp-2222") {
				t.Errorf("a plan without Forward left the forward path:\n%s", s)
			}
			if err := f.Setup(p); err != nil {
				t.Fatal(err)
			}
			if err := f.restart().Remove(p); err != nil {
				t.Fatal(err)
			}
			if s := f.String(); strings.Contains(strings.ToLower(s), "otpknock") {
				t.Errorf("left after Remove:\n%s", s)
			}
		})
	}
}

// TestIPTablesForwardPrefix installs a plan with a forwarded service
// and Prefixes: the hash:net forward sets beside the address sets and
// their accepts (golden), prefix grants in both families' prefix and
// forward prefix sets, Verify of a missing prefix set and its repair,
// and a plan without Prefixes deleting the prefix sets, after which a
// prefix grant fails and leaves no entry.
func TestIPTablesForwardPrefix(t *testing.T) {
	f := newFakeIPTables()
	p := forwardPlan()
	p.Prefixes = true
	if err := f.Setup(p); err != nil {
		t.Fatal(err)
	}
	svc := p.Forward[0]
	for _, src := range []string{"198.18.0.0/24", "2001:2::/64", "198.18.5.2/32"} {
		if err := f.Grant(netip.MustParsePrefix(src), svc, 30*time.Second); err != nil {
			t.Fatalf("Grant(%s, %v): %v", src, svc, err)
		}
	}
	golden(t, "kernel_forward_prefix.golden", f.String())
	for v6, want := range map[bool]string{false: ForwardNetSet(false, svc), true: ForwardNetSet(true, svc)} {
		rule := "-m set --match-set " + want + " src -j ACCEPT"
		if n := strings.Count(strings.Join(map[bool]*fakeTables{false: f.t4, true: f.t6}[v6].Rules(Table, ForwardChain), "\n"), rule); n != 1 {
			t.Errorf("IPv6 %v: %d forward rules with %q, want 1", v6, n, rule)
		}
	}
	if got, err := f.restart().Verify(p); err != nil || got != nil {
		t.Fatalf("Verify of the installed plan = %q, %v", got, err)
	}
	f.s.Destroy(ForwardNetSet(true, svc))
	f.s.Destroy(Net4)
	if got, _ := f.Verify(p); !cmp.Equal(got, []string{"iptables: set " + Net4, "ip6tables: set " + ForwardNetSet(true, svc)}) {
		t.Errorf("Verify after two prefix sets went: %q", got)
	}
	if err := f.Setup(p); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Verify(p); err != nil || got != nil {
		t.Errorf("Verify after the repair = %q, %v", got, err)
	}
	plain := forwardPlan()
	if err := f.Setup(plain); err != nil {
		t.Fatal(err)
	}
	if left := LinesWith(f.String(), "otpknocknet"); len(left) > 0 {
		t.Errorf("a plan without Prefixes left prefix sets or rules:\n%s", strings.Join(left, "\n"))
	}
	if err := f.Grant(netip.MustParsePrefix("198.18.0.0/24"), svc, 30*time.Second); err == nil {
		t.Errorf("a prefix grant without Plan.Prefixes succeeded")
	}
	if got, err := f.Verify(plain); err != nil || got != nil {
		t.Errorf("Verify without Prefixes = %q, %v", got, err)
	}
}

// TestIPTablesForwardGrantFails: when the forward set refuses an entry,
// Grant fails and takes back the entry it had just added to the
// family's set (address or prefix): a failed grant opens nothing.
func TestIPTablesForwardGrantFails(t *testing.T) {
	for _, src := range []string{"198.18.0.2/32", "198.18.0.0/24", "2001:2::/64"} {
		t.Run(src, func(t *testing.T) {
			f := newFakeIPTables()
			p := forwardPlan()
			p.Prefixes = true
			if err := f.Setup(p); err != nil {
				t.Fatal(err)
			}
			before := f.s.String()
			refused := errors.New("refused")
			f.s.Fail = func(op, name string) error {
				if op == "add" && strings.Contains(name, "-tcp-2222") {
					return refused
				}
				return nil
			}
			if err := f.Grant(netip.MustParsePrefix(src), p.Forward[0], 30*time.Second); !errors.Is(err, refused) {
				t.Fatalf("Grant = %v, want the forward set's error", err)
			}
			if diff := cmp.Diff(before, f.s.String()); diff != "" {
				t.Errorf("sets after the failed grant (-before +after):\n%s", diff)
			}
		})
	}
}
