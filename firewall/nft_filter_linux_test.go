package firewall

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"golang.org/x/sys/unix"
)

func filterPlan() Plan {
	p := testPlan()
	p.Filter, p.Track = true, 10*time.Second
	return p
}

var _ Filter = (*NFT)(nil)

// TestNFTFilterSetup installs a filtering plan on an empty ruleset and
// compares it with testdata/nft_filter_setup.golden (the plan without
// the filter is nft_setup.golden); a second Setup sends nothing, and
// switching the filter off and on again replaces the rules and drops
// and recreates the filter's sets, each in one transaction.
func TestNFTFilterSetup(t *testing.T) {
	n, f, _ := newFakeNFT()
	p := filterPlan()
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	golden(t, "nft_filter_setup.golden", f.String())
	mustNoDiff(t, n, p)
	if err := n.Setup(p); err != nil || f.Transactions() != 1 {
		t.Fatalf("second Setup: %v, %d transactions, want 1", err, f.Transactions())
	}
	if p.NFTDigest() == testPlan().NFTDigest() {
		t.Error("the digest ignores the filter")
	}
	off := p
	off.Filter = false
	if d, _ := n.Verify(off); !strings.Contains(strings.Join(d, "\n"), "set armed is not planned") {
		t.Errorf("Verify of the plan without the filter: %q, want the filter's sets named", d)
	}
	if err := n.Setup(off); err != nil {
		t.Fatal(err)
	}
	mustNoDiff(t, n, off)
	if s := f.String(); strings.Contains(s, "@armed") || strings.Contains(s, "set src4") {
		t.Errorf("filter rules or sets left without the filter:\n%s", s)
	}
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	mustNoDiff(t, n, p)
	if got := f.Transactions(); got != 3 {
		t.Errorf("%d transactions, want 3", got)
	}
}

