package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

// fakeIPTables is an IPTables over fake seams.
type fakeIPTables struct {
	*IPTables
	t4, t6 *fakeTables
	s      *fakeSets
	filter *fakeFilterSets
}

func newFakeIPTables() *fakeIPTables {
	f := &fakeIPTables{t4: newFakeTables(), t6: newFakeTables(), s: newFakeSets(), filter: &fakeFilterSets{}}
	f.IPTables = newIPTables(f.t4, f.t6, f.s, f.filter)
	return f
}

// restart is a new IPTables (a new process) over the same kernel state.
func (f *fakeIPTables) restart() *fakeIPTables {
	g := *f
	g.IPTables = newIPTables(f.t4, f.t6, f.s, f.filter)
	return &g
}

func (f *fakeIPTables) String() string {
	return "# iptables\n" + f.t4.String() + "\n# ip6tables\n" + f.t6.String() + "\n# ipset\n" + f.s.String()
}

// closedErr says why a port of ports is open in t, or nil: INPUT must
// jump to the chain first, and the chain must drop each port.
func closedErr(t *fakeTables, ports []derive.Knock) error {
	return closedIn(func(c string) []string { return t.Rules(Table, c) }, ports)
}

// closedIn is closedErr on the rules of each chain.
func closedIn(rules func(chain string) []string, ports []derive.Knock) error {
	if j := jumpsTo(onlyPrefix(rules("INPUT")), Chain); len(j) == 0 || j[0] != 1 {
		return fmt.Errorf("INPUT does not jump to %s first: %q", Chain, rules("INPUT"))
	}
	for _, k := range ports {
		if !slices.ContainsFunc(rules(Chain), func(r string) bool { return drops(r, k) }) {
			return fmt.Errorf("%v is not dropped", k)
		}
	}
	return nil
}

// drops reports whether a protected-port rule drops k.
func drops(rule string, k derive.Knock) bool {
	f := strings.Fields(rule)
	i := slices.Index(f, "--dports")
	return strings.HasPrefix(rule, "-p "+k.Proto.String()+" ") && i >= 0 && strings.HasSuffix(strings.Split(rule, " -m comment")[0], "-j DROP") &&
		slices.Contains(strings.Split(f[i+1], ","), fmt.Sprint(k.Port))
}

// onlyPrefix turns a fake chain's rules into listing lines for jumpsTo.
func onlyPrefix(rules []string) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = "-A X " + r
	}
	return out
}

// watch checks after every line of every batch applied to f's tables
// (as if batches were not atomic) and after every batch that ports stay
// closed, and counts the batches.
func watch(t *testing.T, f *fakeIPTables, ports []derive.Knock) *int {
	t.Helper()
	n := new(int)
	for _, tb := range []*fakeTables{f.t4, f.t6} {
		tb.Step = func(line string, rules func(chain string) []string) {
			if err := closedIn(rules, ports); err != nil {
				t.Errorf("open after the line %q of batch %d: %v", line, *n+1, err)
			}
		}
		tb.Changed = func() {
			*n++
			if err := closedErr(tb, ports); err != nil {
				t.Errorf("open after batch %d: %v", *n, err)
			}
		}
	}
	return n
}

func TestIPTablesSetupGolden(t *testing.T) {
	f := newFakeIPTables()
	p := testPlan()
	if err := f.Setup(p); err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		src string
		svc derive.Knock
	}{{"198.18.0.2", derive.Knock{Proto: derive.TCP, Port: 22}}, {"::ffff:198.18.0.3", derive.Knock{Proto: derive.UDP, Port: 1194}}, {"2001:2::2", derive.Knock{Proto: derive.TCP, Port: 22}}} {
		if err := f.Grant(HostPrefix(netip.MustParseAddr(g.src)), g.svc, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "kernel_setup.golden", f.String())
}

