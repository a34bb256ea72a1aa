//go:build linux

package attack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/packettest"
	"golang.org/x/sys/unix"
)

// nlMessage is a netlink message of type typ around body (native byte
// order, as the kernel writes them).
func nlMessage(typ uint16, body []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(16+len(body)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, make([]byte, 10)...) // flags, sequence number, port id
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlAttr(typ uint16, v []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nflogMessage is the NFLOG packet message the kernel would send for
// pkt logged to group: nfgenmsg (family, version, group), the packet
// header attribute (hardware protocol, hook) and the payload.
func nflogMessage(group uint16, pkt []byte) []byte {
	fam, hw := byte(unix.AF_INET), uint16(0x0800)
	if pkt[0]>>4 == 6 {
		fam, hw = unix.AF_INET6, 0x86dd
	}
	body := []byte{fam, 0, byte(group >> 8), byte(group)}
	body = append(body, nlAttr(1, []byte{byte(hw >> 8), byte(hw), 1, 0})...) // NFULA_PACKET_HDR, NF_INET_LOCAL_IN
	body = append(body, nlAttr(9, pkt)...)                                   // NFULA_PAYLOAD
	return nlMessage(4<<8, body)                                             // NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET
}

// nflogPeer returns the port id the kernel sends the server's NFLOG
// group to (/proc/net/netfilter/nfnetlink_log in its namespace) and
// checks that a socket of the server process has it.
func (a *arena) nflogPeer() uint32 {
	a.t.Helper()
	var peer uint64
	for line := range strings.Lines(a.l.MustRun(a.t, a.l.Server, "cat", "/proc/net/netfilter/nfnetlink_log")) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == strconv.Itoa(int(a.cfg.NFLOGGroup)) {
			peer, _ = strconv.ParseUint(f[1], 10, 32)
		}
	}
	if peer == 0 {
		a.t.Fatalf("no NFLOG instance of group %d in the server's namespace", a.cfg.NFLOGGroup)
	}
	// /proc/net/netlink: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode.
	inode := ""
	for line := range strings.Lines(a.l.MustRun(a.t, a.l.Server, "cat", "/proc/net/netlink")) {
		if f := strings.Fields(line); len(f) >= 10 && f[1] == strconv.Itoa(unix.NETLINK_NETFILTER) && f[2] == strconv.FormatUint(peer, 10) {
			inode = f[9]
		}
	}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", a.server.Process.Pid))
	for _, fd := range fds {
		if target, _ := os.Readlink(fd); inode != "" && target == "socket:["+inode+"]" {
			return uint32(peer)
		}
	}
	a.t.Fatalf("the NFLOG group's port id %d (socket inode %q) is no socket of the server process %d", peer, inode, a.server.Process.Pid)
	return 0
}

// sendWithoutNetAdmin sends b to to over fd from a thread that dropped
// CAP_NET_ADMIN from its effective capabilities (root otherwise): what
// an unprivileged process may do. The thread ends with the call.
func sendWithoutNetAdmin(fd int, b []byte, to unix.Sockaddr) (sendErr, setupErr error) {
	type result struct{ send, setup error }
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, and the capabilities it dropped,
		// end with this goroutine.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- result{setup: fmt.Errorf("capget: %w", err)}
			return
		}
		data[0].Effective &^= 1 << unix.CAP_NET_ADMIN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- result{setup: fmt.Errorf("capset: %w", err)}
			return
		}
		done <- result{send: unix.Sendto(fd, b, 0, to)}
	}()
	r := <-done
	return r.send, r.setup
}

