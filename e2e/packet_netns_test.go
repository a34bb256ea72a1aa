package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/sender"
)

// The packet user's service, an unprotected port that answers anyone
// (the controls), and where the server serves its metrics (in its
// namespace).
const (
	patPort     = 2222
	freePort    = 3000
	metricsAddr = "127.0.0.1:9557"
)

// packetWorld is a running server with one packet user, pat (tcp/2222),
// knocking with protocols, and the client namespace with a second
// address (the stranger) on its link.
type packetWorld struct {
	*world
	pd     *derive.PacketDeriver
	params derive.Params
}

func newPacketWorld(t *testing.T, protocols string) *packetWorld {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	dir := t.TempDir()
	w := &world{t: t, p: p, cfg: filepath.Join(dir, "etc", "config.yaml"), store: filepath.Join(dir, "client", "client.yaml"),
		stranger: netip.MustParseAddr("198.18.0.3")}
	p.MustRun(t, p.Client, "ip", "addr", "add", w.stranger.String()+"/24", "dev", "veth0")
	w.must(p.Server, "init", "-c", w.cfg, "--server-id", "gw1", "--host", p.ServerV4.String(), "--state-file", filepath.Join(dir, "state", "state.json"))
	data, _ := os.ReadFile(w.cfg)
	data = bytes.Replace(data, []byte("protocols: [tcp, udp]"), []byte("protocols: "+protocols), 1)
	data = bytes.Replace(data, []byte(`metrics_listen: ""`), []byte("metrics_listen: "+metricsAddr), 1)
	os.WriteFile(w.cfg, data, 0o600)
	out := w.must(p.Server, "user", "add", "pat", "-c", w.cfg, "--open", fmt.Sprintf("tcp/%d", patPort), "--knock", "packet", "--no-qr")
	if !strings.Contains(out, "knock=packet") {
		t.Fatalf("user add --knock packet wrote no knock=packet into the URI:\n%s", out)
	}
	cfg, err := config.Load(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := cfg.ReadSecret("pat")
	if err != nil {
		t.Fatal(err)
	}
	pd, err := derive.NewPacket(secret, cfg.ServerID, cfg.Params)
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{patPort, freePort} {
		go netnstest.AcceptAll(p.Listen(t, p.Server, "tcp", fmt.Sprintf("[::]:%d", port)))
	}
	t.Cleanup(func() {
		if w.server != nil && w.server.ProcessState == nil {
			w.server.Process.Kill()
			w.server.Wait()
		}
	})
	pw := &packetWorld{world: w, pd: pd, params: cfg.Params}
	pw.startServer()
	return pw
}

// step is the server's current step, as the client derives it.
func (w *packetWorld) step() uint64 { return derive.Step(time.Now(), w.params.Period) }

// seal is pat's payload for step with a fresh nonce: the claim, the
// bound source (none: pat is not source-bound) and a size the sender
// would draw (80 bytes, inside PayloadMin..PayloadMax).
func (w *packetWorld) seal(step uint64, claim derive.Claim) []byte {
	w.t.Helper()
	nonce := make([]byte, derive.NonceSize)
	rand.Read(nonce)
	payload, err := w.pd.Seal(nil, step, nonce, claim, netip.Addr{}, 80)
	if err != nil {
		w.t.Fatal(err)
	}
	return payload
}

// element is pat's element of step: where the packet goes.
func (w *packetWorld) element(step uint64) derive.Knock {
	w.t.Helper()
	k, err := w.pd.Knock(step)
	if err != nil {
		w.t.Fatal(err)
	}
	return k
}

// send sends payload to the element k at dst from the client namespace,
// as sender.Portable does for the packet-mode client; from, when valid,
// is the source address (the route's source is set to it).
func (w *packetWorld) send(from, dst netip.Addr, k derive.Knock, payload []byte) {
	w.t.Helper()
	if from.IsValid() {
		w.p.MustRun(w.t, w.p.Client, "ip", "route", "replace", dst.String()+"/32", "dev", "veth0", "src", from.String())
		defer w.p.MustRun(w.t, w.p.Client, "ip", "route", "del", dst.String()+"/32")
	}
	w.p.Do(w.t, w.p.Client, func() {
		if _, err := (&sender.Portable{}).WritePayload(context.Background(), dst, k, payload); err != nil {
			w.t.Errorf("sending %v to %v: %v", k, dst, err)
		}
	})
}

// metrics scrapes the server's metrics in its namespace: name -> value.
// The connection is dialled on the namespace's thread (an http.Client
// would dial on a goroutine of its own, in the test's namespace).
func (w *packetWorld) metrics() map[string]float64 {
	w.t.Helper()
	var conn net.Conn
	var err error
	w.p.Do(w.t, w.p.Server, func() { conn, err = net.Dial("tcp", metricsAddr) })
	if err != nil {
		w.t.Fatalf("scraping metrics: %v", err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", metricsAddr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		w.t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if f, err := strconv.ParseFloat(v, 64); ok && err == nil && !strings.HasPrefix(name, "#") {
			out[name] = f
		}
	}
	return out
}

// waitMetric waits until the metric reaches want; it fails the test
// when it does not within 5 s, or goes past it.
func (w *packetWorld) waitMetric(name string, want float64) {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := w.metrics()[name]
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			w.t.Fatalf("metric %s = %v, want %v\nserver log:\n%s", name, got, want, w.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// controls checks that the stranger's address reaches the server (an
// unprotected port answers it): without that, a closed port proves
// nothing.
func (w *packetWorld) controls() {
	w.t.Helper()
	if !w.open(w.stranger, w.p.ServerV4, freePort) || !w.open(netip.Addr{}, w.p.ServerV6, freePort) {
		w.t.Fatalf("controls failed: the unprotected port does not answer")
	}
}

// running fails the test when the server has exited.
func (w *packetWorld) running() {
	w.t.Helper()
	if err := w.server.Process.Signal(syscall.Signal(0)); err == nil {
		return
	}
	w.t.Errorf("the server exited:\n%s", w.log)
}

const (
	grants  = `otpknock_packet_knocks_total{outcome="grant"}`
	replays = `otpknock_packet_knocks_total{outcome="replay"}`
	dups    = `otpknock_packet_knocks_total{outcome="duplicate"}`
	refused = `otpknock_packet_knocks_total{outcome="refused"}`
	badTag  = "otpknock_packet_bad_tag_total"
	badSize = "otpknock_packet_bad_size_total"
	cut     = "otpknock_nflog_truncated_total"
)

// TestPacketUDP: payloads that are not pat's (random, wrong key, too
// short, too long, cut by the copy range) open nothing and are counted
// with nothing logged; pat's UDP packet then opens tcp/2222 for the
// client only; the same packet again from the client is a duplicate
// (no replay) and opens nothing more.
func TestPacketUDP(t *testing.T) {
	w := newPacketWorld(t, "[tcp, udp]")
	p := w.p
	w.controls()
	if w.open(netip.Addr{}, p.ServerV4, patPort) {
		t.Fatalf("pat's port is open before any knock")
	}
	step := w.step()
	k := w.element(step)
	if k.Proto != derive.UDP {
		t.Fatalf("element %v, want udp with protocols [tcp, udp]", k)
	}
	claim := derive.Claim{Addrs: []netip.Addr{p.ClientV4}}

	random := make([]byte, 80)
	rand.Read(random)
	other, err := derive.NewPacket(bytes.Repeat([]byte{7}, 32), "gw1", w.params)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := other.Seal(nil, step, make([]byte, derive.NonceSize), claim, netip.Addr{}, 80)
	if err != nil {
		t.Fatal(err)
	}
	w.send(netip.Addr{}, p.ServerV4, k, random)
	w.send(netip.Addr{}, p.ServerV4, k, wrongKey)
	w.waitMetric(badTag, 2)
	w.send(netip.Addr{}, p.ServerV4, k, w.seal(step, claim)[:derive.MinPayload-1])
	w.send(netip.Addr{}, p.ServerV4, k, append(w.seal(step, claim), make([]byte, derive.MaxPayload)...))
	w.waitMetric(badSize, 2)
	// 40 + 8 + 400 bytes over IPv6 exceed the copy range: the listener
	// drops the payload and counts the capture as cut.
	w.send(netip.Addr{}, p.ServerV6, k, make([]byte, 400))
	w.waitMetric(cut, 1)
	if w.open(netip.Addr{}, p.ServerV4, patPort) || w.open(netip.Addr{}, p.ServerV6, patPort) {
		t.Errorf("a refused payload opened pat's port")
	}
	if logs := w.log.String(); strings.Contains(logs, "user=pat") || strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=ERROR") {
		t.Errorf("refused payloads were logged at the default level:\n%s", logs)
	}
	w.running()

	good := w.seal(step, claim)
	w.send(netip.Addr{}, p.ServerV4, k, good)
	w.waitLog(fmt.Sprintf("msg=grant src=198.18.0.2 user=pat step=%d ports=tcp/%d knock=packet addrs=198.18.0.2 ", step, patPort))
	if !w.open(p.ClientV4, p.ServerV4, patPort) {
		t.Errorf("pat's packet did not open tcp/%d for the client", patPort)
	}
	if w.open(w.stranger, p.ServerV4, patPort) || w.open(netip.Addr{}, p.ServerV6, patPort) {
		t.Errorf("pat's packet opened tcp/%d for an address it did not claim", patPort)
	}

	w.send(netip.Addr{}, p.ServerV4, k, good)
	w.waitMetric(dups, 1)
	w.waitLog("msg=duplicate src=198.18.0.2 user=pat")
	m := w.metrics()
	if m[grants] != 1 || m[replays] != 0 || m[badTag] != 2 || m[badSize] != 2 || m[cut] != 1 {
		t.Errorf("metrics: grants %v, replays %v, bad tags %v, bad sizes %v, cut %v; want 1, 0, 2, 2, 1", m[grants], m[replays], m[badTag], m[badSize], m[cut])
	}
	w.running()
}

// TestPacketICMP: with icmp the only packet protocol, the element is an
// echo sequence number and an echo request carrying pat's payload opens
// the service; the same payload to the wrong sequence number does not.
func TestPacketICMP(t *testing.T) {
	w := newPacketWorld(t, "[tcp, icmp]")
	p := w.p
	w.controls()
	step := w.step()
	k := w.element(step)
	if k.Proto != derive.ICMP {
		t.Fatalf("element %v, want icmp with protocols [tcp, icmp]", k)
	}
	payload := w.seal(step, derive.Claim{Addrs: []netip.Addr{p.ClientV4}})
	wrong := k
	wrong.Port = w.params.PortMin + (k.Port-w.params.PortMin+1)%(w.params.PortMax-w.params.PortMin+1)
	w.send(netip.Addr{}, p.ServerV4, wrong, payload)
	w.send(netip.Addr{}, p.ServerV4, derive.Knock{Proto: derive.ICMP, Port: freePort}, payload) // outside the range
	time.Sleep(200 * time.Millisecond)
	if w.open(netip.Addr{}, p.ServerV4, patPort) {
		t.Fatalf("pat's payload on another echo sequence number opened the port")
	}
	w.send(netip.Addr{}, p.ServerV4, k, payload)
	w.waitMetric(grants, 1)
	if !w.open(netip.Addr{}, p.ServerV4, patPort) {
		t.Errorf("pat's echo request did not open tcp/%d", patPort)
	}
	w.waitLog(fmt.Sprintf("msg=grant src=198.18.0.2 user=pat step=%d ports=tcp/%d knock=packet addrs=198.18.0.2 ", step, patPort))
}

// TestPacketDualStack: one packet over IPv4 claiming the client's IPv4
// and IPv6 addresses opens the service over both families.
func TestPacketDualStack(t *testing.T) {
	w := newPacketWorld(t, "[tcp, udp]")
	p := w.p
	w.controls()
	if w.open(netip.Addr{}, p.ServerV6, patPort) || w.open(netip.Addr{}, p.ServerV4, patPort) {
		t.Fatalf("pat's port is open before any knock")
	}
	step := w.step()
	w.send(netip.Addr{}, p.ServerV4, w.element(step), w.seal(step, derive.Claim{Addrs: []netip.Addr{p.ClientV4, p.ClientV6}}))
	w.waitLog("knock=packet addrs=198.18.0.2,2001:2::2 timeout=")
	if !w.open(netip.Addr{}, p.ServerV6, patPort) {
		t.Errorf("connecting over IPv6 after a packet over IPv4 claiming the IPv6 address failed")
	}
	if !w.open(netip.Addr{}, p.ServerV4, patPort) {
		t.Errorf("connecting over IPv4 failed")
	}
	if w.open(w.stranger, p.ServerV4, patPort) {
		t.Errorf("the grant opened an address the claim did not name")
	}
	status := w.must(p.Server, "firewall", "status", "-c", w.cfg)
	for _, a := range []string{"198.18.0.2", "2001:2::2"} {
		if !strings.Contains(status, a) {
			t.Errorf("firewall status lacks a grant for %s:\n%s", a, status)
		}
	}
}

// TestPacketOtherSource: pat's packet re-sent from another address (a
// second address on the client's link) opens nothing: its claim names
// the client and asks for no source. The same packet from the client
// then opens the service for the client only, and a copy from the
// other address after that is a replay.
func TestPacketOtherSource(t *testing.T) {
	w := newPacketWorld(t, "[tcp, udp]")
	p := w.p
	w.controls()
	step := w.step()
	k := w.element(step)
	payload := w.seal(step, derive.Claim{Addrs: []netip.Addr{p.ClientV4}})
	w.send(w.stranger, p.ServerV4, k, payload)
	w.waitMetric(refused, 1)
	w.waitLog(`msg="refused source" src=198.18.0.3 user=pat`)
	if w.open(w.stranger, p.ServerV4, patPort) || w.open(p.ClientV4, p.ServerV4, patPort) {
		t.Errorf("the packet from another address opened the port")
	}
	w.send(netip.Addr{}, p.ServerV4, k, payload)
	w.waitMetric(grants, 1)
	if !w.open(p.ClientV4, p.ServerV4, patPort) {
		t.Errorf("the packet from the client did not open the port")
	}
	if w.open(w.stranger, p.ServerV4, patPort) {
		t.Errorf("the grant opened the port for the other address")
	}
	w.send(w.stranger, p.ServerV4, k, payload)
	w.waitMetric(replays, 1)
	if w.open(w.stranger, p.ServerV4, patPort) {
		t.Errorf("the replay from the other address opened the port")
	}
}