// TestIPTablesSync moves between plans and checks that the ports never
// open, that the result is exactly the new plan, and that setting up
// the same plan again, in the same process or a new one, changes
// nothing.
func TestIPTablesSync(t *testing.T) {
	full := testPlan()
	more := full
	more.Protected = append(slices.Clone(full.Protected), derive.Knock{Proto: derive.TCP, Port: 8443})
	tests := []struct {
		name     string
		from, to Plan
	}{
		{"lock to full", full.Lock(), full},
		{"full to lock", full, full.Lock()},
		{"a port added", full, more},
		{"a port removed", more, full},
		{"closed to full", full, full}, // from closes first
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIPTables()
			if err := f.Setup(tt.from); err != nil {
				t.Fatal(err)
			}
			if tt.name == "closed to full" {
				f.Close(tt.from)
			}
			// The ports both plans protect stay closed throughout.
			both := slices.DeleteFunc(slices.Clone(tt.from.Protected), func(k derive.Knock) bool { return !slices.Contains(tt.to.Protected, k) })
			n := watch(t, f, both)
			if err := f.restart().Setup(tt.to); err != nil {
				t.Fatal(err)
			}
			for v6, tb := range map[bool]*fakeTables{false: f.t4, true: f.t6} {
				if diff := cmp.Diff(fakeRules(tt.to, v6, true), onlyRules(mustList(t, tb, Chain))); diff != "" {
					t.Errorf("%s rules (-want +got):\n%s", ipt(v6), diff)
				}
				if got := tb.Rules(Table, "INPUT"); len(got) != 1 {
					t.Errorf("%s INPUT: %q, want one jump", ipt(v6), got)
				}
			}
			if *n == 0 {
				t.Errorf("no change from %s to %s", tt.from.Digest(), tt.to.Digest())
			}
			before := *n
			for _, k := range []*fakeIPTables{f, f.restart()} {
				if err := k.Setup(tt.to); err != nil {
					t.Fatal(err)
				}
			}
			if *n != before {
				t.Errorf("setting up the same plan again made %d changes", *n-before)
			}
		})
	}
}

func mustList(t *testing.T, tb *fakeTables, chain string) []string {
	t.Helper()
	l, err := tb.List(Table, chain)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestIPTablesSetupFailsClosed fails the batch of either family while
// the lock is replaced by the full plan: Setup reports it, nothing of
// the failed batch applies, and the ports stay closed in both families.
func TestIPTablesSetupFailsClosed(t *testing.T) {
	full := testPlan()
	for _, v6 := range []bool{false, true} {
		t.Run(ipt(v6), func(t *testing.T) {
			f := newFakeIPTables()
			if err := f.Setup(full.Lock()); err != nil {
				t.Fatal(err)
			}
			failing := map[bool]*fakeTables{false: f.t4, true: f.t6}[v6]
			before := failing.String()
			failing.Fail = func(op, rule string) error { return errors.New("resource busy") }
			if err := f.Setup(full); err == nil || !strings.Contains(err.Error(), "resource busy") {
				t.Errorf("Setup = %v, want the failure", err)
			}
			if diff := cmp.Diff(before, failing.String()); diff != "" {
				t.Errorf("the failed batch changed %s (-before +after):\n%s", ipt(v6), diff)
			}
			for _, tb := range []*fakeTables{f.t4, f.t6} {
				if err := closedErr(tb, full.Protected); err != nil {
					t.Errorf("open after a failed batch: %v", err)
				}
			}
		})
	}
}

func TestIPTablesClose(t *testing.T) {
	f := newFakeIPTables()
	p := testPlan()
	if err := f.Setup(p); err != nil {
		t.Fatal(err)
	}
	watch(t, f, p.Protected)
	if err := f.restart().Close(p); err != nil {
		t.Fatal(err)
	}
	for v6, tb := range map[bool]*fakeTables{false: f.t4, true: f.t6} {
		if diff := cmp.Diff(fakeRules(p, v6, false), onlyRules(mustList(t, tb, Chain))); diff != "" {
			t.Errorf("%s after Close (-want +got):\n%s", ipt(v6), diff)
		}
	}
	if names, _ := f.s.Names(); len(names) != 2 {
		t.Errorf("sets after Close: %q", names)
	}
}

func TestIPTablesRemove(t *testing.T) {
	f := newFakeIPTables()
	p := testPlan()
	if err := f.Setup(p); err != nil {
		t.Fatal(err)
	}
	f.t4.Insert(Table, "INPUT", 2, "-j", Chain) // a second jump, from an older version
	empty := newFakeIPTables().String()
	for i := range 2 {
		if err := f.restart().Remove(p); err != nil {
			t.Fatalf("Remove %d: %v", i+1, err)
		}
		if diff := cmp.Diff(empty, f.String()); diff != "" {
			t.Errorf("after Remove %d (-want +got):\n%s", i+1, diff)
		}
	}
}

// TestIPTablesVerify breaks the installed firewall as reloads and
// administrators do; Verify reports it, in this process and in a new
// one, and Setup repairs it without opening the ports.
func TestIPTablesVerify(t *testing.T) {
	p := testPlan()
	// the conntrack RETURN, after the echo requests' two rules
	ret := slices.IndexFunc(p.Rules(false), func(r []string) bool { return slices.Contains(r, "RETURN") })
	rule3, at := strings.Join(p.Rules(false)[ret], " "), fmt.Sprintf("iptables: rule %d of OTPKNOCK: ", ret+1)
	tests := []struct {
		name    string
		breakIt func(*fakeIPTables)
		want    []string
	}{
		{"intact", func(*fakeIPTables) {}, nil},
		{"flushed INPUT", func(f *fakeIPTables) { f.t4.Flush(Table, "INPUT") }, []string{"iptables: jump from INPUT"}},
		{"a rule in front of the jump (kept: the administrator's)", func(f *fakeIPTables) { f.t6.Insert(Table, "INPUT", 1, "-s", "192.0.2.9", "-j", "DROP") }, nil},
		{"flushed chain", func(f *fakeIPTables) { f.t4.Flush(Table, Chain) }, []string{"iptables: rules of OTPKNOCK: 0, want 12"}},
		{"missing chain", func(f *fakeIPTables) {
			f.t4.Flush(Table, "INPUT")
			f.t4.ClearAndDeleteChain(Table, Chain)
		}, []string{"iptables: chain OTPKNOCK"}},
		{"missing set", func(f *fakeIPTables) { f.s.Destroy(Set6) }, []string{"ip6tables: set otpknock6"}},
		{"changed rule", func(f *fakeIPTables) {
			f.t4.Replace(Table, Chain, ret+1, strings.Fields(strings.Replace(rule3, "RETURN", "ACCEPT", 1))...)
		}, []string{at + strings.Replace("-A OTPKNOCK "+rule3, "RETURN", "ACCEPT", 1)}},
	}
	for _, tt := range tests {
		for _, fresh := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/new process %v", tt.name, fresh), func(t *testing.T) {
				f := newFakeIPTables()
				if err := f.Setup(p); err != nil {
					t.Fatal(err)
				}
				tt.breakIt(f)
				k := f
				if fresh {
					k = f.restart()
				}
				got, err := k.Verify(p)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.want
				if fresh && tt.name == "changed rule" {
					want = []string{at + rule3}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Verify (-want +got):\n%s", diff)
				}
				if tt.name != "missing chain" && tt.name != "flushed INPUT" && tt.name != "flushed chain" {
					watch(t, f, p.Protected)
				}
				if err := k.Setup(p); err != nil {
					t.Fatal(err)
				}
				if got, err := k.Verify(p); err != nil || got != nil {
					t.Errorf("Verify after the repair = %q, %v", got, err)
				}
				if got, err := k.restart().Verify(p); err != nil || got != nil {
					t.Errorf("Verify of a new process after the repair = %q, %v", got, err)
				}
			})
		}
	}
}