// TestForgedNFLOG sends NFLOG packet messages straight to the server's
// NFLOG socket from another netlink socket in its namespace: a whole
// sequence of a user for the current step from the attacker's
// addresses (one message a datagram over IPv4, all in one datagram over
// IPv6), malformed datagrams, and a burst of forged first knocks from
// random sources. Without CAP_NET_ADMIN the kernel refuses to send
// them; with it (root here) they arrive, and the server must refuse
// every one as not the kernel's (otpknock_nflog_forged_total counts
// them exactly, one log line a second at most), open nothing, count no
// packet, and live. The same sequence sent as packets from the
// attacker then opens: the forged messages were valid knocks, refused
// for their sender alone.
func TestForgedNFLOG(t *testing.T) {
	a := newArena(t, 3, nil)
	l := a.l
	to := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: a.nflogPeer()}
	var fd int
	var err error
	l.Do(t, l.Server, func() {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	group := a.cfg.NFLOGGroup
	att6 := netip.MustParseAddr("2001:2:2::66")

	a.waitFreshStep(1500 * time.Millisecond)
	// u1 (not source-bound): u0 is the positive control's.
	ks := a.seqOf(a.users[1], a.step(), netip.Addr{})
	probe := nflogMessage(group, packettest.Knock(l.AttackerV4, l.ServerV4, ks[0]))
	sendErr, setupErr := sendWithoutNetAdmin(fd, probe, to)
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	figure(t, "forged NFLOG messages: sent without CAP_NET_ADMIN", "refused by the kernel: %v", sendErr)
	if !errors.Is(sendErr, unix.EPERM) {
		t.Errorf("sending to the NFLOG socket without CAP_NET_ADMIN: %v, want EPERM", sendErr)
	}

	m0 := a.metrics()
	var dgrams [][]byte
	for _, k := range ks {
		dgrams = append(dgrams, nflogMessage(group, packettest.Knock(l.AttackerV4, l.ServerV4, k)))
	}
	var batch []byte
	for _, k := range ks {
		batch = append(batch, nflogMessage(group, packettest.Knock(att6, l.ServerV6, k))...)
	}
	dgrams = append(dgrams, batch)
	rng := rand.New(rand.NewPCG(3, 3))
	junk := make([]byte, 100)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	past := nflogMessage(group, packettest.Knock(l.AttackerV4, l.ServerV4, ks[0]))
	binary.NativeEndian.PutUint32(past, uint32(len(past)+64)) // its length runs past the datagram
	dgrams = append(dgrams, junk, past)
	burst := scale(2000, 20000)
	for range burst {
		u := a.users[rng.IntN(len(a.users)-1)]
		dgrams = append(dgrams, nflogMessage(group, packettest.Knock(randomSource(rng, false), l.ServerV4, a.seqOf(u, a.step(), netip.Addr{})[0])))
	}
	start := time.Now()
	for i, d := range dgrams {
		if err := unix.Sendto(fd, d, 0, to); err != nil {
			t.Fatalf("sending forged datagram %d as root: %v", i, err)
		}
		if i < len(ks) {
			time.Sleep(20 * time.Millisecond) // the client's gap
		}
	}
	var refused int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if refused = int(a.metrics()["otpknock_nflog_forged_total"]); refused >= len(dgrams) {
			break
		}
	}
	time.Sleep(1500 * time.Millisecond) // a housekeeping tick logs the refusals
	m1 := a.metrics()
	refused = int(m1["otpknock_nflog_forged_total"])
	logLines := strings.Count(a.log.String(), "nflog datagrams refused")
	elapsed := time.Since(start)
	grants := a.foreignGrantLines()
	read := packetsRead(m1) - packetsRead(m0)

	// The same sequence as packets from the attacker: a valid knock.
	r := openRaw(t, l, l.Attacker)
	knockAll(t, r, l.AttackerV4, l.ServerV4, ks)
	opened := a.waitLog("msg=grant src="+l.AttackerV4.String()+" user=u1 ", 2*time.Second)
	figure(t, "forged NFLOG messages: sent as root to the server's NFLOG socket",
		"%d datagrams (a sequence over IPv4 and over IPv6, 2 malformed, %d forged first knocks): %d refused as not the kernel's, %d log lines in %.1f s, packets counted %d, grants %d; the same sequence as packets opens: %v",
		len(dgrams), burst, refused, logLines, elapsed.Seconds(), read, len(grants), opened)
	if refused != len(dgrams) {
		t.Errorf("otpknock_nflog_forged_total = %d, want %d (every forged datagram)", refused, len(dgrams))
	}
	if len(grants) > 0 {
		t.Errorf("forged NFLOG messages opened:\n%v", grants)
	}
	if read != 0 {
		t.Errorf("the daemon counted %d packets from forged messages, want 0", read)
	}
	if logLines < 1 || logLines > int(elapsed.Seconds())+1 {
		t.Errorf("%d log lines about refused datagrams in %.1f s, want one a second at most, at least one", logLines, elapsed.Seconds())
	}
	if !opened {
		t.Errorf("the forged sequence sent as packets did not open: the forged messages were no valid knocks\n%s", a.log)
	}
	if a.server.ProcessState != nil {
		t.Fatalf("the server died:\n%s", a.log)
	}
	a.control()
}
