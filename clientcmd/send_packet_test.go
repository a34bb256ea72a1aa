package clientcmd

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/sender/sendertest"
)

var packetSecret = []byte("packet mode test secret, 32 byte")

// withPacketProfile imports a packet profile "gw1" knocking host over
// udp (its URI as a server writes it); the fake clock sits 10 s into
// step 60000000.
func withPacketProfile(t *testing.T, host string, bound bool) (*harness, *sendertest.Fake, profile.Profile) {
	h := newHarness(t)
	start := derive.StepStart(60000000, 30*time.Second)
	h.clock.Set(start.Add(10 * time.Second))
	f := &sendertest.Fake{Clock: h.clock, Start: start}
	h.writer = f
	params := derive.DefaultParams()
	params.Protocols = derive.Protocols(derive.TCP | derive.UDP)
	acct := provision.Account{ServerID: "gw1", User: "alice", Host: host, Secret: packetSecret, Params: params,
		Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}, BindSource: bound, Knock: derive.ModePacket}
	uri, err := acct.URI()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(uri, "knock=packet") {
		t.Fatalf("URI %s has no knock=packet", uri)
	}
	h.mustRun(uri, "import", "-")
	return h, f, profile.Profile{Name: "gw1", Account: acct}
}

func element(t *testing.T, p profile.Profile, step uint64) derive.Knock {
	t.Helper()
	pd, err := derive.NewPacket(p.Secret, p.ServerID, p.Params)
	if err != nil {
		t.Fatal(err)
	}
	k, err := pd.Knock(step)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var fakePayloadRE = regexp.MustCompile(`^ 10\.00s (\S+) -> (\S+) payload ([0-9a-f]+)$`)

// TestSendPacket sends a packet profile's knock through the fake writer:
// one packet to the element, whose payload the server's Open reads as
// the route source's claim, and the step is recorded.
func TestSendPacket(t *testing.T) {
	h, f, p := withPacketProfile(t, "127.0.0.1", false)
	out := h.mustRun("", "send", "gw1")
	el := element(t, p, 60000000)
	m := fakePayloadRE.FindStringSubmatch(f.String())
	if m == nil || m[1] != el.String() || m[2] != "127.0.0.1" {
		t.Fatalf("packets:\n%s\nwant one to %v", f.String(), el)
	}
	payload, _ := hex.DecodeString(m[3])
	if want := fmt.Sprintf("gw1: sent a packet knock %v, %d-byte payload to 127.0.0.1 (step 60000000)\n", el, len(payload)); out != want {
		t.Errorf("send: %q, want %q", out, want)
	}
	pd, _ := derive.NewPacket(p.Secret, p.ServerID, p.Params)
	claim, err := pd.Open(payload, 60000000, el, netip.Addr{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := fmt.Sprint(claim.Addrs, claim.Source); got != "[127.0.0.1] false" {
		t.Errorf("claim %s, want [127.0.0.1] false", got)
	}
	st, _ := profile.LoadState(profile.StatePath(h.env["OTPKNOCK_CLIENT_CONFIG"]))
	if v, ok := st.LastStep("gw1"); !ok || v != 60000000 {
		t.Errorf("state: step %d, %v", v, ok)
	}
}

// TestSendPacketDryRun checks that a dry run prints at once, with the
// real writer (which it must not use), what would be sent: the plan, the
// element and its socket, the payload size, the wait target; nothing is
// sent, recorded or waited for, even when the step is used.
func TestSendPacketDryRun(t *testing.T) {
	h, _, p := withPacketProfile(t, "127.0.0.1", false)
	h.mustRun("", "send", "gw1") // uses step 60000000
	h.writer = nil
	before := h.clock.Now()
	out, stderr, err := h.run("", "send", "gw1", "--dry-run", "--wait", "-v")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	el := element(t, p, 60000001)
	size := regexp.MustCompile(`(\d+)-byte payload, dry run`).FindStringSubmatch(out)
	if size == nil {
		t.Fatalf("no payload size in:\n%s", out)
	}
	if n, _ := strconv.Atoi(size[1]); n < derive.PayloadMin || n > derive.PayloadMax {
		t.Errorf("payload size %d, want %d to %d", n, derive.PayloadMin, derive.PayloadMax)
	}
	want := "profile gw1: packet knock to 127.0.0.1\n" +
		"source: 127.0.0.1 (the route's)\n" +
		"claim: 127.0.0.1; the packet's source not claimed\n" +
		"wait: tcp 127.0.0.1:22, 5s per attempt\n" +
		"step 60000000 already used by this profile: would wait 20s for the next step\n" +
		fmt.Sprintf("packet %v -> 127.0.0.1 (step 60000001, %s-byte payload, dry run, would send by udp socket)\n", el, size[1]) +
		fmt.Sprintf("dry run: nothing sent (step 60000001: %v, %s-byte payload)\n", el, size[1])
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	if !h.clock.Now().Equal(before) {
		t.Errorf("dry run waited %v", h.clock.Now().Sub(before))
	}
	st, _ := profile.LoadState(profile.StatePath(h.env["OTPKNOCK_CLIENT_CONFIG"]))
	if v, _ := st.LastStep("gw1"); v != 60000000 {
		t.Errorf("dry run recorded step %d", v)
	}
}

func TestShowPacket(t *testing.T) {
	h, _, p := withPacketProfile(t, "127.0.0.1", true)
	el := element(t, p, 60000000)
	out, status, err := h.run("", "show", "gw1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(el.String()+"\n", out); diff != "" {
		t.Errorf("show (-want +got):\n%s", diff)
	}
	want := "step 60000000, 20s left\npacket knock to 127.0.0.1: claim 127.0.0.1; the packet's source not claimed; payload 131-192 bytes, drawn per packet\n"
	if diff := cmp.Diff(want, status); diff != "" {
		t.Errorf("show's status on stderr (-want +got):\n%s", diff)
	}
	js := h.mustRun("", "show", "gw1", "--json")
	for _, part := range []string{`"knock": "packet"`, `"sequence": [` + "\n    \"" + el.String(), `"claim": [` + "\n    \"127.0.0.1\"", `"payload_min": 131`, `"payload_max": 192`} {
		if !strings.Contains(js, part) {
			t.Errorf("show --json lacks %q:\n%s", part, js)
		}
	}
	if strings.Contains(js, derive.EncodeSecret(packetSecret)) {
		t.Errorf("show --json prints the secret")
	}
	for _, args := range [][]string{{"show", "gw1", "--format", "knock"}, {"show", "gw1", "--source", "198.18.0.9"}} {
		if _, _, err := h.run("", args...); err == nil || cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

// TestSendPacketPublicIP checks --public-ip on a packet profile: claimed
// beside the route source, and, for a source-bound one, under the tag.
func TestSendPacketPublicIP(t *testing.T) {
	for _, bound := range []bool{false, true} {
		t.Run(fmt.Sprint("bound ", bound), func(t *testing.T) {
			h, f, p := withPacketProfile(t, "127.0.0.1", bound)
			h.mustRun("", "send", "gw1", "--public-ip", "198.19.7.7")
			m := fakePayloadRE.FindStringSubmatch(f.String())
			if m == nil {
				t.Fatalf("packets:\n%s", f.String())
			}
			payload, _ := hex.DecodeString(m[3])
			var src netip.Addr
			if bound {
				src = netip.MustParseAddr("198.19.7.7")
			}
			pd, _ := derive.NewPacket(p.Secret, p.ServerID, p.Params)
			claim, err := pd.Open(payload, 60000000, element(t, p, 60000000), src)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := fmt.Sprint(claim.Addrs); got != "[127.0.0.1 198.19.7.7]" {
				t.Errorf("claim %s", got)
			}
		})
	}
}

// TestProfilesPacket: profiles shows what a packet profile knocks with,
// one packet over the protocols that carry its payload (udp, icmp), not
// the sequence protocols.
func TestProfilesPacket(t *testing.T) {
	h, _, _ := withPacketProfile(t, "127.0.0.1", false)
	out := h.mustRun("", "profiles")
	if !regexp.MustCompile(`(?m)^gw1 .* 1 packet udp 20000-59999 +no$`).MatchString(out) {
		t.Errorf("profiles:\n%s\nwant gw1 knocking with 1 packet udp 20000-59999", out)
	}
}
