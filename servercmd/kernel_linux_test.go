package servercmd

import (
	"bytes"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// TestKernelListening: without Env's Listening, the services this host
// serves come from /proc/net: a listening TCP socket and a bound UDP
// socket show with their protocol and port; a closed listener does not.
func TestKernelListening(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tcpKnock := derive.Knock{Proto: derive.TCP, Port: uint16(tcp.Addr().(*net.TCPAddr).Port)}
	udpKnock := derive.Knock{Proto: derive.UDP, Port: uint16(udp.LocalAddr().(*net.UDPAddr).Port)}
	env := &Env{}
	serving, err := env.listening()
	if err != nil {
		t.Fatal(err)
	}
	if !serving[tcpKnock] || !serving[udpKnock] {
		t.Errorf("listening: %v lacks %v or %v", serving, tcpKnock, udpKnock)
	}
	tcp.Close()
	if serving, err = env.listening(); err != nil || serving[tcpKnock] {
		t.Errorf("after the listener closed: %v, err %v: still serves %v", serving, err, tcpKnock)
	}
}

// TestKernelHangups: without Env's Hangup, a SIGHUP sent by hangup (the
// reload of user add|remove) reaches the server's reload channel.
func TestKernelHangups(t *testing.T) {
	env := &Env{}
	hup, stop := env.hangups()
	defer stop()
	if err := env.hangup(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	select {
	case sig := <-hup:
		if sig != syscall.SIGHUP {
			t.Errorf("reload channel got %v, want SIGHUP", sig)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the SIGHUP never reached the reload channel")
	}
}

// TestKernelTerminal: without Env's Terminal, a buffer or a pipe is no
// terminal, so user qr prints no terminal QR code to them.
func TestKernelTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tt := range []struct {
		name string
		v    any
	}{{"buffer", &bytes.Buffer{}}, {"pipe", w}} {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{}
			env.Stdout = tt.v.(io.Writer)
			if cols, ok := env.terminal(tt.v); cols != 0 || ok {
				t.Errorf("terminal = %d, %v; want 0, false", cols, ok)
			}
			if out := env.qrOutput(); out.Terminal || out.Columns != 0 {
				t.Errorf("qrOutput = %+v, want no terminal", out)
			}
		})
	}
}
