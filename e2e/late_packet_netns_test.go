package e2e

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// Each trial's timeline is logged, the slowest first (-v shows them
// all): the step's time left at the client's start, when the client
// said each packet left (-v; its step), when the server's kernel logged
// the packet and when it granted (its log), the probe's connects and
// the longest time between two. A late client start or a long probe
// gap is a busy CPU; a grant at the next step's start is the follow-up
// of a refused late packet.
//
//	sudo OTPKNOCK_LATE_TRIALS=20 go test ./e2e -run '^$' -bench LatePacket -benchtime 1x -v
func BenchmarkLatePacketKnockToOpen(b *testing.B) {
	trials, err := strconv.Atoi(os.Getenv("OTPKNOCK_LATE_TRIALS"))
	if err != nil || trials < 1 {
		b.Skip("set OTPKNOCK_LATE_TRIALS=N (N knocks per row, about 4 s each) to run it")
	}
	for _, skew := range []int{0, 1} {
		for _, mode := range []string{"wait", "probe"} {
			b.Run(fmt.Sprintf("skew%d/%s", skew, mode), func(b *testing.B) {
				p, store, log := latePacketWorld(b, skew)
				var ms []float64
				var traces []lateTrace
				for range trials {
					// 0.15 s before the end of the step after the next one.
					at := derive.StepStart(derive.Step(time.Now(), 2*time.Second)+2, 2*time.Second).Add(-150 * time.Millisecond)
					time.Sleep(time.Until(at))
					tr := lateTrial(b, p, store, log, mode)
					ms, traces = append(ms, tr.open), append(traces, tr)
				}
				slices.Sort(ms)
				q := func(f float64) float64 { return ms[min(len(ms)-1, int(f*float64(len(ms))))] }
				b.ReportMetric(q(0.5), "median-ms")
				b.ReportMetric(q(0.99), "p99-ms")
				b.ReportMetric(ms[len(ms)-1], "max-ms")
				// The slowest first: go test shows a benchmark's first
				// lines of log only (all with -v).
				slices.SortFunc(traces, func(x, y lateTrace) int { return cmp.Compare(y.open, x.open) })
				for _, tr := range traces {
					b.Logf("%s", tr)
				}
				b.Logf("skew %d, %s, %d knocks 0.15 s before the step's end: knock-to-open ms %v", skew, mode, len(ms), ms)
			})
		}
	}
}

// lateTrial knocks once and returns its timeline; open is
// knock-to-open in ms: with mode "wait", as send --wait reports it (first
// packet to the client's probe answered); with "probe", as
// bench/trials.py measures it (the client's start to the first of
// back-to-back connects bounded by 1 ms, from the client namespace, with
// send not waiting).
func lateTrial(b *testing.B, p *netnstest.Pair, store string, log *netnstest.Buffer, mode string) lateTrace {
	args := []string{"send", "pat", "-v", "--stun", "none", "--retries", "0"}
	if mode == "wait" {
		args = append(args, "--wait", "tcp/2222,3s")
	}
	cmd := p.Cmd(p.Client, append([]string{bins.Client}, args...)...)
	cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store)
	out := &stamped{}
	cmd.Stdout, cmd.Stderr = out, out
	from := len(log.String())
	t0 := time.Now()
	tr := lateTrace{left: ms(derive.Left(t0, 2*time.Second)), ownWait: mode == "wait"}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var opened time.Duration
	if mode == "probe" {
		opened = tr.probe(b, p, t0)
	}
	err := cmd.Wait()
	text := tr.clientLog(out.all(), t0)
	if mode == "wait" {
		m := openAfterRE.FindStringSubmatch(text)
		if err != nil || m == nil {
			b.Fatalf("send: %v\n%s", err, text)
		}
		tr.open, _ = strconv.ParseFloat(m[1], 64)
	} else {
		if err != nil || opened == 0 {
			b.Fatalf("send: %v, opened after %v\n%s", err, opened, text)
		}
		tr.open = ms(opened)
	}
	time.Sleep(50 * time.Millisecond) // the server's log of the follow-up, if any
	tr.serverLog(log.String()[from:], t0)
	return tr
}

