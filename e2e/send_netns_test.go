package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
)

const nobody = 65534

var testSecret = []byte("otpknock integration test secret")

// silence makes the server namespace drop the client's TCP, UDP and echo
// requests, as the otpknock firewall does, so nothing answers a knock.
// Neighbour discovery and ARP still work.
func silence(t *testing.T, p *netnstest.Pair, acceptTCP ...int) {
	for _, port := range acceptTCP {
		p.MustRun(t, p.Server, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", strconv.Itoa(port), "-j", "ACCEPT")
		p.MustRun(t, p.Server, "ip6tables", "-A", "INPUT", "-p", "tcp", "--dport", strconv.Itoa(port), "-j", "ACCEPT")
	}
	for _, r := range [][]string{
		{"iptables", "-p", "tcp"}, {"iptables", "-p", "udp"}, {"iptables", "-p", "icmp", "--icmp-type", "echo-request"},
		{"ip6tables", "-p", "tcp"}, {"ip6tables", "-p", "udp"}, {"ip6tables", "-p", "ipv6-icmp", "--icmpv6-type", "echo-request"},
	} {
		p.MustRun(t, p.Server, append(append([]string{r[0], "-A", "INPUT"}, r[1:]...), "-j", "DROP")...)
	}
}

// clientStore writes profiles named after their protocols (tcp, udp,
// icmp) knocking host, in a directory owned by uid.
func clientStore(t *testing.T, host netip.Addr, uid int, protos ...derive.Proto) string {
	dir, err := os.MkdirTemp("", "otpknock-client-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "cfg", "client.yaml")
	s := &profile.Store{Path: path}
	for _, pr := range protos {
		params := derive.DefaultParams()
		params.Protocols = derive.Protocols(pr)
		s.Add(profile.Profile{Name: pr.String(), Account: provision.Account{ServerID: "gw1", User: "alice",
			Host: host.String(), Secret: testSecret, Params: params,
			Open: []derive.Knock{{Proto: derive.TCP, Port: 2222}}}})
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, uid) })
	return path
}

// client runs the binary in the client namespace, as root or as nobody.
func client(p *netnstest.Pair, store string, asNobody bool, args ...string) *exec.Cmd {
	argv := append([]string{bins.Client}, args...)
	if asNobody {
		argv = append([]string{"setpriv", "--reuid", strconv.Itoa(nobody), "--regid", strconv.Itoa(nobody), "--clear-groups", "--"}, argv...)
	}
	cmd := p.Cmd(p.Client, argv...)
	cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store, "HOME=/nonexistent")
	return cmd
}

var (
	knockLineRE = regexp.MustCompile(`knock \d+/\d+ (\S+)\s+-> \S+ \(step (\d+), ([^)]+)\)`)
	packetRE    = regexp.MustCompile(`^IP6? \S+ > (\S+): (.*)$`)
	echoSeqRE   = regexp.MustCompile(`echo request, id \d+, seq (\d+)`)
)

// wireKnock turns a tcpdump line into "tcp/PORT", "udp/PORT" or
// "icmp/SEQ"; TCP segments other than a bare SYN are marked as such.
func wireKnock(line string) string {
	m := packetRE.FindStringSubmatch(line)
	if m == nil {
		return "unparsed: " + line
	}
	dst, rest := m[1], m[2]
	port := dst[strings.LastIndex(dst, ".")+1:]
	switch {
	case strings.HasPrefix(rest, "Flags [S],"):
		return "tcp/" + port
	case strings.HasPrefix(rest, "Flags"):
		return "tcp/" + port + " NOT A SYN: " + rest
	case strings.HasPrefix(rest, "UDP"):
		return "udp/" + port
	}
	if sm := echoSeqRE.FindStringSubmatch(rest); sm != nil {
		return "icmp/" + sm[1]
	}
	return "unexpected: " + line
}

