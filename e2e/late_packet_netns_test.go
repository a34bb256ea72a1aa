package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
)

var openAfterRE = regexp.MustCompile(`open (\d+) ms after the first knock`)

// BenchmarkLatePacketKnockToOpen measures a packet knock started in the
// last 0.15 s of a 2 s step (inside the 0.2 s margin), with the real
// client and server in namespaces: knock-to-open as send --wait reports
// it (first packet to the service's answer), for a server with skew 0
// (the late packet may reach it in the next step, and the next step's
// packet follows at its start) and skew 1 (the late packet is taken).
// Each trial is one knock, two steps apart (about 4 s); "wait" is the
// client's own --wait figure, "probe" the one bench/trials.py takes. A
// run takes OTPKNOCK_LATE_TRIALS trials per row whatever b.N, and only
// when that is set: 20 trials per row take over five minutes, more than
// a smoke run of every benchmark (-benchtime 100x) should.
//
//	sudo OTPKNOCK_LATE_TRIALS=20 go test ./e2e -run '^$' -bench LatePacket -benchtime 1x
func BenchmarkLatePacketKnockToOpen(b *testing.B) {
	trials, err := strconv.Atoi(os.Getenv("OTPKNOCK_LATE_TRIALS"))
	if err != nil || trials < 1 {
		b.Skip("set OTPKNOCK_LATE_TRIALS=N (N knocks per row, about 4 s each) to run it")
	}
	for _, skew := range []int{0, 1} {
		for _, mode := range []string{"wait", "probe"} {
			b.Run(fmt.Sprintf("skew%d/%s", skew, mode), func(b *testing.B) {
				p, store := latePacketWorld(b, skew)
				var ms []float64
				for range trials {
					// 0.15 s before the end of the step after the next one.
					at := derive.StepStart(derive.Step(time.Now(), 2*time.Second)+2, 2*time.Second).Add(-150 * time.Millisecond)
					time.Sleep(time.Until(at))
					ms = append(ms, lateTrial(b, p, store, mode))
				}
				slices.Sort(ms)
				q := func(f float64) float64 { return ms[min(len(ms)-1, int(f*float64(len(ms))))] }
				b.ReportMetric(q(0.5), "median-ms")
				b.ReportMetric(q(0.99), "p99-ms")
				b.ReportMetric(ms[len(ms)-1], "max-ms")
				b.Logf("skew %d, %s, %d knocks 0.15 s before the step's end: knock-to-open ms %v", skew, mode, len(ms), ms)
			})
		}
	}
}

// lateTrial knocks once and returns knock-to-open in ms: with mode
// "wait", as send --wait reports it (first packet to the client's probe
// answered); with "probe", as bench/trials.py measures it (the client's
// start to the first of back-to-back connects bounded by 1 ms, from the
// client namespace, with send not waiting).
func lateTrial(b *testing.B, p *netnstest.Pair, store, mode string) float64 {
	args := []string{"send", "pat", "--stun", "none", "--retries", "0"}
	if mode == "wait" {
		args = append(args, "--wait", "tcp/2222,3s")
	}
	cmd := p.Cmd(p.Client, append([]string{bins.Client}, args...)...)
	cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store)
	if mode == "wait" {
		out, err := cmd.CombinedOutput()
		m := openAfterRE.FindSubmatch(out)
		if err != nil || m == nil {
			b.Fatalf("send: %v\n%s", err, out)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var opened time.Duration
	p.Do(b, p.Client, func() {
		for time.Since(t0) < 5*time.Second {
			if c, err := net.DialTimeout("tcp", netip.AddrPortFrom(p.ServerV4, 2222).String(), time.Millisecond); err == nil {
				c.Close()
				opened = time.Since(t0)
				return
			}
		}
	})
	if err := cmd.Wait(); err != nil || opened == 0 {
		b.Fatalf("send: %v, opened after %v\n%s", err, opened, out.String())
	}
	return float64(opened.Microseconds()) / 1000
}

// latePacketWorld starts a server with 2 s steps, the given skew and a
// 1 s grant, and one packet user pat (tcp/2222) imported into a client
// store; it returns the namespaces and the store.
func latePacketWorld(b *testing.B, skew int) (*netnstest.Pair, string) {
	netnstest.Require(b, "iptables", "ip6tables")
	p := netnstest.NewPair(b)
	dir := b.TempDir()
	cfg, store := filepath.Join(dir, "etc", "config.yaml"), filepath.Join(dir, "client", "client.yaml")
	run := func(ns string, stdin string, args ...string) string {
		cmd := p.Cmd(ns, append([]string{program(args...)}, args...)...)
		cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(p.Server, "", "init", "-c", cfg, "--server-id", "gw1", "--host", p.ServerV4.String(), "--state-file", filepath.Join(dir, "state", "state.json"))
	data, _ := os.ReadFile(cfg)
	data = bytes.Replace(data, []byte("step: 30s"), []byte("step: 2s"), 1)
	data = bytes.Replace(data, []byte("skew: 1"), []byte(fmt.Sprintf("skew: %d", skew)), 1)
	data = bytes.Replace(data, []byte("open_timeout: 30s"), []byte("open_timeout: 1s"), 1)
	data = bytes.Replace(data, []byte("protocols: [tcp, udp]"), []byte("protocols: [udp]"), 1)
	os.WriteFile(cfg, data, 0o600)
	uri := regexp.MustCompile(`otpauth://\S+`).FindString(run(p.Server, "", "user", "add", "pat", "-c", cfg, "--open", "tcp/2222", "--knock", "packet", "--no-qr"))
	run(p.Client, uri, "import", "-", "--name", "pat")
	go netnstest.AcceptAll(p.Listen(b, p.Server, "tcp", "[::]:2222"))
	log := &netnstest.Buffer{}
	srv := p.Cmd(p.Server, bins.Server, "server", "-c", cfg)
	srv.Stderr = log
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "msg=started"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("server did not start:\n%s", log)
		}
	}
	return p, store
}
