package clientcmd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/sender"
	"github.com/otpknock/otpknock/sender/sendertest"
)

// withProfile imports alice's fixture URI (testdata/alice.uri) knocking
// host, with edits, as profile "gw1"; the fake clock sits 10 s into
// step 60000000.
func withProfile(t *testing.T, host string, edits ...func(*provision.Account)) (*harness, *sendertest.Fake) {
	h := newHarness(t)
	start := derive.StepStart(60000000, 30*time.Second)
	h.clock.Set(start.Add(10 * time.Second))
	f := &sendertest.Fake{Clock: h.clock, Start: start}
	h.writer = f
	acct, uri := fixture(t, "alice", both(append([]func(*provision.Account){at(host)}, edits...)...))
	h.acct = acct
	h.mustRun(uri, "import", "-")
	return h, f
}

func TestSendAndStepReuse(t *testing.T) {
	h, f := withProfile(t, "198.18.0.1")
	out := h.mustRun("", "send", "gw1")
	if out != "gw1: sent 4 knocks to 198.18.0.1 (step 60000000)\n" {
		t.Errorf("send: %q", out)
	}
	if n := strings.Count(f.String(), "-> 198.18.0.1"); n != 4 {
		t.Errorf("%d packets, want 4:\n%s", n, f.String())
	}
	st, _ := profile.LoadState(profile.StatePath(h.env["OTPKNOCK_CLIENT_CONFIG"]))
	if v, ok := st.LastStep("gw1"); !ok || v != 60000000 {
		t.Errorf("state: step %d, %v", v, ok)
	}
	_, stderr, err := h.run("", "send", "198.18.0.1", "-v")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "step 60000000 already used by this profile: waiting 19.9s for the next step") ||
		!strings.Contains(stderr, "knock 4/4") || !strings.Contains(f.String(), " 30.00s ") {
		t.Errorf("second send in the same step: stderr:\n%s\npackets:\n%s", stderr, f.String())
	}
}

func TestSendWait(t *testing.T) {
	h, f := withProfile(t, "198.18.0.1", func(a *provision.Account) {
		a.Open = []derive.Knock{{Proto: derive.UDP, Port: 1194}, {Proto: derive.TCP, Port: 2222}}
	})
	h.prober = &sendertest.FakeProber{Clock: h.clock, Open: func(time.Time) bool { return true }}
	out := h.mustRun("", "send", "gw1", "--wait")
	if want := fmt.Sprintf("gw1: 198.18.0.1:2222 open %d ms after the first knock (step 60000000, attempt 1)\n", 4*sender.DefaultGap/time.Millisecond); out != want {
		t.Errorf("send --wait: %q", out)
	}
	h.prober = &sendertest.FakeProber{Clock: h.clock, Open: func(time.Time) bool { return false }}
	_, _, err := h.run("", "send", "gw1", "--wait", "tcp/22,2s", "--retries", "1")
	if !errors.Is(err, sender.ErrStillClosed) || cli.ExitCode(err) != cli.ExitNotOpened {
		t.Fatalf("closed service: err = %v (exit %d), want still closed, exit 1", err, cli.ExitCode(err))
	}
	if !strings.Contains(err.Error(), "198.18.0.1:22") {
		t.Errorf("error does not name the service: %v", err)
	}
	if n := strings.Count(f.String(), "\n") + 1; n != 4+8 {
		t.Errorf("%d packets, want 4 + 2 sequences of 4", n)
	}
}

func TestSendDryRun(t *testing.T) {
	h, f := withProfile(t, "2001:2::1")
	out := h.mustRun("", "send", "gw1", "--dry-run")
	if !strings.Contains(out, "knock 1/4") || !strings.Contains(out, "dry run: nothing sent (step 60000000: ") {
		t.Errorf("dry run output:\n%s", out)
	}
	if f.String() != "" {
		t.Errorf("dry run sent packets:\n%s", f.String())
	}
	if _, err := os.Stat(profile.StatePath(h.env["OTPKNOCK_CLIENT_CONFIG"])); !os.IsNotExist(err) {
		t.Errorf("dry run recorded a step: %v", err)
	}
}

func TestSendBound(t *testing.T) {
	h, f := withProfile(t, "198.18.0.1", bound)
	h.mustRun("", "send", "gw1", "--public-ip", "198.19.7.7")
	want := serverSequence(t, h.acct, h.clock.Now(), netip.MustParseAddr("198.19.7.7"))
	for _, k := range want {
		if !strings.Contains(f.String(), " "+k+" -> ") {
			t.Errorf("packet %s of the bound sequence not sent:\n%s", k, f.String())
		}
	}
}

