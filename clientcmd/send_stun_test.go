package clientcmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/publicaddr"
)

// stubFinder answers every local with one public address (or fails
// when it has none) and logs each Find.
type stubFinder struct {
	public netip.Addr
	log    []string
}

func (f *stubFinder) Find(_ context.Context, locals ...netip.Addr) []publicaddr.Result {
	out := make([]publicaddr.Result, len(locals))
	for i, l := range locals {
		f.log = append(f.log, "find "+l.String())
		out[i].Local = l
		if f.public.IsValid() {
			out[i].Public, out[i].Server = f.public, "stun.example:3478"
		} else {
			out[i].Err = errors.New("IPv4 public address: stun.example:3478: no answer")
		}
	}
	return out
}

func (f *stubFinder) Forget(local netip.Addr) error {
	f.log = append(f.log, "forget "+local.String())
	return nil
}

// TestSendStun checks --stun, --nat and --no-source on a packet knock to
// 127.0.0.1 (a loopback route source, which only --nat marks
// translated): the servers discovery gets, the claim the server reads,
// the one line that says a knock falls back to Source, and the exit
// codes of bad input (2) and a refused fallback (1).
func TestSendStun(t *testing.T) {
	public := netip.MustParseAddr("198.51.100.7")
	tests := []struct {
		name    string
		args    []string
		public  netip.Addr
		exit    int
		servers string // what Env.Finder got: "none" when not called
		claim   string
		finds   string
		stderr  string // a line stderr holds
		err     string
	}{
		{name: "no NAT: nothing asked", args: nil, servers: "default", claim: "127.0.0.1; the packet's source not claimed"},
		{name: "--nat: the default servers", args: []string{"--nat"}, public: public, servers: "default",
			claim: "198.51.100.7; the packet's source not claimed", finds: "find 127.0.0.1"},
		{name: "--nat --stun HOST:PORT", args: []string{"--nat", "--stun", "198.18.1.1:3478,[2001:2::1]:3478"}, public: public,
			servers: "198.18.1.1:3478 [2001:2::1]:3478", claim: "198.51.100.7; the packet's source not claimed", finds: "find 127.0.0.1"},
		{name: "--nat, discovery fails: Source, said once", args: []string{"--nat"}, servers: "default",
			claim: "no address; the packet's source too (NAT)", finds: "find 127.0.0.1",
			stderr: "NAT: your route source 127.0.0.1 is translated (--nat) and public-address discovery failed (IPv4 public address: stun.example:3478: no answer): the knock asks the server to open the address it comes from (an interceptor could re-send it from theirs); pass --public-ip ADDR or --stun HOST:PORT\n"},
		{name: "--nat --stun none: Source", args: []string{"--nat", "--stun", "none"}, public: public, servers: "none",
			claim: "no address; the packet's source too (NAT)", stderr: "public-address discovery is off: the knock asks the server"},
		{name: "--no-source refuses the fallback", args: []string{"--nat", "--stun", "none", "--no-source"}, servers: "none",
			exit: cli.ExitFailure, err: "the Source fallback is refused"},
		{name: "--stun bad", args: []string{"--stun", "stun.example"}, servers: "none", exit: cli.ExitUsage, err: `--stun: stun server "stun.example": want HOST:PORT`},
		{name: "--stun empty item", args: []string{"--stun", "a:1,,b:2"}, servers: "none", exit: cli.ExitUsage, err: "--stun: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f, p := withPacketProfile(t, "127.0.0.1", false)
			sf := &stubFinder{public: tt.public}
			h.finder = sf
			_, stderr, err := h.run("", append([]string{"send", "gw1"}, tt.args...)...)
			if got := cli.ExitCode(err); got != tt.exit || tt.err != "" && !strings.Contains(fmt.Sprint(err), tt.err) {
				t.Fatalf("exit %d (%v), want %d with %q", got, err, tt.exit, tt.err)
			}
			servers := "none"
			if h.finds > 0 {
				servers = strings.Join(h.servers, " ")
				if h.servers == nil {
					servers = "default"
				}
			}
			if servers != tt.servers {
				t.Errorf("discovery got servers %q, want %q", servers, tt.servers)
			}
			if diff := cmp.Diff(tt.finds, strings.Join(sf.log, "\n")); diff != "" {
				t.Errorf("finds (-want +got):\n%s", diff)
			}
			if tt.stderr != "" && !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, tt.stderr)
			}
			if n := strings.Count(stderr, "address it comes from"); n > 1 {
				t.Errorf("the fallback said %d times:\n%s", n, stderr)
			}
			if tt.exit != cli.ExitOK {
				if f.String() != "" {
					t.Errorf("sent after an error:\n%s", f)
				}
				return
			}
			m := fakePayloadRE.FindStringSubmatch(f.String())
			if m == nil {
				t.Fatalf("packets:\n%s", f.String())
			}
			payload, _ := hex.DecodeString(m[3])
			pd, _ := derive.NewPacket(p.Secret, p.ServerID, p.Params)
			cl, err := pd.Open(payload, 60000000, element(t, p, 60000000), netip.Addr{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got := strings.Join(func() []string {
				var s []string
				for _, a := range cl.Addrs {
					s = append(s, a.String())
				}
				return s
			}(), " ")
			if got == "" {
				got = "no address"
			}
			if cl.Source {
				got += "; the packet's source too (NAT)"
			} else {
				got += "; the packet's source not claimed"
			}
			if got != tt.claim {
				t.Errorf("claim %q, want %q", got, tt.claim)
			}
		})
	}
}

