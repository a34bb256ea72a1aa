package listenertest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/listener"
)

func TestFake(t *testing.T) {
	f := &Fake{}
	src := netip.MustParseAddr("198.18.0.2")
	for port := uint16(1); port <= 3; port++ {
		f.Inject(listener.Packet{Src: src, Knock: derive.Knock{Proto: derive.UDP, Port: port}})
	}
	boom := errors.New("socket gone")
	f.Fail(boom)
	f.Inject(listener.Packet{Src: src, Knock: derive.Knock{Proto: derive.TCP, Port: 9}})
	if got, want := f.String(), "handled=0 queued=5"; got != want {
		t.Errorf("before Run: %q, want %q", got, want)
	}
	var got []string
	fn := func(p listener.Packet) {
		// A packet counts only once fn returned.
		got = append(got, p.Knock.String()+" "+f.String())
	}
	if err := f.Run(context.Background(), fn); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the queued error", err)
	}
	want := []string{"udp/1 handled=0 queued=5", "udp/2 handled=1 queued=4", "udp/3 handled=2 queued=3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, fn) }()
	if err := f.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Knocks != 4 || st.Messages != 4 {
		t.Errorf("after Drain: %+v, want 4 handled", st)
	}
	if got, want := f.String(), "handled=4 queued=0"; got != want {
		t.Errorf("after Drain: %q, want %q", got, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}

	f.Inject(listener.Packet{Src: src})
	short, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	if err := f.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain with no Run = %v, want the context's error", err)
	}
}