// probe connects to the service from the client namespace back to
// back, each connect bounded by 1 ms, until one succeeds (or 5 s pass),
// counting the connects and the longest time between two; it returns
// the time from t0 to the success, 0 when none did.
func (t *lateTrace) probe(b *testing.B, p *netnstest.Pair, t0 time.Time) time.Duration {
	var opened time.Duration
	p.Do(b, p.Client, func() {
		last := t0
		for time.Since(t0) < 5*time.Second {
			now := time.Now()
			t.gap, last = max(t.gap, ms(now.Sub(last))), now
			t.tries++
			if connectWithin(b, netip.AddrPortFrom(p.ServerV4, 2222), time.Millisecond) {
				opened = time.Since(t0)
				return
			}
		}
	})
	return opened
}

// clientLog notes when each packet the client reported left (and its
// step) and returns the client's whole output.
func (t *lateTrace) clientLog(lines []stampedLine, t0 time.Time) string {
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(l.text)
		if m := packetSentRE.FindStringSubmatch(l.text); m != nil {
			t.sent = append(t.sent, ms(l.at.Sub(t0)))
			t.steps = append(t.steps, m[1])
		}
	}
	return text.String()
}

var (
	packetSentRE = regexp.MustCompile(`^packet \d+ .*\(step (\d+),`)
	logTimeRE    = regexp.MustCompile(`time=(\S+)`)
	logAttrRE    = regexp.MustCompile(`(msg|step|latency|reason)=("[^"]*"|\S+)`)
)

// serverLog reads the server's lines about the trial: the first grant
// (time, latency, step) and every other line naming the user.
func (t *lateTrace) serverLog(lines string, t0 time.Time) {
	for _, line := range strings.Split(lines, "\n") {
		if !strings.Contains(line, "user=pat") {
			continue
		}
		m := logTimeRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		attrs := map[string]string{}
		for _, a := range logAttrRE.FindAllStringSubmatch(line, -1) {
			attrs[a[1]] = a[2]
		}
		lat, _ := time.ParseDuration(attrs["latency"])
		if attrs["msg"] == "grant" && t.step == "" {
			t.grant, t.nflog, t.step = ms(at.Sub(t0)), ms(at.Add(-lat).Sub(t0)), attrs["step"]
			continue
		}
		t.other = append(t.other, fmt.Sprintf("%.0f ms %s step %s %s", ms(at.Sub(t0)), attrs["msg"], attrs["step"], attrs["reason"]))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// lateTrace is one trial's timeline, in ms from the client's start:
// enough to tell an outlier's cause (see trace.String).
type lateTrace struct {
	left    float64   // of the step, at the client's start
	sent    []float64 // each packet the client reported (-v) as sent
	steps   []string  // the step of each packet
	nflog   float64   // the kernel's timestamp of the granted packet
	grant   float64   // the server's grant (its log)
	step    string    // the granted step
	other   []string  // the server's other lines about the user
	tries   int       // the probe's connects
	gap     float64   // the longest time between two connects' starts
	open    float64   // knock-to-open as the row counts it
	ownWait bool      // open is send --wait's own figure
}

// String says where the trial's time went.
func (t lateTrace) String() string {
	s := fmt.Sprintf("open %.1f ms (%.0f ms of the step left): sent %v (steps %v), packet logged %.1f, granted %.1f (step %s)",
		t.open, t.left, fmtMs(t.sent), t.steps, t.nflog, t.grant, t.step)
	if !t.ownWait {
		s += fmt.Sprintf(", probe %d connects, longest gap %.1f", t.tries, t.gap)
	}
	if len(t.other) > 0 {
		s += "; server: " + strings.Join(t.other, " | ")
	}
	return s
}

func fmtMs(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// stamped is a Writer that notes when each line of the client's -v
// output arrived.
type stamped struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []stampedLine
}

type stampedLine struct {
	at   time.Time
	text string
}

func (s *stamped) Write(p []byte) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	for {
		line, err := s.buf.ReadString('\n')
		if err != nil {
			s.buf.Reset()
			s.buf.WriteString(line)
			return len(p), nil
		}
		s.lines = append(s.lines, stampedLine{now, line})
	}
}

func (s *stamped) all() []stampedLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

// latePacketWorld starts a server with 2 s steps, the given skew and a
// 1 s grant, and one packet user pat (tcp/2222) imported into a client
// store; it returns the namespaces and the store.
func latePacketWorld(b *testing.B, skew int) (*netnstest.Pair, string, *netnstest.Buffer) {
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
	return p, store, log
}