// TestShowPublicAddresses: show prints the public addresses discovery
// cached, with their age, and skips stale ones.
func TestShowPublicAddresses(t *testing.T) {
	h, _, _ := withPacketProfile(t, "127.0.0.1", false)
	cache := &publicaddr.Cache{Path: publicaddr.CachePath(h.env["OTPKNOCK_CLIENT_CONFIG"])}
	now := h.clock.Now()
	for _, a := range []publicaddr.Address{
		{Local: netip.MustParseAddr("192.168.1.23"), Public: netip.MustParseAddr("198.51.100.7"), Server: "stun.cloudflare.com:3478", At: now.Add(-130 * time.Second)},
		{Local: netip.MustParseAddr("fd00::23"), Public: netip.MustParseAddr("2001:db8::7"), Server: "stun.l.google.com:19302", At: now.Add(-5 * time.Second)},
	} {
		if err := cache.Put(a, now); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, err := h.run("", "show", "gw1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"public address: IPv4 198.51.100.7 for 192.168.1.23 from stun.cloudflare.com:3478, 2m10s old (cached)\n",
		"public address: IPv6 2001:db8::7 for fd00::23 from stun.l.google.com:19302, 5s old (cached)\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("show's stderr:\n%s\nwant the line %q", stderr, want)
		}
	}
	h.clock.Set(now.Add(3 * time.Minute)) // the first is 5m10s old: stale
	_, stderr, _ = h.run("", "show", "gw1")
	if strings.Contains(stderr, "198.51.100.7") || !strings.Contains(stderr, "2001:db8::7") {
		t.Errorf("3 minutes later, show's stderr:\n%s\nwant the IPv6 entry only", stderr)
	}
}

// TestFinderAccepts: the real discovery takes only globally reachable
// answers from the default servers, and any unicast answer from servers
// named with --stun (one beside the otpknock server on a private
// network sees what it sees); none is no discovery.
func TestFinderAccepts(t *testing.T) {
	store := filepath.Join(t.TempDir(), "client.yaml")
	if fd, err := finder(&Env{}, "none", store); err != nil || fd != nil {
		t.Errorf("--stun none: %v, %v; want no discovery", fd, err)
	}
	tests := []struct {
		stun string
		want string // the answers taken
	}{
		{"", "203.0.114.7"},
		{"198.18.1.1:3478", "203.0.114.7 198.18.2.100 10.0.0.1 100.64.0.1 fd00::1"},
	}
	answers := []string{"203.0.114.7", "198.18.2.100", "10.0.0.1", "100.64.0.1", "fd00::1", "127.0.0.1", "fe80::1", "0.0.0.0", "224.0.0.1"}
	for _, tt := range tests {
		fd, err := finder(&Env{}, tt.stun, store)
		f, ok := fd.(*publicaddr.Finder)
		if err != nil || !ok {
			t.Fatalf("--stun %q: %T, %v", tt.stun, fd, err)
		}
		if f.Cache == nil || f.Cache.Path != publicaddr.CachePath(store) {
			t.Errorf("--stun %q: cache %+v, want %s", tt.stun, f.Cache, publicaddr.CachePath(store))
		}
		accept := f.Accept
		if accept == nil {
			accept = publicaddr.Global
		}
		var got []string
		for _, a := range answers {
			if accept(netip.MustParseAddr(a)) {
				got = append(got, a)
			}
		}
		if diff := cmp.Diff(tt.want, strings.Join(got, " ")); diff != "" {
			t.Errorf("--stun %q takes (-want +got):\n%s", tt.stun, diff)
		}
	}
}
