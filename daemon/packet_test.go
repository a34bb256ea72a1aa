package daemon

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/listener"
)

// addPacketUser adds pat, a packet user opening tcp/2222, to the config
// of setupConfig and returns the config and pat's packet deriver.
func addPacketUser(t *testing.T, cfg *config.Config) (*config.Config, *derive.PacketDeriver) {
	t.Helper()
	cfg, err := config.AddUser(cfg.Path, config.NewUser{Name: "pat", Open: []string{"tcp/2222"}, Knock: derive.ModePacket})
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("pat!"), 8)
	if err := cfg.WriteSecret("pat", secret); err != nil {
		t.Fatal(err)
	}
	pd, err := derive.NewPacket(secret, cfg.ServerID, cfg.Params)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, pd
}

// seal is pat's payload for step claiming addrs, with a nonce of n.
func seal(t *testing.T, pd *derive.PacketDeriver, step uint64, n byte, addrs ...netip.Addr) []byte {
	t.Helper()
	p, err := pd.Seal(nil, step, bytes.Repeat([]byte{n}, derive.NonceSize), derive.Claim{Addrs: addrs}, netip.Addr{}, 80)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDaemonPacket feeds a packet user's knocks: a valid one opens the
// service for every claimed address (both families) with one log line;
// its replay, and payloads with a bad tag or size, open nothing, log
// nothing at the default level and are counted.
func TestDaemonPacket(t *testing.T) {
	cfg, _ := setupConfig(t)
	cfg, pd := addPacketUser(t, cfg)
	const step = 60000000
	c := clocktest.NewFake(derive.StepStart(step, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := start(t, cfg, c, fw)
	defer r.stop(t)
	client4, client6 := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:2::2")
	k, err := pd.Knock(step)
	if err != nil {
		t.Fatal(err)
	}
	send := func(src netip.Addr, k derive.Knock, payload []byte) {
		t.Helper()
		r.src.Inject(listener.Packet{Src: src, Knock: k, Payload: payload})
		if err := r.src.Drain(testContext(t)); err != nil {
			t.Fatal(err)
		}
	}
	random := bytes.Repeat([]byte{0x5a}, 80)
	send(client4, k, random)      // bad tag
	send(client4, k, random[:20]) // too short
	send(client4, k, nil)         // bare: a stray
	noGrants := "installed=true nflog=true setups=1"
	if got := fw.String(); got != noGrants {
		t.Errorf("bad payloads opened something:\n%s", got)
	}
	if n := strings.Count(r.log.String(), "\n"); n != 1 {
		t.Errorf("bad payloads were logged at the default level:\n%s", r.log)
	}

	good := seal(t, pd, step, 1, client4, client6)
	send(client4, k, good)
	want := noGrants + "\ngrant 198.18.0.2 tcp/2222 30s\ngrant 2001:2::2 tcp/2222 30s"
	if got := fw.String(); got != want {
		t.Errorf("firewall after pat's packet:\n%s\nwant:\n%s", got, want)
	}
	send(client4, k, good)                                   // the same payload again: a duplicate
	send(client4, k, seal(t, pd, step, 2, client4, client6)) // a copy: a duplicate, logged at debug
	send(netip.MustParseAddr("198.18.0.9"), k, good)         // from another source: a replay
	if got := fw.String(); got != want {
		t.Errorf("a duplicate or a replay changed the grants:\n%s\nwant:\n%s", got, want)
	}
	logs := r.log.String()
	for _, s := range []string{
		fmt.Sprintf("msg=grant src=198.18.0.2 user=pat step=%d ports=tcp/2222 knock=packet addrs=198.18.0.2,2001:2::2 timeout=30s", step),
		fmt.Sprintf("level=INFO msg=duplicate src=198.18.0.2 user=pat step=%d ports=tcp/2222 knock=packet addrs=198.18.0.2,2001:2::2 copy=1", step),
		fmt.Sprintf("level=WARN msg=replay src=198.18.0.9 user=pat step=%d ports=tcp/2222 knock=packet addrs=198.18.0.2,2001:2::2", step),
	} {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %q:\n%s", s, logs)
		}
	}
	if n := strings.Count(logs, "msg=grant"); n != 1 {
		t.Errorf("%d grant lines, want 1 with every address:\n%s", n, logs)
	}
	if n := strings.Count(logs, "msg=duplicate"); n != 1 {
		t.Errorf("%d duplicate lines at the default level, want 1 (the second copy at debug):\n%s", n, logs)
	}
	if hosts := fail2banHosts(t, logs); len(hosts) != 1 || hosts[0] != "198.18.0.9" {
		t.Errorf("the fail2ban filter matches %q, want the replay's source only:\n%s", hosts, logs)
	}
	wantMetrics := []string{
		`otpknock_packet_knocks_total{outcome="grant"} 1`, `otpknock_packet_knocks_total{outcome="replay"} 1`,
		`otpknock_packet_knocks_total{outcome="duplicate"} 2`,
		`otpknock_packet_knocks_total{outcome="refused"} 0`, `otpknock_sequences_total{outcome="grant"} 0`,
		"otpknock_packet_bad_tag_total 1", "otpknock_packet_bad_size_total 1", "otpknock_packet_bad_claim_total 0",
		"otpknock_nflog_truncated_total 0",
	}
	metrics := r.scrape(t, "/metrics")
	for _, s := range wantMetrics {
		if !strings.Contains(metrics, s) {
			t.Errorf("metrics lack %q:\n%s", s, metrics)
		}
	}
	// A reload replaces the matcher; its counters carry over.
	if err := r.d.Reload(); err != nil {
		t.Fatal(err)
	}
	metrics = r.scrape(t, "/metrics")
	for _, s := range wantMetrics {
		if !strings.Contains(metrics, s) {
			t.Errorf("after a reload, metrics lack %q:\n%s", s, metrics)
		}
	}
}

// TestDaemonPacketClaim: pat's packet re-sent from an address outside
// its claim opens nothing and is refused with the reason; the same
// step's packet from a claimed address then opens (positive control).
func TestDaemonPacketClaim(t *testing.T) {
	cfg, _ := setupConfig(t)
	cfg, pd := addPacketUser(t, cfg)
	const step = 60000000
	c := clocktest.NewFake(derive.StepStart(step, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := start(t, cfg, c, fw)
	defer r.stop(t)
	client, other := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")
	k, _ := pd.Knock(step)
	r.src.Inject(listener.Packet{Src: other, Knock: k, Payload: seal(t, pd, step, 1, client)})
	r.src.Inject(listener.Packet{Src: client, Knock: k, Payload: seal(t, pd, step, 2, client)})
	if err := r.src.Drain(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if got, want := fw.String(), "installed=true nflog=true setups=1\ngrant 198.18.0.2 tcp/2222 30s"; got != want {
		t.Errorf("firewall:\n%s\nwant:\n%s", got, want)
	}
	if s := `msg="refused source" src=198.18.0.3 user=pat step=60000000 ports=tcp/2222 knock=packet addrs=198.18.0.2 reason="source not among the claimed addresses"`; !strings.Contains(r.log.String(), s) {
		t.Errorf("log lacks %q:\n%s", s, r.log)
	}
}

// TestCopyRanges: the listener asks NFLOG for as many bytes as the
// firewall's rules copy, and both hold the largest packet knock.
func TestCopyRanges(t *testing.T) {
	if listener.CopyRange != firewall.CopyRange {
		t.Errorf("listener.CopyRange %d, firewall.CopyRange %d: the kernel copies the smaller", listener.CopyRange, firewall.CopyRange)
	}
	if got := listener.DefaultOptions(4711).CopyRange; got != listener.CopyRange {
		t.Errorf("DefaultOptions copies %d, want CopyRange %d", got, listener.CopyRange)
	}
	if largest := 40 + 8 + derive.MaxPayload; firewall.CopyRange < largest {
		t.Errorf("CopyRange %d is below the largest packet knock, %d bytes", firewall.CopyRange, largest)
	}
}
