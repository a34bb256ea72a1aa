package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/sender"
)

var latencyRE = regexp.MustCompile(`msg=grant .*user=(u\d+) .*latency=(\S+)`)

// BenchmarkKnockToGrant measures, in network namespaces with the real
// server, the time from the kernel logging a sequence's last knock to
// the grant being in the kernel's set, as the server logs it. Each
// iteration is one sequence from a fresh (user, step).
//
//	sudo go test ./cmd/otpknock -run '^$' -bench KnockToGrant -benchtime 400x
func BenchmarkKnockToGrant(b *testing.B) {
	netnstest.Require(b, "iptables", "ip6tables")
	p := netnstest.NewPair(b)
	dir := b.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if _, err := config.WriteInit(cfgPath, config.InitOptions{ServerID: "bench", Host: p.ServerV4.String(), StateFile: filepath.Join(dir, "state.json")}); err != nil {
		b.Fatal(err)
	}
	data, _ := os.ReadFile(cfgPath)
	// 100 sequence users need 5 knocks for 48 effective bits.
	edited := strings.NewReplacer("step: 30s", "step: 2s", "knocks: 4", "knocks: 5").Replace(string(data))
	os.WriteFile(cfgPath, []byte(edited), 0o600)
	const users = 100
	var cfg *config.Config
	secrets := make([][]byte, users)
	for i := range users {
		var err error
		if cfg, err = config.AddUser(cfgPath, config.NewUser{Name: fmt.Sprintf("u%d", i), Open: []string{"tcp/2222"}}); err != nil {
			b.Fatal(err)
		}
		secrets[i] = []byte(fmt.Sprintf("benchmark secret of user %06d", i))
		if err := cfg.WriteSecret(fmt.Sprintf("u%d", i), secrets[i]); err != nil {
			b.Fatal(err)
		}
	}
	log := &netnstest.Buffer{}
	srv := p.Cmd(p.Server, bins.Server, "server", "-c", cfgPath)
	srv.Stderr = log
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "msg=started"); {
		if time.Now().After(deadline) {
			b.Fatalf("server did not start:\n%s", log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	lastStep := make([]uint64, users)
	for i := range lastStep {
		lastStep[i] = ^uint64(0)
	}
	k := &sender.Kernel{}
	var lat []time.Duration
	next := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Now()
		step := derive.Step(now, cfg.Params.Period)
		if derive.Left(now, cfg.Params.Period) < 100*time.Millisecond || lastStep[next] == step {
			time.Sleep(derive.Left(now, cfg.Params.Period) + 10*time.Millisecond) // every user used this step
			step = derive.Step(time.Now(), cfg.Params.Period)
		}
		u := next
		next = (next + 1) % users
		lastStep[u] = step
		seq, _ := derive.Sequence(secrets[u], "bench", cfg.Params, step, netip.Addr{})
		before := strings.Count(log.String(), "msg=grant")
		p.Do(b, p.Client, func() {
			for _, kn := range seq {
				if _, err := k.Write(context.Background(), p.ServerV4, kn); err != nil {
					b.Fatal(err)
				}
			}
		})
		for deadline := time.Now().Add(2 * time.Second); strings.Count(log.String(), "msg=grant") == before; {
			if time.Now().After(deadline) {
				b.Fatalf("no grant for u%d at step %d:\n%s", u, step, log)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	b.StopTimer()
	for _, m := range latencyRE.FindAllStringSubmatch(log.String(), -1) {
		d, err := time.ParseDuration(m[2])
		if err == nil {
			lat = append(lat, d)
		}
	}
	if len(lat) != b.N {
		b.Fatalf("%d latencies logged for %d grants", len(lat), b.N)
	}

	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.9), "p90-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
