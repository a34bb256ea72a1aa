package firewall

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
)

// OnFakes is a backend over its unprivileged fakes, with what the
// contract (firewalltest.Subject) needs of them.
type OnFakes struct {
	Backend  Backend
	Clock    *clocktest.Fake
	Snapshot func() string                       // the fakes' state and their count of changes
	Flush    func()                              // a reload of the host's firewall
	Left     func() []string                     // otpknock's objects in the fakes
	Logs     func(netip.Addr, derive.Knock) bool // the filter passes a knock
}

// IPTablesOnFakes is the iptables backend over fakeTables, fakeSets and
// fakeFilterSets on one fake clock.
func IPTablesOnFakes() OnFakes {
	clk := clocktest.NewFake(time.Unix(1_800_000_000, 0))
	t4, t6, s := newFakeTables(), newFakeTables(), newFakeSets()
	s.Clock = clk
	filter := &fakeFilterSets{Clock: clk}
	changes := 0
	t4.Changed = func() { changes++ }
	t6.Changed = t4.Changed
	render := func() string {
		return "# iptables\n" + t4.String() + "\n# ip6tables\n" + t6.String() + "\n# ipset\n" + s.String()
	}
	return OnFakes{
		Backend:  newIPTables(t4, t6, s, filter),
		Clock:    clk,
		Snapshot: func() string { return fmt.Sprintf("changes %d\n%s", changes, render()) },
		Flush:    func() { t4.Flush(Table, "INPUT"); t6.Flush(Table, "INPUT") },
		Left:     func() []string { return LinesWith(render(), "otpknock") },
		Logs:     filter.passes,
	}
}

// NFTOnFake is the nftables backend over fakeNFTConn; refreshes is its
// AddRefreshes (Linux 6.12 on).
func NFTOnFake(refreshes bool) OnFakes {
	clk := clocktest.NewFake(time.Unix(1_800_000_000, 0))
	conn := &fakeNFTConn{Clock: clk, AddRefreshes: refreshes}
	sets := nftFilterSets(nftTable())
	has := func(set *nftables.Set, key []byte) bool {
		els, err := conn.GetSetElements(set)
		for _, e := range els {
			if bytes.Equal(e.Key, key) {
				return err == nil
			}
		}
		return false
	}
	return OnFakes{
		Backend:  nftOn(conn),
		Clock:    clk,
		Snapshot: conn.String,
		Flush:    func() { conn.DelTable(nftTable()); conn.Flush() },
		Left:     func() []string { return LinesWith(conn.String(), "table") },
		Logs: func(src netip.Addr, k derive.Knock) bool {
			a, srcs := src.Unmap(), sets[1]
			if a.Is6() {
				srcs = sets[2]
			}
			return has(sets[0], armedKey(protoNum(k.Proto), k.Port)) || has(srcs, a.AsSlice())
		},
	}
}

// LinesWith lists the lines of s that hold sub, ignoring case, but
// for "#" comments.
func LinesWith(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