// TestSendWaitBeforeTarget checks that a service after a bare --wait is
// its value, before TARGET as after it.
func TestSendWaitBeforeTarget(t *testing.T) {
	for _, args := range [][]string{
		{"send", "--wait", "tcp/2222,2s", "gw1"},
		{"send", "gw1", "--wait", "tcp/2222,2s"},
		{"send", "--wait=tcp/2222,2s", "gw1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			h, _ := withProfile(t, "198.18.0.1")
			h.prober = &sendertest.FakeProber{Clock: h.clock, Open: func(time.Time) bool { return true }}
			out := h.mustRun("", args...)
			if !strings.HasPrefix(out, "gw1: 198.18.0.1:2222 open ") {
				t.Errorf("output %q, want the service 198.18.0.1:2222 open", out)
			}
		})
	}
}

// TestSendDryRunUnresolved checks that a dry run to a host name prints at
// once what would be sent without resolving the name (.invalid never
// resolves): the host, the source, the wait target, each knock.
func TestSendDryRunUnresolved(t *testing.T) {
	h, f := withProfile(t, "knock.invalid")
	out, _, err := h.run("", "send", "gw1", "--dry-run", "--wait")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"profile gw1: sequence of 4 knocks to knock.invalid (not resolved in a dry run)\n",
		"source: the route's to knock.invalid\n",
		"wait: tcp knock.invalid:22, 5s per attempt\n",
		"knock 4/4 ", " -> knock.invalid (step 60000000, dry run, would send by ",
		"dry run: nothing sent (step 60000000: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if f.String() != "" {
		t.Errorf("a dry run sent:\n%s", f.String())
	}

	b, _ := withProfile(t, "knock.invalid", bound)
	_, _, err = b.run("", "send", "gw1", "--dry-run")
	if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "--public-ip") {
		t.Errorf("bound dry run without --public-ip: %v (exit %d), want exit 2 asking for --public-ip", err, cli.ExitCode(err))
	}
	out = b.mustRun("", "send", "gw1", "--dry-run", "--public-ip", "198.18.7.7")
	if !strings.Contains(out, "bound source: 198.18.7.7\n") {
		t.Errorf("bound dry run output lacks its source:\n%s", out)
	}

	p, pf, _ := withPacketProfile(t, "knock.invalid", false)
	out = p.mustRun("", "send", "gw1", "--dry-run")
	if !strings.Contains(out, "claim: not resolved in a dry run") || !strings.Contains(out, "-byte payload, dry run, would send by ") {
		t.Errorf("packet dry run output:\n%s", out)
	}
	if pf.String() != "" {
		t.Errorf("a packet dry run sent:\n%s", pf.String())
	}
}

func TestSendErrors(t *testing.T) {
	h, f := withProfile(t, "198.18.0.1")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"send", "gw1", "--wait", "udp/22"}, "only TCP can be checked"},
		{[]string{"send", "--wait", "udp/22", "gw1"}, "only TCP can be checked"},
		{[]string{"send", "--wait", "gw1", "gw1"}, "want one TARGET"},
		{[]string{"send", "gw1", "--wait", "tcp/22,forever"}, "--wait: timeout"},
		{[]string{"send", "gw1", "--gap", "-1s"}, "--gap"},
		{[]string{"send", "gw1", "--retries", "99"}, "--retries"},
		{[]string{"send", "gw1", "--public-ip", "198.18.0.9"}, "not source-bound"},
		{[]string{"send", "gw1", "-6"}, "not an IPv6 address"},
		{[]string{"send", "gw1", "extra"}, "want one TARGET"},
		{[]string{"connect", "gw1", "0"}, "PORT:"},
		{[]string{"connect", "gw1"}, "TARGET and PORT"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := h.run("", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || cli.ExitCode(err) != cli.ExitUsage {
				t.Errorf("err = %v (exit %d), want exit 2 and %q", err, cli.ExitCode(err), tt.want)
			}
		})
	}
	if f.String() != "" {
		t.Errorf("bad invocations sent packets:\n%s", f.String())
	}
}

