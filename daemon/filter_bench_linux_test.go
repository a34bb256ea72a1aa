package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/matcher"
)

// BenchmarkFilterArm is the refresh of the kernel's pre-filter, as the
// housekeeping runs it beside the packet path: a window's elements
// listed, their TTLs computed and the element sets armed over netlink
// in a namespace, for 1,000 and 100,000 users (5 knocks, skew 1), with
// each backend (ipsets; the nftables armed set). Two cases: "rollover",
// the next step's window armed when the current one is (what every step
// costs: only elements the kernel does not hold as long are sent), and
// "full", a window none of whose elements is armed (a start, a reload,
// a repair). ms/refresh is the mean time of one refresh, elements the
// window's, sent those sent to the kernel.
//
//	sudo go test ./daemon -run '^$' -bench FilterArm -benchtime 10x
func BenchmarkFilterArm(b *testing.B) {
	netnstest.Require(b, "iptables", "ip6tables")
	for _, kind := range firewall.Kinds() {
		for _, n := range []int{1000, 100000} {
			for _, rollover := range []bool{true, false} {
				benchFilterArm(b, kind.Name(), kind.Open, n, rollover)
			}
		}
	}
}

func benchFilterArm(b *testing.B, backend string, open func() (firewall.Backend, error), n int, rollover bool) {
	{
		kind := map[bool]string{true: "rollover", false: "full"}[rollover]
		b.Run(fmt.Sprintf("%s/users=%d/%s", backend, n, kind), func(b *testing.B) {
			p := derive.DefaultParams()
			p.Knocks = 5
			users := make([]matcher.User, n)
			for i := range users {
				users[i] = matcher.User{Name: fmt.Sprintf("u%d", i), Secret: []byte(fmt.Sprintf("secret of user %016d", i)),
					Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}}
			}
			m, err := matcher.New(matcher.Config{ServerID: "bench", Params: p, Skew: 1, SequenceTimeout: 10 * time.Second}, users, nil)
			if err != nil {
				b.Fatal(err)
			}
			now := derive.StepStart(60000000, p.Period).Add(26 * time.Second)
			if err := m.Advance(now); err != nil {
				b.Fatal(err)
			}
			w, err := m.PrepareNext(now)
			if err != nil {
				b.Fatal(err)
			}
			pair := netnstest.NewPair(b)
			var k firewall.Backend
			plan := firewall.Plan{Group: 4711, PortMin: p.PortMin, PortMax: p.PortMax, Protocols: p.Protocols,
				Timeout: 30 * time.Second, Filter: true, Track: 10 * time.Second}
			pair.Do(b, pair.Server, func() {
				if k, err = open(); err == nil {
					err = k.Setup(plan)
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			var elems, sent int64
			b.ResetTimer()
			pair.Do(b, pair.Server, func() {
				for b.Loop() {
					f := &filter{f: k.(firewall.Filter), clock: clocktest.NewFake(now), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
					if rollover {
						b.StopTimer()
						f.arm(m, m.Window())
						b.StartTimer()
					}
					f.arm(m, w)
					if f.failures.Load() != 0 {
						b.Fatal("arming failed")
					}
					elems, sent = f.elements.Load(), f.sent.Load()
				}
			})
			b.ReportMetric(float64(elems), "elements")
			b.ReportMetric(float64(sent), "sent")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/refresh")
		})
	}
}