func TestIPTablesGrantErrors(t *testing.T) {
	f := newFakeIPTables()
	svc := derive.Knock{Proto: derive.TCP, Port: 22}
	if err := f.Grant(HostPrefix(netip.MustParseAddr("198.18.0.2")), svc, time.Second); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("grant before setup: %v, want os.ErrNotExist", err)
	}
}

// onlyRules keeps the "-A" lines of a listing.
func onlyRules(all []string) []string {
	var out []string
	for _, r := range all {
		if strings.HasPrefix(r, "-A ") {
			out = append(out, r)
		}
	}
	return out
}

// TestFakeRestoreAllOrNothing checks the fake's batches: a line that
// fails (like iptables-restore's) leaves the table as it was.
func TestFakeRestoreAllOrNothing(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		err   string
	}{
		{"jump to a missing chain", []string{":A - [0:0]", "-A A -j DROP", "-I INPUT 1 -j B"}, `couldn't load target "B"`},
		{"deleting past the end", []string{":A - [0:0]", "-D A 1"}, "index of deletion too big"},
		{"deleting a chain jumped to", []string{":A - [0:0]", "-A INPUT -j A", "-X A"}, "resource busy"},
		{"a rule in a missing chain", []string{"-A B -j DROP"}, "no chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newFakeTables()
			before := tb.String()
			if err := tb.Restore(Table, tt.lines); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Restore = %v, want %q", err, tt.err)
			}
			if diff := cmp.Diff(before, tb.String()); diff != "" {
				t.Errorf("a failed batch changed the table (-before +after):\n%s", diff)
			}
		})
	}
}

// fakeRules lists p's rules as iptables -S shows them, without the
// NFLOG rules unless nflog.
func fakeRules(p Plan, v6, nflog bool) []string {
	var out []string
	for _, r := range p.Rules(v6) {
		if nflog || !IsNFLOG(r) {
			out = append(out, "-A "+Chain+" "+strings.Join(r, " "))
		}
	}
	return out
}
