package firewall

import (
	"strings"
	"testing"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestKernelVerify: the iptables backend's Verify finds nothing after
// Setup, names what `iptables -F` and a deleted jump removed, and finds
// nothing again once Setup reinstalled it.
func TestKernelVerify(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	plan := testPlan()
	k := kernelIn(t, p, plan)
	defer p.Do(t, p.Server, func() { k.Remove(plan) })
	verify := func() []string {
		var d []string
		var err error
		p.Do(t, p.Server, func() { d, err = k.Verify(plan) })
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := verify(); len(d) != 0 {
		t.Fatalf("Verify after Setup: %q", d)
	}
	p.MustRun(t, p.Server, "iptables", "-F", Chain)
	p.MustRun(t, p.Server, "ip6tables", "-D", "INPUT", "-j", Chain, "-m", "comment", "--comment", "otpknock")
	got := strings.Join(verify(), "\n")
	for _, want := range []string{"iptables: chain OTPKNOCK has 0 rules, want 12", "ip6tables: the INPUT jump to OTPKNOCK is missing"} {
		if !strings.Contains(got, want) {
			t.Errorf("Verify lacks %q:\n%s", want, got)
		}
	}
	var err error
	p.Do(t, p.Server, func() { err = k.Setup(plan) })
	if err != nil {
		t.Fatal(err)
	}
	if d := verify(); len(d) != 0 {
		t.Errorf("Verify after healing: %q", d)
	}
}
