package netnstest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Buffer collects a process's output while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Binaries are the paths of the two programs built for a test package,
// side by side: the client otpknock and the server otpknockd.
type Binaries struct{ Client, Server string }

// Packages of the two programs.
const (
	ClientPackage = "github.com/otpknock/otpknock/cmd/otpknock"
	ServerPackage = "github.com/otpknock/otpknock/cmd/otpknockd"
)

// BuildBinaries builds otpknock and otpknockd into a directory every
// user may enter (tests run them as nobody too). remove deletes them.
func BuildBinaries() (b Binaries, remove func(), err error) {
	dir, err := os.MkdirTemp("", "otpknock-bin-")
	if err != nil {
		return Binaries{}, nil, err
	}
	os.Chmod(dir, 0o755)
	b = Binaries{Client: filepath.Join(dir, "otpknock"), Server: filepath.Join(dir, "otpknockd")}
	for path, pkg := range map[string]string{b.Client: ClientPackage, b.Server: ServerPackage} {
		if out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return Binaries{}, nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return b, func() { os.RemoveAll(dir) }, nil
}

// RunWithBinaries builds both programs into *b, runs the package's
// tests and removes the binaries: the body of a TestMain.
func RunWithBinaries(m *testing.M, b *Binaries) int {
	built, remove, err := BuildBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer remove()
	*b = built
	return m.Run()
}

// RunWithBinary is RunWithBinaries for a package that keeps otpknock's
// path in *bin and finds otpknockd beside it (ServerBinary).
func RunWithBinary(m *testing.M, bin *string) int {
	built, remove, err := BuildBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer remove()
	*bin = built.Client
	return m.Run()
}

// ServerBinary returns the path of the otpknockd built beside the
// otpknock at bin.
func ServerBinary(bin string) string { return filepath.Join(filepath.Dir(bin), "otpknockd") }

// AcceptAll accepts and closes connections on ln until it is closed: a
// service that answers a connect and nothing more.
func AcceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