// TestNFTFilterArmTrack arms elements and tracks sources on the fake,
// once as kernels before 6.12 behave (an add keeps an existing
// element's timeout: Arm adds, deletes and adds again) and once as
// later ones do (Arm adds once): each call is one transaction, an ICMP
// element is armed under icmp and ipv6-icmp, TTLs round up to whole
// seconds, re-arming sets the TTL anew (longer or shorter), mapped
// addresses track as IPv4, and everything expires on the clock.
func TestNFTFilterArmTrack(t *testing.T) {
	tcp, udp := derive.Knock{Proto: derive.TCP, Port: 30000}, derive.Knock{Proto: derive.UDP, Port: 30001}
	icmp := derive.Knock{Proto: derive.ICMP, Port: 31000}
	a4, a6 := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:2::2")
	for _, refreshes := range []bool{false, true} {
		t.Run(fmt.Sprintf("add refreshes=%v", refreshes), func(t *testing.T) {
			clk := clocktest.NewFake(time.Unix(1_000_000, 0))
			f := &fakeNFTConn{Clock: clk, AddRefreshes: refreshes}
			n := nftOn(f)
			if err := n.Setup(filterPlan()); err != nil {
				t.Fatal(err)
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(n.Arm([]Element{{tcp, 10 * time.Second}, {udp, 2500 * time.Millisecond}, {icmp, 20 * time.Second}}))
			must(n.Track([]Source{{netip.MustParseAddr("::ffff:198.18.0.2"), 5 * time.Second}, {a6, 15 * time.Second}}))
			must(n.Arm(nil))
			must(n.Track(nil))
			if got := f.Transactions(); got != 3 {
				t.Errorf("%d transactions, want 3 (setup, one arm, one track; none for nothing)", got)
			}
			want := []string{"icmp . 31000 expires 20s", "tcp . 30000 expires 10s", "udp . 30001 expires 3s",
				"ipv6-icmp . 31000 expires 20s", "198.18.0.2 expires 5s", "2001:2::2 expires 15s"}
			checkElements(t, "armed and tracked", f, want)
			clk.Advance(4 * time.Second)
			must(n.Arm([]Element{{tcp, 30 * time.Second}, {icmp, time.Second}}))
			must(n.Track([]Source{{a4, 8 * time.Second}, {a6, time.Second}}))
			checkElements(t, "re-armed, one expired", f, []string{"icmp . 31000 expires 1s", "tcp . 30000 expires 30s",
				"ipv6-icmp . 31000 expires 1s", "198.18.0.2 expires 8s", "2001:2::2 expires 1s"})
			clk.Advance(9 * time.Second)
			checkElements(t, "expired", f, []string{"tcp . 30000 expires 21s"})
		})
	}
}

// checkElements compares the live elements of the filter's sets, as the
// fake renders them, with want.
func checkElements(t *testing.T, name string, f *fakeNFTConn, want []string) {
	t.Helper()
	var got []string
	in := false
	for _, l := range strings.Split(f.String(), "\n") {
		switch {
		case strings.HasPrefix(l, "\tset ") || strings.HasPrefix(l, "\tchain "):
			in = strings.HasPrefix(l, "\tset armed") || strings.HasPrefix(l, "\tset src")
		case in && strings.HasPrefix(l, "\t\t"):
			got = append(got, strings.TrimSpace(l))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: elements (-want +got):\n%s", name, diff)
	}
}

// TestNFTFilterVerify breaks the filter's part of the table; Verify
// names each breakage and one Setup heals it, keeping armed elements.
func TestNFTFilterVerify(t *testing.T) {
	tbl := nftTable()
	input := &nftables.Chain{Name: NFTInput, Table: tbl}
	tests := []struct {
		name  string
		brk   func(f *fakeNFTConn)
		wants string
	}{
		{"source set deleted", func(f *fakeNFTConn) {
			f.FlushChain(input)
			f.DelSet(&nftables.Set{Table: tbl, Name: NFTSrc6})
		}, "set src6 is missing"},
		{"armed set retyped", func(f *fakeNFTConn) {
			f.FlushChain(input)
			f.DelSet(&nftables.Set{Table: tbl, Name: NFTArmed})
			f.AddSet(&nftables.Set{Table: tbl, Name: NFTArmed, KeyType: nftables.TypeInetService, HasTimeout: true}, nil)
		}, `set armed is "set armed { type inet_service; flags timeout; }"`},
		{"update rule deleted", func(f *fakeNFTConn) {
			rules, _ := f.GetRules(tbl, input)
			f.DelRule(rules[3])
		}, "chain input: rule 4 is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, f, _ := newFakeNFT()
			p := filterPlan()
			if err := n.Setup(p); err != nil {
				t.Fatal(err)
			}
			if err := n.Arm([]Element{{derive.Knock{Proto: derive.TCP, Port: 30000}, time.Minute}}); err != nil {
				t.Fatal(err)
			}
			tt.brk(f)
			if err := f.Flush(); err != nil {
				t.Fatal(err)
			}
			d, err := n.Verify(p)
			if err != nil || !strings.Contains(strings.Join(d, "\n"), tt.wants) {
				t.Fatalf("Verify = %v, %q; want a line with %q", err, d, tt.wants)
			}
			if err := n.Setup(p); err != nil {
				t.Fatal(err)
			}
			mustNoDiff(t, n, p)
			if tt.name != "armed set retyped" && !strings.Contains(f.String(), "tcp . 30000 expires") {
				t.Errorf("healing lost the armed element:\n%s", f)
			}
		})
	}
}

// TestNFTFilterClose: Close deletes the log rules and the rules that
// track sources, keeps the drops and the armed elements; Verify names
// the missing rules and Setup restores them.
func TestNFTFilterClose(t *testing.T) {
	n, f, _ := newFakeNFT()
	p := filterPlan()
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	if err := n.Arm([]Element{{derive.Knock{Proto: derive.UDP, Port: 30001}, time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(p); err != nil {
		t.Fatal(err)
	}
	s := f.String()
	if strings.Contains(s, "log group") || strings.Contains(s, "update @") || strings.Count(s, " drop ") != 7 ||
		!strings.Contains(s, "udp . 30001 expires 60s") {
		t.Errorf("after Close, want no log or update rule, the 7 drops and the armed element:\n%s", s)
	}
	if d, err := n.Verify(p); err != nil || !strings.Contains(strings.Join(d, "\n"), "update @src4 { ip saddr timeout 10s }") {
		t.Errorf("Verify after Close: %v %q", err, d)
	}
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	mustNoDiff(t, n, p)
}

// TestNFTFilterFull fills a source set to MaxTracked: tracking one
// more source fails as the kernel does (ENFILE), with its context, and
// changes nothing; once sources expire there is room again.
func TestNFTFilterFull(t *testing.T) {
	n, f, clk := newFakeNFT()
	if err := n.Setup(filterPlan()); err != nil {
		t.Fatal(err)
	}
	srcs := make([]Source, MaxTracked)
	for i := range srcs {
		srcs[i] = Source{netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 5 * time.Second} // a fake's set: no packet is sent
	}
	if err := n.Track(srcs); err != nil {
		t.Fatal(err)
	}
	extra := []Source{{netip.MustParseAddr("10.200.0.1"), 5 * time.Second}}
	err := n.Track(extra)
	if !errors.Is(err, unix.ENFILE) || !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "tracking 1 sources in sets src4 and src6") {
		t.Errorf("Track into a full set = %v, want ENFILE and ErrFull with context", err)
	}
	if strings.Contains(f.String(), "10.200.0.1") {
		t.Error("a failed Track changed the set")
	}
	clk.Advance(6 * time.Second)
	if err := n.Track(extra); err != nil {
		t.Errorf("Track after the set emptied: %v", err)
	}
}

// TestNFTFilterBytes checks the exact netlink messages of the filter's
// install transaction and of Arm and Track through google/nftables
// (testdata/nft_filter_*.bytes.golden), and that nftBulk encodes each
// element message with exactly the bytes google/nftables does.
func TestNFTFilterBytes(t *testing.T) {
	p := filterPlan()
	golden(t, "nft_filter_install.bytes.golden", record(t, func(c *nftables.Conn) error {
		if err := queueInstall(c, nftState{}, p); err != nil {
			return err
		}
		return c.Flush()
	}))
	arm := []Element{{derive.Knock{Proto: derive.TCP, Port: 30000}, 10 * time.Second},
		{derive.Knock{Proto: derive.ICMP, Port: 31000}, 1500 * time.Millisecond}}
	track := []Source{{netip.MustParseAddr("198.18.0.2"), 5 * time.Second}, {netip.MustParseAddr("2001:2::2"), 5 * time.Second}}
	golden(t, "nft_filter_arm.bytes.golden", record(t, func(c *nftables.Conn) error {
		n := newNFTOn(c, false)
		return errors.Join(n.Arm(arm), n.Track(track))
	}))

	sets := nftFilterSets(nftTable())
	var els4, els6, armed []nftables.SetElement
	for i := range 1500 {
		els4 = append(els4, nftables.SetElement{Key: []byte{198, 18, byte(i >> 8), byte(i)}, Timeout: time.Duration(i) * time.Second})
		els6 = append(els6, nftables.SetElement{Key: netip.MustParseAddr(fmt.Sprintf("2001:2::%x", i)).AsSlice()})
		armed = append(armed, nftables.SetElement{Key: armedKey(unix.IPPROTO_UDP, uint16(i)), Timeout: time.Hour})
	}
	for _, tc := range []struct {
		name string
		set  *nftables.Set
		els  []nftables.SetElement
	}{{"armed", sets[0], armed}, {"src4", sets[1], els4}, {"src6 without timeouts", sets[2], els6}} {
		t.Run(tc.name, func(t *testing.T) {
			want := record(t, func(c *nftables.Conn) error {
				return errors.Join(c.SetAddElements(tc.set, tc.els[:nftChunk]), c.SetDeleteElements(tc.set, tc.els[nftChunk:]), c.Flush())
			})
			var b nftBulk
			b.SetAddElements(tc.set, tc.els[:nftChunk])
			b.SetDeleteElements(tc.set, tc.els[nftChunk:])
			out := appendNFNLMsg(b.out, unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, b.next(), 0, unix.NFNL_SUBSYS_NFTABLES, nil)
			if diff := cmp.Diff(want, renderBatch(t, out)); diff != "" {
				t.Errorf("nftBulk's messages (-google/nftables +nftBulk):\n%s", diff)
			}
		})
	}
}

// renderBatch renders the messages of a batch as the test dial does.
func renderBatch(t *testing.T, out []byte) string {
	t.Helper()
	var b strings.Builder
	for len(out) >= unix.NLMSG_HDRLEN {
		var m netlink.Message
		n := int(binary.NativeEndian.Uint32(out))
		if err := m.UnmarshalBinary(out[:n]); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "type=%#x flags=%#x\n%x\n", uint16(m.Header.Type), uint16(m.Header.Flags), m.Data)
		out = out[n:]
	}
	return b.String()
}

// TestNFTBulkExpiration: an element with an expiration (set from Linux
// 6.12, so that adding it again sets its expiry anew) carries it after
// its timeout, and one without carries none.
func TestNFTBulkExpiration(t *testing.T) {
	set := nftFilterSets(nftTable())[0]
	el := nftables.SetElement{Key: armedKey(unix.IPPROTO_TCP, 30000), Timeout: 30 * time.Second}
	plain := appendSetElemMsg(nil, unix.NFT_MSG_NEWSETELEM, 1, set, []nftables.SetElement{el})
	el.Expires = el.Timeout
	with := appendSetElemMsg(nil, unix.NFT_MSG_NEWSETELEM, 1, set, []nftables.SetElement{el})
	timeout := attr(nil, unix.NFTA_SET_ELEM_TIMEOUT, binary.BigEndian.AppendUint64(nil, 30000))
	expiration := attr(nil, unix.NFTA_SET_ELEM_EXPIRATION, binary.BigEndian.AppendUint64(nil, 30000))
	if bytes.Contains(plain, expiration) || !bytes.Contains(with, append(timeout, expiration...)) || len(with) != len(plain)+len(expiration) {
		t.Errorf("element messages:\nwithout an expiration %x\nwith one %x", plain, with)
	}
}
