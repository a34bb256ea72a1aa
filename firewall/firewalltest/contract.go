package firewalltest

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
)

// Subject is one backend under the contract, with what the contract
// needs of the kernel below it. Only Backend, Wait, Src4 and Src6 are
// required; a check that needs a missing hook is left out.
type Subject struct {
	Backend firewall.Backend
	// Do runs fn where the backend's kernel is (a server namespace);
	// nil runs it directly.
	Do func(fn func())
	// Wait lets d pass on the kernel's clock: a fake clock's Advance, or
	// a sleep.
	Wait func(d time.Duration)
	// Src4 and Src6 are the clients' addresses, one per family.
	Src4, Src6 netip.Addr
	// Snapshot renders the kernel's state so that any rewrite shows
	// (transaction counts, rule handles).
	Snapshot func(t *testing.T) string
	// Flush undoes the firewall the way a reload of the host's does
	// (iptables -F INPUT, nft flush ruleset).
	Flush func(t *testing.T)
	// Left lists what of otpknock's the kernel still holds: chains,
	// tables, sets.
	Left func(t *testing.T) []string
	// Reaches reports whether a TCP connection from src to svc is
	// accepted now (a real kernel, a listener on each protected port).
	Reaches func(t *testing.T, src netip.Addr, svc derive.Knock) bool
	// Hold opens a TCP connection from src to svc and returns a check
	// that it still carries data (a real kernel).
	Hold func(t *testing.T, src netip.Addr, svc derive.Knock) (alive func() bool)
	// Logs reports whether a knock from src to k is logged now (with
	// Plan.Filter, for a Backend that is a firewall.Filter).
	Logs func(t *testing.T, src netip.Addr, k derive.Knock) bool
	// Pings reports whether an echo request from src with sequence
	// number seq is answered now (a real kernel answering pings).
	Pings func(t *testing.T, src netip.Addr, seq uint16) bool
	// DataPlane says the kernel runs the rules: a packet to an armed
	// element tracks its source.
	DataPlane bool
	// Prefix4 and Prefix6 are prefixes around Src4 and Src6 for the
	// prefix grant case (left out when Prefix4 is zero); Near4 and
	// Near6 are other addresses of them, Far4 and Far6 addresses
	// outside, all the client's (for Reaches).
	Prefix4, Prefix6         netip.Prefix
	Near4, Near6, Far4, Far6 netip.Addr
}

// grantTime is the contract's grant timeout: whole seconds, short
// enough to wait out on a real kernel.
const grantTime = 3 * time.Second

// Contract runs the behaviour every Backend owes the daemon and the
// commands, one subtest each, on a fresh Subject from newSubject:
// Setup twice changes nothing; a grant opens one service to one source
// and a repeat refreshes it; Close fails closed; Remove leaves nothing;
// Verify finds a flushed firewall and Setup heals it; Status lists the
// rules and grants; a Filter's Arm and Track decide what is logged;
// only echo requests in the knock range are knocks (Plan.DropEcho drops
// the others too); a prefix grant opens the prefix, of a forwarded
// service too.
func Contract(t *testing.T, newSubject func(t *testing.T) *Subject) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, *Subject)
	}{
		{"setup twice", setupTwice},
		{"grant and refresh", grantRefresh},
		{"close fails closed", closeFailsClosed},
		{"a changed plan keeps the grants", changedPlan},
		{"remove leaves nothing", removeLeavesNothing},
		{"verify heals a flush", verifyHeals},
		{"arm and track", armTrack},
		{"echo requests", echoRequests},
		{"prefix grants", prefixGrants},
		{"prefix grants to a forwarded service", forwardPrefixGrants},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, newSubject(t)) })
	}
}