// TestConnectRelays knocks (fake writer) and relays stdin/stdout to a
// real TCP service on loopback.
func TestConnectRelays(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the client half-closes
		c.Write([]byte("echo: " + string(b)))
	}()
	h, f := withProfile(t, "127.0.0.1")
	h.realClock = true
	port := ln.Addr().(*net.TCPAddr).Port
	out, stderr, err := h.run("hello service\n", "connect", "127.0.0.1", strconv.Itoa(port), "--gap", "1ms")
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr)
	}
	if out != "echo: hello service\n" {
		t.Errorf("relayed %q", out)
	}
	if strings.Count(f.String(), "-> 127.0.0.1") != 4 {
		t.Errorf("packets:\n%s", f.String())
	}
}

// TestConnectTriesServiceFirst checks that connect right after a knock of
// the same profile (send --wait, then ssh) relays to the service that is
// still open instead of waiting for the next step to knock again, and
// knocks when the service is closed or the last knock is old.
func TestConnectTriesServiceFirst(t *testing.T) {
	tests := []struct {
		name      string
		later     time.Duration // from the send to the connect
		open      func(probes int) bool
		wantSent  int // packets the connect sends
		wantTries int // probes the connect makes
	}{
		{"open after send", time.Second, func(int) bool { return true }, 0, 1},
		{"closed after send", time.Second, func(n int) bool { return n > 1 }, 4, 2},
		{"knock two steps ago", 61 * time.Second, func(int) bool { return true }, 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f := withProfile(t, "198.18.0.1")
			h.mustRun("", "send", "gw1")
			h.clock.Advance(tt.later)
			sent := strings.Count(f.String(), "\n") + 1
			p := &sendertest.FakeProber{Clock: h.clock}
			p.Open = func(time.Time) bool { return tt.open(p.Tries) }
			h.prober = p
			start := h.clock.Now()
			if _, stderr, err := h.run("", "connect", "gw1", "22"); err != nil {
				t.Fatalf("connect: %v\n%s", err, stderr)
			}
			if got := strings.Count(f.String(), "\n") + 1 - sent; got != tt.wantSent {
				t.Errorf("connect sent %d packets, want %d:\n%s", got, tt.wantSent, f.String())
			}
			if p.Tries != tt.wantTries {
				t.Errorf("connect probed %d times, want %d", p.Tries, tt.wantTries)
			}
			if tt.wantSent == 0 && h.clock.Now() != start {
				t.Errorf("connect to an open service waited %v", h.clock.Now().Sub(start))
			}
		})
	}
}

// TestSendWaitRightAfterAKnock: send --wait in the step the profile
// just knocked tries the service first, as connect does: open, it says
// so at once and sends nothing (no wait for the next step); closed, it
// knocks in the next step.
func TestSendWaitRightAfterAKnock(t *testing.T) {
	h, f := withProfile(t, "198.18.0.1")
	open := true
	h.prober = &sendertest.FakeProber{Clock: h.clock, Open: func(time.Time) bool { return open }}
	h.mustRun("", "send", "gw1", "--wait")
	sent, before := f.String(), h.clock.Now()
	out, stderr, err := h.run("", "send", "gw1", "--wait")
	if err != nil {
		t.Fatal(err)
	}
	if want := "gw1: 198.18.0.1:22 still open from step 60000000's knock (no knock sent)\n"; out != want {
		t.Errorf("second send --wait: %q, want %q (stderr %q)", out, want, stderr)
	}
	if f.String() != sent || h.clock.Now().Sub(before) > 0 {
		t.Errorf("second send --wait knocked or waited %v:\n%s", h.clock.Now().Sub(before), f.String())
	}
	open = false
	_, stderr, _ = h.run("", "send", "gw1", "--wait", "--retries", "0", "-v")
	if !strings.Contains(stderr, "198.18.0.1:22 closed since step 60000000's knock; knocking") || !strings.Contains(stderr, "(step 60000001") {
		t.Errorf("closed: stderr:\n%s", stderr)
	}
}

// TestSendWaitHelp: help shows --wait's optional service as one
// bracketed value, not pflag's optional string `[="default"]`.
func TestSendWaitHelp(t *testing.T) {
	h := newHarness(t)
	out := h.mustRun("", "send", "--help")
	line := regexp.MustCompile(`(?m)^ +--wait.*$`).FindString(out)
	if !strings.HasPrefix(strings.TrimSpace(line), "--wait [tcp/PORT[,TIMEOUT]]   after knocking") || strings.Contains(line, `="`) {
		t.Errorf("send --help shows --wait as:\n%s", line)
	}
}
