package servercmd

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/otpknock/otpknock/derive"
)

// Socket states in /proc/net/{tcp,udp}[6]: a listening TCP socket, and
// a UDP socket bound but not connected (a server's).
const (
	tcpListen      = "0A"
	udpUnconnected = "07"
)

// parseProcNet adds to out the local ports of the sockets in one
// /proc/net table of proto that serve: TCP sockets that listen, UDP
// sockets that are not connected.
func parseProcNet(r io.Reader, proto derive.Proto, out map[derive.Knock]bool) error {
	want := tcpListen
	if proto == derive.UDP {
		want = udpUnconnected
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 4 || f[3] != want {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			return fmt.Errorf("local address %q has no port", f[1])
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			return fmt.Errorf("local address %q: %w", f[1], err)
		}
		out[derive.Knock{Proto: proto, Port: uint16(port)}] = true
	}
	return sc.Err()
}

// listening returns the services something on this host serves now:
// Env's, or the kernel's.
func (env *Env) listening() (map[derive.Knock]bool, error) {
	if env.Listening != nil {
		return env.Listening()
	}
	return kernelListening()
}

// warnListening warns, one line each, about the services of open that a
// socket on this host serves now: the server closes them to every
// address that has not knocked, the public included.
func warnListening(env *Env, open []derive.Knock) {
	serving, err := env.listening()
	if err != nil {
		return // a warning only: nothing to say without the tables
	}
	for _, k := range open {
		if serving[k] {
			fmt.Fprintf(env.Stderr, "warning: %v is served on this host now: once the server runs (or reloads), %v is closed to every address that has not knocked; established connections stay\n", k, k)
		}
	}
}