// do runs fn in the subject's kernel and fails the test on its error.
func (s *Subject) do(t *testing.T, what string, fn func() error) {
	t.Helper()
	var err error
	if s.Do == nil {
		err = fn()
	} else {
		s.Do(func() { err = fn() })
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// status reads the backend's Status of p in its kernel.
func (s *Subject) status(t *testing.T, p firewall.Plan) firewall.Status {
	t.Helper()
	var st firewall.Status
	s.do(t, "Status", func() (err error) { st, err = s.Backend.Status(p); return err })
	return st
}

// verify runs the backend's Verify of p in its kernel.
func (s *Subject) verify(t *testing.T, p firewall.Plan) []string {
	t.Helper()
	var missing []string
	s.do(t, "Verify", func() (err error) { missing, err = s.Backend.Verify(p); return err })
	return missing
}

// contractPlan is Plan with the contract's grant timeout.
func contractPlan() firewall.Plan {
	p := Plan()
	p.Timeout = grantTime
	return p
}

// setupTwice: a second Setup of the same plan changes nothing, and
// Verify and Status find the plan installed and logging.
func setupTwice(t *testing.T, s *Subject) {
	p := contractPlan()
	b := s.Backend
	s.do(t, "Setup", func() error { return b.Setup(p) })
	before, snap := s.status(t, p), ""
	if s.Snapshot != nil {
		snap = s.Snapshot(t)
	}
	s.do(t, "second Setup", func() error { return b.Setup(p) })
	if diff := cmp.Diff(before, s.status(t, p)); diff != "" {
		t.Errorf("Status after a second Setup (-first +second):\n%s", diff)
	}
	if s.Snapshot != nil {
		if again := s.Snapshot(t); again != snap {
			t.Errorf("a second Setup changed the kernel:\n%s\nbefore:\n%s", again, snap)
		}
	}
	if missing := s.verify(t, p); len(missing) > 0 {
		t.Errorf("Verify after Setup: %q", missing)
	}
	text := b.Kind().StatusText(before, p)
	if !before.Installed || len(before.Rules4) == 0 || !strings.Contains(text, ", current; knock logging on.") {
		t.Errorf("Status after Setup: installed %v, %d rules:\n%s", before.Installed, len(before.Rules4), text)
	}
}

// grantRefresh: a grant opens one service to one source of each
// family, a repeat keeps one grant and refreshes its timeout, the
// others expire on time, and a session outlives its grant.
func grantRefresh(t *testing.T, s *Subject) {
	p := contractPlan()
	b := s.Backend
	svc, other := p.Protected[0], p.Protected[1]
	s.do(t, "Setup", func() error { return b.Setup(p) })
	if s.Reaches != nil && s.Reaches(t, s.Src4, svc) {
		t.Fatalf("%v reaches %v before a grant", s.Src4, svc)
	}
	for _, src := range []netip.Addr{s.Src4, s.Src6, s.Src4} {
		s.do(t, "Grant", func() error { return b.Grant(firewall.HostPrefix(src), svc, grantTime) })
	}
	if s.Reaches != nil {
		for _, src := range []netip.Addr{s.Src4, s.Src6} {
			if !s.Reaches(t, src, svc) {
				t.Errorf("%v does not reach %v after its grant", src, svc)
			}
			if s.Reaches(t, src, other) {
				t.Errorf("%v reaches %v with a grant for %v", src, other, svc)
			}
		}
	}
	checkGrants(t, "after three grants", s.status(t, p), []string{s.Src4.String() + " " + svc.String(), s.Src6.String() + " " + svc.String()})
	var alive func() bool
	if s.Hold != nil {
		alive = s.Hold(t, s.Src6, svc)
	}
	s.Wait(2 * time.Second)
	s.do(t, "refresh", func() error { return b.Grant(firewall.HostPrefix(s.Src4), svc, grantTime) })
	s.Wait(2 * time.Second) // past the first grants' timeout
	checkGrants(t, "after the other expired", s.status(t, p), []string{s.Src4.String() + " " + svc.String()})
	if s.Reaches != nil && s.Reaches(t, s.Src6, svc) {
		t.Errorf("%v reaches %v after its grant expired", s.Src6, svc)
	}
	if alive != nil && !alive() {
		t.Errorf("a session established under a grant ended with the grant")
	}
}

// changedPlan: Setup after Close, of a changed plan and back keeps the
// live grants, and the protected ports closed to everyone else.
func changedPlan(t *testing.T, s *Subject) {
	p := contractPlan()
	b := s.Backend
	svc := p.Protected[1]
	s.do(t, "Setup", func() error { return b.Setup(p) })
	s.do(t, "Grant", func() error { return b.Grant(firewall.HostPrefix(s.Src4), svc, 30*time.Second) })
	s.do(t, "Close", func() error { return b.Close(p) })
	changed := p
	changed.Protocols = derive.Protocols(derive.TCP)
	changed.PortMin++
	for _, q := range []firewall.Plan{p, changed, p} {
		s.do(t, "Setup", func() error { return b.Setup(q) })
		if missing := s.verify(t, q); len(missing) > 0 {
			t.Errorf("Verify after Setup of a changed plan: %q", missing)
		}
		if st := s.status(t, q); len(st.Grants) != 1 || st.Grants[0].Src.Unmap() != s.Src4 || st.Grants[0].Svc != svc {
			t.Errorf("grants after Setup of a changed plan: %+v, want %v to %v", st.Grants, s.Src4, svc)
		}
		if s.Reaches != nil && (!s.Reaches(t, s.Src4, svc) || s.Reaches(t, s.Src4, p.Protected[0])) {
			t.Errorf("after Setup of a changed plan: the grant lost, or another service open")
		}
	}
}

// prefixGrants: a plan with Prefixes takes a grant of a prefix, which
// opens the service to another address of the prefix and not to one
// outside, and a repeat refreshes it; without Prefixes the grant of a
// prefix fails.
func prefixGrants(t *testing.T, s *Subject) {
	if !s.Prefix4.IsValid() {
		t.Skip("the subject names no prefixes")
	}
	p := contractPlan()
	b := s.Backend
	svc, other := p.Protected[0], p.Protected[1]
	s.do(t, "Setup", func() error { return b.Setup(p) })
	var err error
	run := func(fn func()) {
		if s.Do == nil {
			fn()
		} else {
			s.Do(fn)
		}
	}
	run(func() { err = b.Grant(s.Prefix4, svc, grantTime) })
	if err == nil {
		t.Errorf("Grant(%v) without Plan.Prefixes succeeded, want an error", s.Prefix4)
	}
	p.Prefixes = true
	s.do(t, "Setup with Prefixes", func() error { return b.Setup(p) })
	if missing := s.verify(t, p); len(missing) > 0 {
		t.Errorf("Verify after Setup with Prefixes: %q", missing)
	}
	for _, pfx := range []netip.Prefix{s.Prefix4, s.Prefix6} {
		s.do(t, "Grant", func() error { return b.Grant(pfx, svc, grantTime) })
	}
	s.do(t, "Grant", func() error { return b.Grant(firewall.HostPrefix(s.Src4), other, grantTime) })
	checkGrants(t, "after prefix grants", s.status(t, p), []string{
		s.Prefix4.Masked().String() + " " + svc.String(), s.Prefix6.Masked().String() + " " + svc.String(),
		s.Src4.String() + " " + other.String()})
	if s.Reaches == nil {
		return
	}
	for _, src := range []netip.Addr{s.Src4, s.Near4, s.Src6, s.Near6} {
		if !s.Reaches(t, src, svc) {
			t.Errorf("%v does not reach %v after a grant of its prefix", src, svc)
		}
	}
	for _, src := range []netip.Addr{s.Far4, s.Far6} {
		if s.Reaches(t, src, svc) {
			t.Errorf("%v, outside the granted prefixes, reaches %v", src, svc)
		}
	}
	if s.Reaches(t, s.Near4, other) {
		t.Errorf("%v reaches %v, granted to %v alone", s.Near4, other, s.Src4)
	}
	if !s.Reaches(t, s.Src4, other) {
		t.Errorf("%v does not reach %v after its address grant", s.Src4, other)
	}
	s.Wait(2 * time.Second)
	s.do(t, "refresh", func() error { return b.Grant(s.Prefix6, svc, grantTime) })
	s.Wait(2 * time.Second) // past the first grants' timeout
	if !s.Reaches(t, s.Near6, svc) {
		t.Errorf("%v does not reach %v after its prefix's grant was refreshed", s.Near6, svc)
	}
	if s.Reaches(t, s.Near4, svc) {
		t.Errorf("%v reaches %v after its prefix's grant expired", s.Near4, svc)
	}
}

// forwardPrefixGrants: a plan with Prefixes that forwards a service
// (Plan.Forward: DNATed to a container) takes prefix and address grants
// of it in both families, which open the prefix and no more; Verify
// finds it whole before and after; once the plan drops Prefixes, a
// prefix grant of the service fails and opens nothing; Remove leaves
// nothing, the forward path's objects included.
func forwardPrefixGrants(t *testing.T, s *Subject) {
	if !s.Prefix4.IsValid() {
		t.Skip("the subject names no prefixes")
	}
	p := contractPlan()
	p.Prefixes = true
	b := s.Backend
	svc := p.Protected[1]
	p.Forward = []derive.Knock{svc}
	s.do(t, "Setup", func() error { return b.Setup(p) })
	if missing := s.verify(t, p); len(missing) > 0 {
		t.Errorf("Verify after Setup with Forward and Prefixes: %q", missing)
	}
	for _, src := range []netip.Prefix{s.Prefix4, s.Prefix6, firewall.HostPrefix(s.Src4)} {
		s.do(t, "Grant "+src.String(), func() error { return b.Grant(src, svc, grantTime) })
	}
	checkGrants(t, "after grants of a forwarded service", s.status(t, p), []string{
		s.Prefix4.Masked().String() + " " + svc.String(), s.Prefix6.Masked().String() + " " + svc.String(),
		s.Src4.String() + " " + svc.String()})
	if s.Reaches != nil {
		for _, src := range []netip.Addr{s.Near4, s.Near6} {
			if !s.Reaches(t, src, svc) {
				t.Errorf("%v does not reach forwarded %v after a grant of its prefix", src, svc)
			}
		}
		for _, src := range []netip.Addr{s.Far4, s.Far6} {
			if s.Reaches(t, src, svc) {
				t.Errorf("%v, outside the granted prefixes, reaches forwarded %v", src, svc)
			}
		}
	}
	if missing := s.verify(t, p); len(missing) > 0 {
		t.Errorf("Verify after the grants: %q", missing)
	}
	plain := p
	plain.Prefixes = false
	s.do(t, "Setup without Prefixes", func() error { return b.Setup(plain) })
	if missing := s.verify(t, plain); len(missing) > 0 {
		t.Errorf("Verify after Setup without Prefixes: %q", missing)
	}
	var err error
	if s.Do == nil {
		err = b.Grant(s.Prefix4, svc, grantTime)
	} else {
		s.Do(func() { err = b.Grant(s.Prefix4, svc, grantTime) })
	}
	if err == nil {
		t.Errorf("Grant(%v) of forwarded %v without Plan.Prefixes succeeded, want an error", s.Prefix4, svc)
	}
	if s.Reaches != nil && s.Reaches(t, s.Near4, svc) {
		t.Errorf("%v reaches forwarded %v after its prefix's grant failed", s.Near4, svc)
	}
	s.do(t, "Remove", func() error { return b.Remove(p) })
	if s.Left != nil {
		if left := s.Left(t); len(left) > 0 {
			t.Errorf("left after Remove:\n%s", strings.Join(left, "\n"))
		}
	}
}

// checkGrants compares st's grants ("src svc", sorted) with want; each
// has time left within the grant timeout.
func checkGrants(t *testing.T, when string, st firewall.Status, want []string) {
	t.Helper()
	var got []string
	for _, g := range st.Grants {
		got = append(got, g.Source()+" "+g.Svc.String())
		if g.Left <= 0 || g.Left > grantTime {
			t.Errorf("%s: grant %v %v has %v left, want (0, %v]", when, g.Src, g.Svc, g.Left, grantTime)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: Status grants (-want +got):\n%s", when, diff)
	}
}

// closeFailsClosed: Close removes the logging rules only: the
// protected ports stay closed to all but live grants.
func closeFailsClosed(t *testing.T, s *Subject) {
	p := contractPlan()
	b := s.Backend
	s.do(t, "Setup", func() error { return b.Setup(p) })
	s.do(t, "Grant", func() error { return b.Grant(firewall.HostPrefix(s.Src4), p.Protected[0], grantTime) })
	running := s.status(t, p)
	s.do(t, "Close", func() error { return b.Close(p) })
	st := s.status(t, p)
	text := b.Kind().StatusText(st, p)
	if !st.Installed || !strings.Contains(text, "knock logging off") {
		t.Errorf("after Close, want the rules installed, logging off:\n%s", text)
	}
	if len(st.Rules4) == 0 || len(st.Rules4) >= len(running.Rules4) {
		t.Errorf("Close kept %d of %d rules, want the logging ones gone and the rest kept", len(st.Rules4), len(running.Rules4))
	}
	for _, r := range st.Rules4 {
		if !slices.Contains(running.Rules4, r) {
			t.Errorf("after Close, a rule that was not installed: %s", r)
		}
	}
	checkGrants(t, "after Close", st, []string{s.Src4.String() + " " + p.Protected[0].String()})
	if s.Reaches != nil {
		if s.Reaches(t, s.Src6, p.Protected[0]) || s.Reaches(t, s.Src4, p.Protected[1]) {
			t.Errorf("after Close, a protected port is open to a source without a grant")
		}
		if !s.Reaches(t, s.Src4, p.Protected[0]) {
			t.Errorf("after Close, a live grant no longer reaches its service")
		}
	}
	s.do(t, "Setup after Close", func() error { return b.Setup(p) })
	if missing := s.verify(t, p); len(missing) > 0 {
		t.Errorf("Verify after Close and Setup: %q", missing)
	}
}

// removeLeavesNothing: Remove deletes every object of otpknock's,
// the pre-filter's too, and runs again on a clean kernel.
func removeLeavesNothing(t *testing.T, s *Subject) {
	p := contractPlan()
	p.Filter, p.Track = true, time.Second
	b := s.Backend
	s.do(t, "Setup", func() error { return b.Setup(p) })
	s.do(t, "Grant", func() error { return b.Grant(firewall.HostPrefix(s.Src6), p.Protected[0], grantTime) })
	s.do(t, "Remove", func() error { return b.Remove(p) })
	st := s.status(t, p)
	if st.Installed || len(st.Rules4)+len(st.Rules6)+len(st.Grants) > 0 {
		t.Errorf("Status after Remove: %+v", st)
	}
	if missing := s.verify(t, p); len(missing) == 0 {
		t.Errorf("Verify after Remove reports nothing missing")
	}
	if s.Left != nil {
		if left := s.Left(t); len(left) > 0 {
			t.Errorf("left after Remove:\n%s", strings.Join(left, "\n"))
		}
	}
	if s.Reaches != nil && !s.Reaches(t, s.Src4, p.Protected[0]) {
		t.Errorf("control: %v does not reach %v after Remove", s.Src4, p.Protected[0])
	}
	s.do(t, "Remove again", func() error { return b.Remove(p) })
}

// verifyHeals: Verify reports a firewall a reload flushed, and Setup
// closes the ports again.
func verifyHeals(t *testing.T, s *Subject) {
	if s.Flush == nil {
		t.Skip("no Flush for this subject")
	}
	p := contractPlan()
	b := s.Backend
	s.do(t, "Setup", func() error { return b.Setup(p) })
	s.Flush(t)
	if s.Reaches != nil && !s.Reaches(t, s.Src4, p.Protected[1]) {
		t.Errorf("control: %v does not reach %v after the flush", s.Src4, p.Protected[1])
	}
	if missing := s.verify(t, p); len(missing) == 0 {
		t.Fatalf("Verify after a flush reports nothing missing")
	}
	s.do(t, "Setup", func() error { return b.Setup(p) })
	if missing := s.verify(t, p); len(missing) > 0 {
		t.Errorf("Verify after the repair: %q", missing)
	}
	if s.Reaches != nil && s.Reaches(t, s.Src4, p.Protected[0]) {
		t.Errorf("after the repair %v reaches %v without a grant", s.Src4, p.Protected[0])
	}
	s.do(t, "Grant", func() error { return b.Grant(firewall.HostPrefix(s.Src4), p.Protected[0], grantTime) })
	if s.Reaches != nil && !s.Reaches(t, s.Src4, p.Protected[0]) {
		t.Errorf("after the repair a grant does not reach its service")
	}
}

// armTrack: with Plan.Filter, a knock is logged when its element is
// armed or its source tracked, until their TTLs run out; a window of
// 3,000 elements arms whole.
func armTrack(t *testing.T, s *Subject) {
	f, ok := s.Backend.(firewall.Filter)
	if !ok || s.Logs == nil {
		t.Skip("no Filter or no Logs for this subject")
	}
	p := contractPlan()
	p.Filter, p.Track = true, time.Second
	s.do(t, "Setup", func() error { return s.Backend.Setup(p) })
	tcp := func(port uint16) derive.Knock { return derive.Knock{Proto: derive.TCP, Port: port} }
	udp := func(port uint16) derive.Knock { return derive.Knock{Proto: derive.UDP, Port: port} }
	logs := func(when string, src netip.Addr, k derive.Knock, want bool) {
		t.Helper()
		if got := s.Logs(t, src, k); got != want {
			t.Errorf("%s: a knock from %v to %v logged %v, want %v", when, src, k, got, want)
		}
	}
	logs("nothing armed", s.Src4, tcp(30000), false)
	s.do(t, "Arm", func() error {
		return f.Arm([]firewall.Element{{Knock: tcp(30000), TTL: 3 * time.Second}, {Knock: udp(30001), TTL: 3 * time.Second}})
	})
	logs("a stray", s.Src6, tcp(30002), false)
	for _, src := range []netip.Addr{s.Src4, s.Src6} {
		logs("armed", src, tcp(30000), true)
		logs("armed", src, udp(30001), true)
	}
	if s.DataPlane {
		// Src6 hit an armed element last, right before.
		logs("a stray after an armed element (tracked by the kernel)", s.Src6, udp(30003), true)
		s.Wait(1500 * time.Millisecond) // the plan's Track
		logs("a stray after the kernel's tracking expired", s.Src6, udp(30003), false)
	}
	s.do(t, "Track", func() error {
		return f.Track([]firewall.Source{{Addr: s.Src4, TTL: 2 * time.Second}, {Addr: s.Src6, TTL: 2 * time.Second}})
	})
	logs("a stray from a tracked source", s.Src6, tcp(30002), true)
	logs("a stray from a tracked source", s.Src4, udp(30003), true)
	s.Wait(3500 * time.Millisecond)
	for _, k := range []derive.Knock{tcp(30000), udp(30001), tcp(30002)} {
		logs("elements and sources expired", s.Src6, k, false)
	}
	many := make([]firewall.Element, 0, 3000)
	for port := uint16(40000); port < 43000; port++ {
		many = append(many, firewall.Element{Knock: tcp(port), TTL: 5 * time.Second})
	}
	s.do(t, "Arm 3,000 elements", func() error { return f.Arm(many) })
	logs("beyond a batch", s.Src6, tcp(43000), false)
	logs("the first of a batch", s.Src4, tcp(40000), true)
	logs("the last of a batch", s.Src4, tcp(42999), true)
}

// echoRequests: with icmp a knock protocol, an echo request whose
// sequence number lies outside the knock range is the host's (answered
// here, where the host allows pings) and never logged, even from a
// tracked source; one inside the range is a knock candidate, dropped
// unanswered; with Plan.DropEcho every echo request is dropped.
func echoRequests(t *testing.T, s *Subject) {
	if s.Pings == nil && s.Logs == nil {
		t.Skip("no Pings and no Logs for this subject")
	}
	p := contractPlan()
	_, p.Filter = s.Backend.(firewall.Filter)
	p.Track = 3 * time.Second
	s.do(t, "Setup", func() error { return s.Backend.Setup(p) })
	plain, inRange := uint16(7), p.PortMin+7
	pings := func(when string, src netip.Addr, seq uint16, want bool) {
		t.Helper()
		if s.Pings == nil {
			return
		}
		if got := s.Pings(t, src, seq); got != want {
			t.Errorf("%s: an echo request from %v with sequence %d answered %v, want %v", when, src, seq, got, want)
		}
	}
	for _, src := range []netip.Addr{s.Src4, s.Src6} {
		pings("outside the knock range", src, plain, true)
		pings("outside the knock range", src, p.PortMax+1, true)
		pings("inside the knock range, unarmed", src, inRange, false)
	}
	if f, ok := s.Backend.(firewall.Filter); ok && s.Logs != nil {
		s.do(t, "Track", func() error {
			return f.Track([]firewall.Source{{Addr: s.Src4, TTL: 3 * time.Second}, {Addr: s.Src6, TTL: 3 * time.Second}})
		})
		for _, src := range []netip.Addr{s.Src4, s.Src6} {
			if s.Logs(t, src, derive.Knock{Proto: derive.ICMP, Port: plain}) {
				t.Errorf("an echo request from tracked %v with sequence %d (outside the range) was logged", src, plain)
			}
			if !s.Logs(t, src, derive.Knock{Proto: derive.ICMP, Port: inRange}) {
				t.Errorf("an echo request from tracked %v with sequence %d (a stray in the range) was not logged", src, inRange)
			}
		}
	}
	p.DropEcho = true
	s.do(t, "Setup with DropEcho", func() error { return s.Backend.Setup(p) })
	for _, src := range []netip.Addr{s.Src4, s.Src6} {
		pings("with DropEcho", src, plain, false)
		pings("with DropEcho", src, inRange, false)
	}
	s.do(t, "Remove", func() error { return s.Backend.Remove(p) })
	pings("control: after Remove", s.Src4, inRange, true)
}
