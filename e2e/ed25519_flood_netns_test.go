package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
)

// BenchmarkEd25519Flood floods an ed25519 user's armed element (the
// element of each step, followed as it rotates) from 64 addresses of
// the client's link, for 10 s per mode, while the user knocks once per
// step (2 s) with otpknock send from the client's address: with no
// flood, with random payloads (no locator: the check refuses them), and
// with payloads sealed with the locator and signed by another key (the
// check passes, the signature refuses them, within the budget). It
// reports the flood's rate, the daemon's CPU (utime + stime of the
// server process over the run, in percent of one core) and the user's
// knocks opened; each run is one flood of 10 s per mode, whatever
// -benchtime says. Grants last 1 s, so each knock finds the service
// closed and opens it only if it is accepted.
//
//	sudo OTPKNOCK_REQUIRE_INTEGRATION=1 go test ./e2e -run '^$' -bench Ed25519Flood -benchtime 1x
func BenchmarkEd25519Flood(b *testing.B) {
	netnstest.Require(b, "iptables", "ip6tables")
	for _, mode := range []string{"none", "junk-without-locator", "locator-bad-signature"} {
		// One flood is one measurement, whatever b.N: -benchtime 100x
		// (CI's smoke run) costs the same as 1x.
		b.Run(mode, func(b *testing.B) { floodRun(b, mode, 10*time.Second) })
	}
}

// floodWorld is a server with one ed25519 user, sig, and the client's
// profile of it.
type floodWorld struct {
	p       *netnstest.Pair
	cfg     *config.Config
	locator []byte
	store   string
	log     *netnstest.Buffer
	pid     int
}

func newFloodWorld(b *testing.B) *floodWorld {
	p := netnstest.NewPair(b)
	dir := b.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if _, err := config.WriteInit(path, config.InitOptions{ServerID: "flood", Host: p.ServerV4.String(), StateFile: filepath.Join(dir, "state.json")}); err != nil {
		b.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.NewReplacer("step: 30s", "step: 2s", "open_timeout: 30s", "open_timeout: 1s").Replace(string(data))), 0o600)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	cfg, err := config.AddUser(path, config.NewUser{Name: "sig", Open: []string{"tcp/2222"}, Knock: derive.ModePacket,
		PublicKey: derive.FormatKeyLine(key.Public().(ed25519.PublicKey), "")})
	if err != nil {
		b.Fatal(err)
	}
	w := &floodWorld{p: p, cfg: cfg, locator: bytes.Repeat([]byte("lctr"), 8), store: filepath.Join(dir, "client", "client.yaml"), log: &netnstest.Buffer{}}
	if err := cfg.WriteSecret("sig", w.locator); err != nil {
		b.Fatal(err)
	}
	s := &profile.Store{Path: w.store}
	s.Add(profile.Profile{Name: "sig", Account: provision.Account{ServerID: cfg.ServerID, User: "sig", Host: p.ServerV4.String(),
		Secret: w.locator, Params: cfg.Params, Open: cfg.Users[0].Open, Knock: derive.ModePacket, Auth: derive.AuthEd25519, PrivateKey: key}})
	if err := s.Save(); err != nil {
		b.Fatal(err)
	}
	go netnstest.AcceptAll(p.Listen(b, p.Server, "tcp", "[::]:2222"))
	srv := p.Cmd(p.Server, bins.Server, "server", "-c", path)
	srv.Stderr = w.log
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(w.log.String(), "msg=started"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("server did not start:\n%s", w.log)
		}
	}
	// ip netns exec runs the server as a child: its pid is the server's
	// once exec'd.
	w.pid = srv.Process.Pid
	return w
}

// cpuTicks is the utime + stime of pid in clock ticks (100 a second).
func cpuTicks(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return u + s
}

// floodRun is one mode's run of d.
func floodRun(b *testing.B, mode string, d time.Duration) {
	w := newFloodWorld(b)
	conns := w.flooders(b, 64)
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	if mode != "none" {
		wg.Add(1)
		go func() { defer wg.Done(); w.flood(b, mode, conns, stop, &sent) }()
	}
	start, ticks := time.Now(), cpuTicks(b, w.pid)
	knocks, opened := 0, 0
	for time.Since(start) < d {
		time.Sleep(derive.Left(time.Now(), w.cfg.Params.Period) + 100*time.Millisecond)
		cmd := w.p.Cmd(w.p.Client, bins.Client, "send", "sig", "--wait", "tcp/2222,1s", "--retries", "0")
		cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
		knocks++
		if out, err := cmd.CombinedOutput(); err == nil {
			opened++
		} else if mode == "none" {
			b.Logf("knock %d: %v\n%s", knocks, err, out)
		}
	}
	elapsed, used := time.Since(start), cpuTicks(b, w.pid)-ticks
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(sent.Load())/elapsed.Seconds()/1000, "flood-kpps")
	b.ReportMetric(used/elapsed.Seconds(), "daemon-cpu-%")
	b.ReportMetric(float64(opened), "opened")
	b.ReportMetric(float64(knocks), "knocks")
	b.Logf("%s: %.1f kpps, daemon %.1f%% of a core, %d of %d knocks opened", mode, float64(sent.Load())/elapsed.Seconds()/1000, used/elapsed.Seconds(), opened, knocks)
}

// flooders opens n UDP sockets in the client's namespace, each from an
// address of its own added to the link.
func (w *floodWorld) flooders(b *testing.B, n int) []*net.UDPConn {
	var conns []*net.UDPConn
	for i := range n {
		a := netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + i)})
		w.p.MustRun(b, w.p.Client, "ip", "addr", "add", a.String()+"/24", "dev", "veth0")
		w.p.Do(b, w.p.Client, func() {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: a.AsSlice()})
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		})
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// flood sends to the element of the current step until stop: random
// payloads, or ones sealed with the locator and another key's signature.
func (w *floodWorld) flood(b *testing.B, mode string, conns []*net.UDPConn, stop chan struct{}, sent *atomic.Int64) {
	sd, err := derive.NewSigPacket(w.locator, nil, w.cfg.ServerID, w.cfg.Params)
	if err != nil {
		b.Error(err)
		return
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	var step uint64 = 0
	var payload []byte
	var dst *net.UDPAddr
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if s := derive.Step(time.Now(), w.cfg.Params.Period); s != step || payload == nil {
			step = s
			k, _ := sd.Knock(step)
			dst = &net.UDPAddr{IP: w.p.ServerV4.AsSlice(), Port: int(k.Port)}
			payload = make([]byte, derive.PayloadMin)
			rand.Read(payload)
			if mode == "locator-bad-signature" {
				payload, _ = sd.Seal(nil, other, step, payload[:derive.NonceSize], derive.Claim{Source: true}, netip.Addr{}, derive.PayloadMin)
			}
		}
		if _, err := conns[i%len(conns)].WriteToUDP(payload, dst); err == nil {
			sent.Add(1)
		}
	}
}
