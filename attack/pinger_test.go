//go:build linux

package attack

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/packettest"
	"golang.org/x/sys/unix"
)

// pinger sends plain pings (echo requests numbered from 1, as ping(8)
// does: far below the knock range) from the client's own address over
// IPv4 and IPv6 through the kernel's raw ICMP sockets, and counts the
// echo replies that come back.
type pinger struct {
	fd4, fd6        int
	dst4, dst6      netip.Addr
	sent, answered  atomic.Int64
	stop, recvsDone chan struct{}
}

// pingID is the identifier of the plain pings' echo requests.
const pingID = 0x4b4e

func startPinger(t *testing.T, a *arena, rate int) *pinger {
	p := &pinger{dst4: a.l.ServerV4, dst6: a.l.ServerV6, stop: make(chan struct{}), recvsDone: make(chan struct{}, 2)}
	var err error
	a.l.Do(t, a.l.Client, func() {
		if p.fd4, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP); err != nil {
			return
		}
		p.fd6, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6)
	})
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	for _, fd := range []int{p.fd4, p.fd6} {
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		go p.count(fd)
	}
	go p.send(rate)
	t.Cleanup(func() { unix.Close(p.fd4); unix.Close(p.fd6) })
	return p
}

// send sends echo requests 1, 2, 3... (up to 10,000, then from 1
// again) alternately over IPv4 and IPv6 at rate a second until stop
// closes.
func (p *pinger) send(rate int) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		seq := uint16(1 + n%10000) // ping(8) reaches 20,000 after 5.5 hours
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		b := packettest.Echo(8, seq)
		binary.BigEndian.PutUint16(b[4:], pingID)
		var err error
		if n%2 == 0 {
			binary.BigEndian.PutUint16(b[2:], packettest.Checksum(b))
			err = unix.Sendto(p.fd4, b, 0, &unix.SockaddrInet4{Addr: p.dst4.As4()})
		} else {
			b[0] = 128 // the kernel sums an ICMPv6 raw socket's messages
			err = unix.Sendto(p.fd6, b, 0, &unix.SockaddrInet6{Addr: p.dst6.As16()})
		}
		if err == nil {
			p.sent.Add(1)
		}
	}
}

// count counts the echo replies to the plain pings arriving on fd.
func (p *pinger) count(fd int) {
	defer func() { p.recvsDone <- struct{}{} }()
	buf := make([]byte, 1500)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		b := buf[:n]
		if fd == p.fd4 && n >= 20 { // a raw IPv4 socket reads the IP header too
			b = b[int(b[0]&0x0f)*4:]
		}
		if len(b) >= 8 && (b[0] == 0 || b[0] == 129) && binary.BigEndian.Uint16(b[4:]) == pingID {
			p.answered.Add(1)
		}
	}
}

// end stops the pings and returns those sent and answered.
func (p *pinger) end() (sent, answered int64) {
	close(p.stop)
	<-p.recvsDone
	<-p.recvsDone
	return p.sent.Load(), p.answered.Load()
}
