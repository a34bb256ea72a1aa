package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestSourceSetFloodNetns floods an armed element of the nftables
// backend from random sources (hping3, 5 s) while the tracker is fed
// what the matcher reports under such a flood (a full queue of new
// sources every trackBatch): the kernel's source set ends with at most
// MaxTracked addresses, each listed once. Before, the tracker's adds
// into the set the packet path was filling made it churn (listed past
// its size, with duplicates, then empty).
func TestSourceSetFloodNetns(t *testing.T) {
	netnstest.Require(t, "hping3", "nft")
	p := netnstest.NewPair(t)
	plan := firewalltest.Plan()
	plan.Filter, plan.Track = true, time.Minute
	var fw firewall.Backend
	p.Do(t, p.Server, func() {
		var err error
		if fw, err = firewall.KindOf(firewall.ModeNFTables).Open(); err != nil {
			t.Fatal(err)
		}
		if err := fw.Setup(plan); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { p.Do(t, p.Server, func() { fw.Remove(plan) }) })
	f := newFilter(fw, clock.System{}, slog.New(slog.DiscardHandler))
	knock := derive.Knock{Proto: derive.UDP, Port: 30000}
	if err := f.f.Arm([]firewall.Element{{Knock: knock, TTL: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		f.run(ctx)
		close(done)
	}()
	const dur = 5 * time.Second
	flood := p.Cmd(p.Client, "timeout", "-s", "INT", strconv.Itoa(int(dur.Seconds())), "hping3", "--flood", "--rand-source", "-q",
		"--udp", "-p", strconv.Itoa(int(knock.Port)), p.ServerV4.String())
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	track := f.hook()
	for end := time.Now().Add(dur); time.Now().Before(end); time.Sleep(trackBatch) {
		for range trackQueue {
			a := netip.AddrFrom4([4]byte{byte(11 + rand.IntN(200)), byte(rand.IntN(256)), byte(rand.IntN(256)), byte(rand.IntN(256))})
			track(a, time.Now().Add(time.Minute))
		}
	}
	flood.Wait()
	cancel()
	<-done
	out := p.MustRun(t, p.Server, "nft", "-j", "list", "set", "inet", "otpknock", firewall.NFTSrc4)
	var listing struct {
		Nftables []struct {
			Set *struct {
				Elem []struct {
					Elem struct {
						Val string `json:"val"`
					} `json:"elem"`
				} `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &listing); err != nil {
		t.Fatalf("nft -j list set: %v", err)
	}
	listed, distinct := 0, map[string]bool{}
	for _, x := range listing.Nftables {
		if x.Set != nil {
			for _, e := range x.Set.Elem {
				listed++
				distinct[e.Elem.Val] = true
			}
		}
	}
	t.Logf("after a %s flood: %d elements listed, %d distinct; tracker %+v", dur, listed, len(distinct), f.stats())
	if listed == 0 || listed != len(distinct) || listed > firewall.MaxTracked {
		t.Errorf("source set after the flood: %d elements listed, %d distinct, want 1 to %d, each once", listed, len(distinct), firewall.MaxTracked)
	}
}
