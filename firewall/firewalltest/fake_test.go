package firewalltest

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
)

// TestFakeVerify breaks the fake's state in each way Verify reports and
// checks that Setup restores it.
func TestFakeVerify(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(*Fake)
		want    []string
	}{
		{"intact", func(*Fake) {}, nil},
		{"flushed INPUT", (*Fake).FlushInput, []string{"jump from INPUT"}},
		{"a deleted rule", func(f *Fake) { f.DeleteRule(true, 3) }, []string{"ip6tables: rules of OTPKNOCK"}},
		{"destroyed sets", (*Fake).DestroySets, []string{"sets otpknock4, otpknock6"}},
		{"closed", func(f *Fake) { f.Close(Plan()) }, []string{"iptables: rules of OTPKNOCK", "ip6tables: rules of OTPKNOCK"}},
		{"removed", func(f *Fake) { f.Remove(Plan()) }, []string{"sets otpknock4, otpknock6", "chain OTPKNOCK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Fake{Clock: clocktest.NewFake(time.Unix(1_800_000_000, 0))}
			p := Plan()
			if err := f.Setup(p); err != nil {
				t.Fatal(err)
			}
			tt.breakIt(f)
			got, err := f.Verify(p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
			if err := f.Setup(p); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.Verify(p); got != nil {
				t.Errorf("after Setup, Verify = %q", got)
			}
			setups := "setups=1"
			if tt.want != nil {
				setups = "setups=2"
			}
			if s := f.String(); !strings.Contains(s, setups) || strings.Contains(s, "missing") {
				t.Errorf("state after repair:\n%s", s)
			}
		})
	}
}

func TestFakeString(t *testing.T) {
	c := clocktest.NewFake(time.Unix(1_800_000_000, 0))
	p := Plan()
	p.Forward = []derive.Knock{{Proto: derive.TCP, Port: 8080}}
	tests := []struct {
		name string
		do   func(*Fake)
		want string
	}{
		{"nothing", func(*Fake) {}, "installed=false nflog=false setups=0"},
		{"lock", func(f *Fake) { f.Setup(p.Lock()) }, "installed=true nflog=false setups=1\nlock tcp/22,tcp/2222,udp/1194\nforward tcp/8080"},
		{"lock then plan", func(f *Fake) { f.Setup(p.Lock()); f.Setup(p) }, "installed=true nflog=true setups=2\nforward tcp/8080"},
		{"closed", func(f *Fake) { f.Setup(p); f.Close(p) }, "installed=true nflog=false setups=1\nforward tcp/8080"},
		{"flushed", func(f *Fake) {
			f.Setup(p)
			f.Grant(firewall.HostPrefix(netip.MustParseAddr("198.18.0.2")), derive.Knock{Proto: derive.TCP, Port: 22}, 30*time.Second)
			f.FlushInput()
		}, "installed=true nflog=true setups=1\ngrant 198.18.0.2 tcp/22 30s\nforward tcp/8080\nmissing jump from INPUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Fake{Clock: c}
			tt.do(f)
			if diff := cmp.Diff(tt.want, f.String()); diff != "" {
				t.Errorf("String() (-want +got):\n%s", diff)
			}
		})
	}
}
