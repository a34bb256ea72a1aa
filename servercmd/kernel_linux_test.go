package servercmd

import (
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// envListeningChild marks the copy of the test binary that
// TestKernelListening runs inside its own network namespace.
const envListeningChild = "OTPKNOCK_TEST_LISTENING_CHILD"

// TestKernelListening: without Env's Listening, the services this host
// serves come from /proc/net: a listening TCP socket and a bound UDP
// socket show with their protocol and port; a closed listener does not.
// The sockets are opened in a namespace the test creates: /proc/net
// shows the process's namespace, so the test binary runs again inside
// it (root only).
func TestKernelListening(t *testing.T) {
	if os.Getenv(envListeningChild) == "1" {
		listeningInNamespace(t)
		return
	}
	netnstest.Require(t)
	p := netnstest.NewPair(t)
	cmd := p.Cmd(p.Server, os.Args[0], "-test.run=^TestKernelListening$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envListeningChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestKernelListening") {
		t.Fatalf("in namespace %s: %v\n%s", p.Server, err, out)
	}
}

// listeningInNamespace is TestKernelListening inside its namespace.
func listeningInNamespace(t *testing.T) {
	tcp, err := net.Listen("tcp", "198.18.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "198.18.0.1:0")
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
