package firewall

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func testPlan() Plan {
	return Plan{Group: 4711, PortMin: 20000, PortMax: 59999, Protocols: derive.Protocols(derive.TCP | derive.UDP | derive.ICMP),
		Protected: []derive.Knock{{Proto: derive.TCP, Port: 22}, {Proto: derive.TCP, Port: 2222}, {Proto: derive.UDP, Port: 1194}},
		Timeout:   30 * time.Second}
}

// TestRender compares the dry-run rendering of a plan, without and with
// the filter, with testdata/render*.golden (go test ./firewall -update
// rewrites them).
func TestRender(t *testing.T) {
	filtered := testPlan()
	filtered.Filter, filtered.Track = true, 10*time.Second
	prefixed := testPlan()
	prefixed.Prefixes = true
	for _, tc := range []struct {
		name, golden string
		plan         Plan
	}{
		{"plain", "testdata/render.golden", testPlan()},
		{"filter", "testdata/render_filter.golden", filtered},
		{"prefixes", "testdata/render_prefixes.golden", prefixed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.plan.Render()
			if *update {
				os.WriteFile(tc.golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Render() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanShape(t *testing.T) {
	p := testPlan()
	r := p.Rules(false)
	kinds := make([]string, len(r))
	for i, rule := range r {
		j := strings.Join(rule, " ")
		switch {
		case strings.Contains(j, "ESTABLISHED") && strings.Contains(j, "ACCEPT"):
			kinds[i] = "established-accept"
		case strings.Contains(j, "RETURN"):
			kinds[i] = "established-return"
		case strings.Contains(j, "--match-set"):
			kinds[i] = "set-accept"
		case IsNFLOG(rule):
			kinds[i] = "nflog"
		case strings.Contains(j, "DROP"):
			kinds[i] = "drop"
		}
	}
	want := []string{"established-accept", "established-accept", "nflog", "drop", "established-return", "set-accept",
		"nflog", "nflog", "drop", "drop", "drop", "drop"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("rule order (-want +got):\n%s", diff)
	}
	for _, v6 := range []bool{false, true} {
		silent := p
		silent.DropEcho = true
		if got, want := strings.Join(silent.Rules(v6)[3], " "), strings.Join(p.Rules(v6)[3], " "); got == want ||
			strings.Contains(got, "u32") || !strings.Contains(want, "u32") || !strings.Contains(got, "echo-request -j DROP") {
			t.Errorf("v6 %v: the echo drop with DropEcho %q, without %q; want every echo request, then the range only", v6, got, want)
		}
		if silent.Digest() == p.Digest() {
			t.Errorf("digest ignores DropEcho")
		}
	}
	q := p
	q.Protocols = derive.Protocols(derive.TCP)
	if p.Digest() == q.Digest() {
		t.Errorf("digest ignores the protocols")
	}
	many := p
	for port := uint16(1000); port < 1020; port++ {
		many.Protected = append(many.Protected, derive.Knock{Proto: derive.TCP, Port: port})
	}
	for _, rule := range many.Rules(true) {
		for i, s := range rule {
			if s == "--dports" && strings.Count(rule[i+1], ",") > 14 {
				t.Errorf("multiport with more than 15 ports: %s", rule[i+1])
			}
		}
	}
}

// TestLock checks that a locked plan keeps the drops of the protected
// ports and the accepts, and loses every knock rule.
func TestLock(t *testing.T) {
	p := testPlan()
	l := p.Lock()
	if l.Protocols != 0 || l.Digest() == p.Digest() {
		t.Fatalf("Lock kept the protocols %v or the digest", l.Protocols)
	}
	var got []string
	for _, r := range l.Rules(false) {
		if IsNFLOG(r) {
			t.Errorf("locked plan logs: %q", r)
		}
		got = append(got, strings.Join(r[:len(r)-4], " "))
	}
	want := []string{
		"-p tcp -m multiport --dports 22,2222 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-p udp -m multiport --dports 1194 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
		"-m set --match-set otpknock4 src,dst -j ACCEPT",
		"-p tcp -m multiport --dports 22,2222 -j DROP",
		"-p udp -m multiport --dports 1194 -j DROP",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("locked rules (-want +got):\n%s", diff)
	}
}

func TestPlanLock(t *testing.T) {
	p := testPlan()
	l := p.Lock()
	if l.Protocols != 0 || l.Digest() == p.Digest() {
		t.Fatalf("Lock() = %+v, digest %s (plan's %s)", l, l.Digest(), p.Digest())
	}
	for _, v6 := range []bool{false, true} {
		var got []string
		for _, r := range l.Rules(v6) {
			j := strings.Join(r, " ")
			if IsNFLOG(r) || strings.Contains(j, "20000:59999") || strings.Contains(j, "echo-request") {
				t.Errorf("lock rule for knocks: %s", j)
			}
			if strings.Contains(j, "DROP") {
				got = append(got, j[:strings.Index(j, " -j")])
			}
		}
		want := []string{"-p tcp -m multiport --dports 22,2222", "-p udp -m multiport --dports 1194"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("v6=%v lock drops (-want +got):\n%s", v6, diff)
		}
	}
}
