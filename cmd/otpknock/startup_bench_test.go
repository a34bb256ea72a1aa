package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
)

// startupTarget is the start-up budget of the client's commands, the
// TUI and the QR decoder linked: at most this many times a Go
// hello-world's wall time.
const startupTarget = 2.5

// benchSecret is the secret of the benchmark's profile.
var benchSecret = []byte("otpknock integration test secret")

// BenchmarkStartup execs a Go hello-world and an otpknock client
// command alternately, b.N times each, both built static by the same
// toolchain as releases are (goBuild), and reports the medians of wall
// time: ns/op for otpknock, hello-ns/op for the hello-world and x-hello,
// their ratio (the target is startupTarget); cpu-x-hello, the ratio
// of the medians of CPU time (user and system, all threads), which a
// busy machine's waits for a core do not inflate; and flt-x-hello, the
// ratio of the medians of minor page faults (first touches of a page,
// which a shared machine does not change; where a fault is dear, as in
// a small VM, they are most of the time). Alternating keeps the load
// alike for both. connect knocks 127.0.0.1 with --gap 0 and relays
// to a listener that closes at once; its step record is removed between
// runs, outside the timing.
//
// With OTPKNOCK_STARTUP_BEFORE naming an otpknock binary built from an
// older commit (as goBuild builds), each iteration execs it too, in the
// same loop, and its ratios are reported as before-x-hello,
// before-cpu-x-hello and before-flt-x-hello: a before/after in one run.
func BenchmarkStartup(b *testing.B) {
	hello := buildHello(b)
	otpknock := filepath.Join(b.TempDir(), "otpknock")
	goBuild(b, ".", otpknock)
	before := os.Getenv("OTPKNOCK_STARTUP_BEFORE")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go netnstest.AcceptAll(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	store := startupStore(b, port)
	env := append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store, "HOME=/nonexistent")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"version", []string{"version"}},
		{"show", []string{"show"}},
		{"send-dry-run", []string{"send", "lo", "--dry-run", "--gap", "0"}},
		{"connect", []string{"connect", "lo", strconv.Itoa(port), "--gap", "0"}},
		{"tui-help", []string{"tui", "--help"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var cmd, ref, old runs
			for b.Loop() {
				b.StopTimer()
				os.Remove(profile.StatePath(store))
				b.StartTimer()
				ref.add(timeExec(b, env, hello))
				if before != "" {
					old.add(timeExec(b, env, before, tc.args...))
					b.StopTimer()
					os.Remove(profile.StatePath(store))
					b.StartTimer()
				}
				cmd.add(timeExec(b, env, otpknock, tc.args...))
			}
			b.ReportMetric(float64(median(cmd.wall)), "ns/op")
			b.ReportMetric(float64(median(ref.wall)), "hello-ns/op")
			cmd.report(b, ref, "")
			if before != "" {
				old.report(b, ref, "before-")
			}
			if x := cmd.ratios(ref)[0]; x > startupTarget {
				b.Logf("%s takes %.2fx a hello-world's start-up, over the %.1fx target", tc.name, x, startupTarget)
			}
		})
	}
}

// runs are the wall times, CPU times and minor page faults of the runs
// of one program.
type runs struct {
	wall, cpu []time.Duration
	faults    []int64
}

func (r *runs) add(wall, cpu time.Duration, faults int64) {
	r.wall, r.cpu, r.faults = append(r.wall, wall), append(r.cpu, cpu), append(r.faults, faults)
}

// ratios returns the ratios of the medians of r to those of ref: wall
// time, CPU time and page faults (0 where ref has none).
func (r runs) ratios(ref runs) [3]float64 {
	x := [3]float64{float64(median(r.wall)) / float64(median(ref.wall)),
		float64(median(r.cpu)) / float64(max(median(ref.cpu), time.Microsecond))}
	if f := median(ref.faults); f > 0 {
		x[2] = float64(median(r.faults)) / float64(f)
	}
	return x
}

// report reports r's ratios to ref as PREFIXx-hello, PREFIXcpu-x-hello
// and PREFIXflt-x-hello.
func (r runs) report(b *testing.B, ref runs, prefix string) {
	x := r.ratios(ref)
	b.ReportMetric(x[0], prefix+"x-hello")
	b.ReportMetric(x[1], prefix+"cpu-x-hello")
	if x[2] > 0 {
		b.ReportMetric(x[2], prefix+"flt-x-hello")
	}
}

// timeExec runs argv to its end with env and returns its wall and CPU
// time and its minor page faults; a failure ends the benchmark.
func timeExec(b *testing.B, env []string, name string, args ...string) (wall, cpu time.Duration, faults int64) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), minorFaults(cmd.ProcessState)
}

func median[T time.Duration | int64](ds []T) T {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// goBuild builds the command package in dir to out as releases are
// built (make build, make dist): static, -trimpath, no symbol table nor
// DWARF (-s -w).
func goBuild(b *testing.B, dir, out string) {
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build in %s: %v\n%s", dir, err, out)
	}
}

// buildHello builds a fmt.Println hello-world as goBuild builds otpknock.
func buildHello(b *testing.B) string {
	dir := b.TempDir()
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello, world\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	goBuild(b, dir, filepath.Join(dir, "hello"))
	return filepath.Join(dir, "hello")
}

// startupStore writes a client profile "lo" knocking 127.0.0.1 over TCP
// for the service on port.
func startupStore(b *testing.B, port int) string {
	path := filepath.Join(b.TempDir(), "client.yaml")
	params := derive.DefaultParams()
	params.Protocols = derive.Protocols(derive.TCP)
	s := &profile.Store{Path: path}
	err := s.Add(profile.Profile{Name: "lo", Account: provision.Account{ServerID: "gw1", User: "alice",
		Host: "127.0.0.1", Secret: benchSecret, Params: params,
		Open: []derive.Knock{{Proto: derive.TCP, Port: uint16(port)}}}})
	if err == nil {
		err = s.Save()
	}
	if err != nil {
		b.Fatal(err)
	}
	return path
}
