package listener

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
	"golang.org/x/sys/unix"
)

// BenchmarkNFLOGRead is the listener's read path: the client namespace
// sends UDP packets to closed ports as fast as it can, an NFLOG rule in
// the server namespace logs them and the listener decodes them. One op
// is one packet; reader-ns/pkt is the reader thread's CPU time per
// packet (reader-user-ns/pkt the part in user space: decoding), pkts/s
// the rate read, lost the messages the kernel dropped for a full receive
// buffer.
//
//	sudo go test ./listener -run '^$' -bench NFLOGRead -cpuprofile cpu.out
func BenchmarkNFLOGRead(b *testing.B) {
	netnstest.Require(b, "iptables")
	p := netnstest.NewPair(b)
	const group = 4712
	p.MustRun(b, p.Server, "iptables", "-A", "INPUT", "-p", "udp", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group), "--nflog-size", "128")
	p.MustRun(b, p.Server, "iptables", "-A", "INPUT", "-p", "udp", "-j", "DROP")
	src := openIn(b, p, group)
	conn := dialUDP(b, p)

	var got atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var readerCPU, readerUser time.Duration
	go func() {
		runtime.LockOSThread() // the thread's CPU time is the reader's
		defer runtime.UnlockOSThread()
		u0, c0 := threadCPU()
		err := src.Run(ctx, func(Packet) { got.Add(1) })
		u1, c1 := threadCPU()
		readerUser, readerCPU = u1-u0, c1-c0
		done <- err
	}()
	payload := make([]byte, 16)
	b.ResetTimer()
	for range b.N {
		conn.Write(payload)
	}
	want := int64(b.N) - int64(src.Stats().Lost)
	for deadline := time.Now().Add(10 * time.Second); got.Load()+int64(src.Stats().Lost) < int64(b.N) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	st := src.Stats()
	b.ReportMetric(float64(got.Load())/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(st.Lost), "lost")
	b.ReportMetric(float64(readerCPU.Nanoseconds())/float64(max(got.Load(), 1)), "reader-ns/pkt")
	b.ReportMetric(float64(readerUser.Nanoseconds())/float64(max(got.Load(), 1)), "reader-user-ns/pkt")
	if got.Load()+int64(st.Lost) < want {
		b.Errorf("read %d of %d packets (lost %d)", got.Load(), b.N, st.Lost)
	}
}

// threadCPU is the calling thread's CPU time: in user space, and in all.
func threadCPU() (user, all time.Duration) {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