// TestSendOnTheWire checks, with a capture on the server's side, that
// the packets on the wire are exactly the derived knocks, one each, with
// no SYN retransmission: TCP, UDP and ICMP, over IPv4 and IPv6, as root
// (raw sockets) and as nobody (connect and ping sockets).
func TestSendOnTheWire(t *testing.T) {
	netnstest.Require(t, "tcpdump", "setpriv", "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	silence(t, p)
	for _, fam := range []struct {
		name     string
		src, dst netip.Addr
		flag     string
	}{{"ipv4", p.ClientV4, p.ServerV4, "-4"}, {"ipv6", p.ClientV6, p.ServerV6, "-6"}} {
		for _, asNobody := range []bool{false, true} {
			who := map[bool]string{false: "root", true: "nobody"}[asNobody]
			t.Run(fam.name+"/"+who, func(t *testing.T) {
				uid := 0
				pingRange := "1 0" // no ping sockets: root falls back to raw
				if asNobody {
					uid, pingRange = nobody, "65534 65534"
				}
				p.MustRun(t, p.Client, "sysctl", "-q", "-w", "net.ipv4.ping_group_range="+pingRange)
				store := clientStore(t, fam.dst, uid, derive.TCP, derive.UDP, derive.ICMP)
				capture := p.StartCapture(t, p.Server, fmt.Sprintf("src host %s and (tcp or udp or icmp or (icmp6 and ip6[40] == 128))", fam.src))
				var want []string
				hows := map[string]bool{}
				for _, name := range []string{"tcp", "udp", "icmp"} {
					out, err := client(p, store, asNobody, "send", name, fam.flag, "-v").CombinedOutput()
					if err != nil {
						t.Fatalf("send %s: %v\n%s", name, err, out)
					}
					lines := knockLineRE.FindAllStringSubmatch(string(out), -1)
					if len(lines) != 4 {
						t.Fatalf("send %s -v printed %d knock lines:\n%s", name, len(lines), out)
					}
					step, _ := strconv.ParseUint(lines[0][2], 10, 64)
					params := derive.DefaultParams()
					params.Protocols = derive.Protocols(map[string]derive.Proto{"tcp": derive.TCP, "udp": derive.UDP, "icmp": derive.ICMP}[name])
					ks, err := derive.Sequence(testSecret, "gw1", params, step, netip.Addr{})
					if err != nil {
						t.Fatal(err)
					}
					for i, k := range ks {
						want = append(want, k.String())
						if lines[i][1] != k.String() {
							t.Errorf("send %s printed knock %d as %s, derived %s", name, i+1, lines[i][1], k)
						}
						hows[name+": "+lines[i][3]] = true
					}
				}
				// Quiet long enough for a SYN retransmission (1 s) to show.
				var got []string
				for _, l := range capture.Stop(1500 * time.Millisecond) {
					got = append(got, wireKnock(l))
				}
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(want, got) {
					t.Errorf("on the wire:\n%s\nderived:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				wantHows := []string{"icmp: raw socket", "tcp: raw SYN", "udp: udp socket"}
				if asNobody {
					wantHows = []string{"icmp: ping socket", "tcp: connect", "udp: udp socket"}
				}
				gotHows := slices.Sorted(func(yield func(string) bool) {
					for h := range hows {
						if !yield(h) {
							return
						}
					}
				})
				if !slices.Equal(wantHows, gotHows) {
					t.Errorf("sent with %v, want %v", gotHows, wantHows)
				}
			})
		}
	}
}

// TestSendICMPWithoutPingSockets checks the error an unprivileged user
// gets when the system allows no ping sockets.
func TestSendICMPWithoutPingSockets(t *testing.T) {
	netnstest.Require(t, "setpriv", "sysctl")
	p := netnstest.NewPair(t)
	p.MustRun(t, p.Client, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0")
	store := clientStore(t, p.ServerV4, nobody, derive.ICMP)
	var stderr bytes.Buffer
	cmd := client(p, store, true, "send", "icmp")
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2", err)
	}
	// Near the end of a step the client first says it waits for the
	// next one; the error is the one other line.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.Contains(l, "for the next step") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "net.ipv4.ping_group_range") {
		t.Errorf("stderr %q should be one line naming net.ipv4.ping_group_range", stderr.String())
	}
}

// TestWaitAndConnect knocks, waits for a service in the server namespace
// and relays bytes both ways through otpknock connect, over IPv4 and
// IPv6; a service that stays closed exits 1.
func TestWaitAndConnect(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	silence(t, p, 2222)
	ln := p.Listen(t, p.Server, "tcp", "[::]:2222")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write(bytes.ToUpper(b))
			}()
		}
	}()
	for _, dst := range []netip.Addr{p.ServerV4, p.ServerV6} {
		t.Run(dst.String(), func(t *testing.T) {
			// A store each: a profile uses a step once, and the client
			// would wait for the next step between the commands.
			store := clientStore(t, dst, 0, derive.TCP)
			out, err := client(p, store, false, "send", "tcp", "--wait").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "open") {
				t.Fatalf("send --wait: %v\n%s", err, out)
			}
			cmd := client(p, clientStore(t, dst, 0, derive.TCP), false, "connect", dst.String(), "2222", "--profile", "tcp")
			cmd.Stdin = strings.NewReader("ping through the door\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("connect: %v\n%s", err, stderr.String())
			}
			if stdout.String() != "PING THROUGH THE DOOR\n" {
				t.Errorf("relayed %q", stdout.String())
			}
			closed := client(p, clientStore(t, dst, 0, derive.TCP), false, "send", "tcp", "--wait", "tcp/2223,1s", "--retries", "0")
			out, err = closed.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("closed service: %v, want exit 1\n%s", err, out)
			}
		})
	}
}
