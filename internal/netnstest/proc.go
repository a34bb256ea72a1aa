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

// FullPackage is the command package of otpknockd, which the otpknock
// binary hands its server, administration and TUI commands to.
const FullPackage = "github.com/otpknock/otpknock/cmd/otpknockd"

// BuildBinary builds the Go command package pkg (otpknock) and otpknockd
// beside it into a directory every user may enter (tests run them as
// nobody too), and returns the path of the first. remove deletes them.
func BuildBinary(pkg string) (path string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "otpknock-bin-")
	if err != nil {
		return "", nil, err
	}
	os.Chmod(dir, 0o755)
	for name, p := range map[string]string{"otpknock": pkg, "otpknockd": FullPackage} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), p).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("go build %s: %v\n%s", p, err, out)
		}
	}
	return filepath.Join(dir, "otpknock"), func() { os.RemoveAll(dir) }, nil
}

// RunWithBinary builds the command package pkg into *bin, runs the
// package's tests and removes the binary: the body of a TestMain.
func RunWithBinary(m *testing.M, pkg string, bin *string) int {
	path, remove, err := BuildBinary(pkg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer remove()
	*bin = path
	return m.Run()
}

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
