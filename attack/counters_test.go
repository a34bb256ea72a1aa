//go:build linux

package attack

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// metricsAddr is where the arena's server serves its metrics, on the
// loopback of its own namespace.
const metricsAddr = "127.0.0.1:9557"

// counts are the server's counters of the knock range: the packets its
// firewall dropped there (TCP and UDP to its ports, ICMP echo requests) and those it logged to the daemon (both
// families), the packets the daemon read (handled, lost or malformed)
// and the grants it made (sequences and packet knocks).
type counts struct{ dropped, logged, read, grants int }

// isEchoRequest says whether an iptables or ip6tables listing's line
// matches echo requests: ICMP knocks, whose range is the sequence
// number's.
func isEchoRequest(line string) bool {
	return strings.Contains(line, " icmptype 8 ") || strings.Contains(line, " ipv6-icmptype 128 ")
}

// counts reads the server's firewall counters, then its metrics.
func (a *arena) counts() counts {
	a.t.Helper()
	c := a.firewallCounts()
	m := a.metrics()
	c.read = int(m[`otpknock_packets_total{proto="tcp"}`] + m[`otpknock_packets_total{proto="udp"}`] +
		m[`otpknock_packets_total{proto="icmp"}`] + m["otpknock_nflog_lost_total"] + m["otpknock_nflog_malformed_total"])
	c.grants = int(m[`otpknock_sequences_total{outcome="grant"}`] + m[`otpknock_packet_knocks_total{outcome="grant"}`])
	return c
}

// firewallCounts reads the packets the server's firewall dropped in the
// knock range and logged to the daemon, over both families.
func (a *arena) firewallCounts() counts {
	a.t.Helper()
	var c counts
	rng := fmt.Sprintf("dpts:%d:%d", a.cfg.Params.PortMin, a.cfg.Params.PortMax)
	for _, cmd := range []string{"iptables", "ip6tables"} {
		for line := range strings.Lines(a.l.MustRun(a.t, a.l.Server, cmd, "-w", "-n", "-v", "-x", "-L", "OTPKNOCK")) {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			pkts, err := strconv.Atoi(f[0])
			switch {
			case err != nil: // the chain's heading
			case f[2] == "NFLOG":
				c.logged += pkts
			case f[2] == "DROP" && (strings.Contains(line, rng) || isEchoRequest(line)):
				c.dropped += pkts
			}
		}
	}
	return c
}

// metrics scrapes the server's /metrics from inside its namespace.
func (a *arena) metrics() map[string]float64 {
	a.t.Helper()
	var body string
	var err error
	a.l.Do(a.t, a.l.Server, func() { body, err = get(metricsAddr, "/metrics") })
	if err != nil {
		a.t.Fatalf("scraping the server's metrics: %v", err)
	}
	m := map[string]float64{}
	for line := range strings.Lines(body) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			m[name] = v
		}
	}
	return m
}

// get fetches path over HTTP/1.0 on a connection dialled from the
// calling thread (an http.Client dials from other goroutines, outside
// the namespace).
func get(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.Contains(status, " 200 ") {
		return "", fmt.Errorf("GET %s: %s", path, strings.TrimSpace(status))
	}
	b, err := io.ReadAll(r)
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	return body, err
}

// seen waits until the server has counted the packets sent since
// before: sent() more dropped in the knock range, and every packet its
// firewall logged since the server started read by the daemon, on two reads in a row with sent()
// unchanged. Only then can a test say that nothing they did opened
// anything. It gives up after 10 s (500 reads). The counts it returns
// come from one more scrape, which waits for the daemon to finish the
// packet it is handling (both hold its state's lock), so their grants
// include every packet counted.
func (a *arena) seen(before counts, sent func() int) counts {
	a.t.Helper()
	var c counts
	held, want := false, -1
	for range 500 {
		n := sent()
		c = a.counts()
		ok := c.dropped-before.dropped >= n && c.read >= c.logged-a.logBase
		if ok && held && n == want {
			c = a.counts()
			a.t.Logf("the server counted %d packets dropped in its knock range (%d sent), %d logged, %d read", c.dropped-before.dropped, n, c.logged-before.logged, c.read-before.read)
			return c
		}
		held, want = ok, n
		time.Sleep(20 * time.Millisecond)
	}
	a.t.Fatalf("after 10 s the server counted %d of %d packets dropped in the knock range and read %d of %d logged",
		c.dropped-before.dropped, want, c.read, c.logged-a.logBase)
	return c
}

// sentCount counts the packets of proto forwarded by the router into
// the server's knock range from now on: what the server is sent, for a
// tool (nmap) that says nothing of it.
func (a *arena) sentCount(proto string) func() int {
	a.t.Helper()
	comment := "otpknock-attack-" + proto
	rule := []string{"FORWARD", "-d", a.l.ServerV4.String(), "-p", proto,
		"--dport", fmt.Sprintf("%d:%d", a.cfg.Params.PortMin, a.cfg.Params.PortMax), "-m", "comment", "--comment", comment}
	a.l.MustRun(a.t, a.l.Router, append([]string{"iptables", "-w", "-I"}, rule...)...)
	a.t.Cleanup(func() { a.l.Cmd(a.l.Router, append([]string{"iptables", "-w", "-D"}, rule...)...).Run() })
	return func() int {
		n := 0
		for line := range strings.Lines(a.l.MustRun(a.t, a.l.Router, "iptables", "-w", "-n", "-v", "-x", "-L", "FORWARD")) {
			if strings.Contains(line, "/* "+comment+" */") {
				v, _ := strconv.Atoi(strings.Fields(line)[0])
				n += v
			}
		}
		return n
	}
}
