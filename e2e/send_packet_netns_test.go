package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
)

// packetStore writes packet profiles named after their protocol (udp,
// icmp) knocking host.
func packetStore(t *testing.T, host netip.Addr, protos ...derive.Proto) string {
	path := filepath.Join(t.TempDir(), "cfg", "client.yaml")
	s := &profile.Store{Path: path}
	for _, pr := range protos {
		params := derive.DefaultParams()
		params.Protocols = derive.Protocols(derive.TCP | pr)
		s.Add(profile.Profile{Name: pr.String(), Account: provision.Account{ServerID: "gw1", User: "alice",
			Host: host.String(), Secret: testSecret, Params: params, Knock: derive.ModePacket,
			Open: []derive.Knock{{Proto: derive.TCP, Port: 2222}}}})
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	packetLineRE = regexp.MustCompile(`packet (\d+) (\S+)\s+-> \S+ \(step (\d+), (\d+)-byte payload, ([^)]+)\)`)
	wirePacketRE = regexp.MustCompile(`^IP6? \S+ > (\S+): (?:UDP, length (\d+)|ICMP6?,? echo request, id \d+, seq (\d+), length (\d+))`)
)

// wirePacket renders a captured UDP datagram or echo request as
// "udp/PORT payload N" or "icmp/SEQ payload N".
func wirePacket(line string) string {
	m := wirePacketRE.FindStringSubmatch(line)
	switch {
	case m == nil:
		return "unexpected: " + line
	case m[2] != "":
		return fmt.Sprintf("udp/%s payload %s", m[1][strings.LastIndex(m[1], ".")+1:], m[2])
	}
	n, _ := strconv.Atoi(m[4])
	return fmt.Sprintf("icmp/%s payload %d", m[3], n-8) // the echo header is 8 bytes
}

// sentPackets reads send -v's packet lines as the wire renders them,
// checking each element against the derivation.
func sentPackets(t *testing.T, out []byte, proto derive.Proto) (got []string, hows []string) {
	t.Helper()
	params := derive.DefaultParams()
	params.Protocols = derive.Protocols(derive.TCP | proto)
	pd, err := derive.NewPacket(testSecret, "gw1", params)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range packetLineRE.FindAllStringSubmatch(string(out), -1) {
		step, _ := strconv.ParseUint(m[3], 10, 64)
		el, _ := pd.Knock(step)
		if m[2] != el.String() {
			t.Errorf("packet %s sent to %s, the element of step %d is %v", m[1], m[2], step, el)
		}
		size, _ := strconv.Atoi(m[4])
		if size < derive.PayloadMin || size > derive.PayloadMax {
			t.Errorf("payload of %d bytes, want %d to %d", size, derive.PayloadMin, derive.PayloadMax)
		}
		got = append(got, fmt.Sprintf("%s payload %d", m[2], size))
		hows = append(hows, m[5])
	}
	return got, hows
}

// TestSendPacketOnTheWire sends packet profiles' knocks from the client
// namespace, as root, and reads the server's wire: exactly one UDP
// datagram, or one echo request, to the element, whose payload has the
// size send chose, over IPv4 and IPv6. A --wait on a service that stays
// closed resends the packet three times, each a datagram of its own.
func TestSendPacketOnTheWire(t *testing.T) {
	netnstest.Require(t, "tcpdump", "iptables", "ip6tables", "sysctl")
	p := netnstest.NewPair(t)
	silence(t, p)
	p.MustRun(t, p.Client, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0") // root: raw ICMP
	filter := "src host %s and (udp or icmp or (icmp6 and ip6[40] == 128))"
	for _, fam := range []struct {
		name     string
		src, dst netip.Addr
	}{{"ipv4", p.ClientV4, p.ServerV4}, {"ipv6", p.ClientV6, p.ServerV6}} {
		for _, proto := range []derive.Proto{derive.UDP, derive.ICMP} {
			t.Run(fam.name+"/"+proto.String(), func(t *testing.T) {
				store := packetStore(t, fam.dst, proto)
				capture := p.StartCapture(t, p.Server, fmt.Sprintf(filter, fam.src))
				awayFromStepEnd(time.Second)
				out, err := client(p, store, false, "send", proto.String(), "-v").CombinedOutput()
				if err != nil {
					t.Fatalf("send: %v\n%s", err, out)
				}
				want, hows := sentPackets(t, out, proto)
				if len(want) != 1 {
					t.Fatalf("send -v printed %d packets, want 1:\n%s", len(want), out)
				}
				if wantHow := map[derive.Proto]string{derive.UDP: "udp socket", derive.ICMP: "raw socket"}[proto]; hows[0] != wantHow {
					t.Errorf("sent by %s, want %s", hows[0], wantHow)
				}
				if !strings.Contains(string(out), "claim: "+fam.src.String()+"; the packet's source not claimed") {
					t.Errorf("send -v does not show the claim of %v:\n%s", fam.src, out)
				}
				var got []string
				for _, l := range capture.Stop(500 * time.Millisecond) {
					got = append(got, wirePacket(l))
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("on the wire (-sent +seen):\n%s\nsend -v:\n%s", diff, out)
				}
			})
		}
	}
	t.Run("resent while closed", func(t *testing.T) {
		store := packetStore(t, p.ServerV4, derive.UDP)
		capture := p.StartCapture(t, p.Server, fmt.Sprintf(filter, p.ClientV4))
		awayFromStepEnd(3 * time.Second) // the copies, 300 ms apart, all inside the step
		cmd := client(p, store, false, "send", "udp", "-v", "--wait", "tcp/2223,2s", "--retries", "0")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("closed service: %v, want exit 1\n%s", err, out)
		}
		want, _ := sentPackets(t, out, derive.UDP)
		if len(want) != 4 {
			t.Errorf("send -v printed %d packets, want 1 + 3 resends:\n%s", len(want), out)
		}
		var got []string
		for _, l := range capture.Stop(500 * time.Millisecond) {
			got = append(got, wirePacket(l))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("on the wire (-sent +seen):\n%s", diff)
		}
	})
}

// awayFromStepEnd waits for the next step when less than d is left of
// the current one (30 s steps): a packet knock in a step's last 0.5 s is
// followed by the next step's, and no copy goes out in that margin (spec
// 11.7), so tests that count packets start away from the end.
func awayFromStepEnd(d time.Duration) {
	next := derive.StepStart(derive.Step(time.Now(), derive.DefaultPeriod)+1, derive.DefaultPeriod)
	if left := time.Until(next); left < d {
		time.Sleep(left + 10*time.Millisecond)
	}
}
