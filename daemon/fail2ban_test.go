package daemon

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fail2banFilter is the shipped fail2ban filter's failregex lines,
// compiled in Go (<HOST> becomes a group): fail2ban's Python regular
// expressions here use only what RE2 has.
func fail2banFilter(t *testing.T) []*regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile("../packaging/fail2ban/otpknock.conf")
	if err != nil {
		t.Fatal(err)
	}
	var out []*regexp.Regexp
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "failregex"):
			in, line = true, strings.TrimSpace(strings.SplitN(line, "=", 2)[1])
		case in && strings.HasPrefix(line, " "):
			line = strings.TrimSpace(line)
		default:
			in = false
			continue
		}
		out = append(out, regexp.MustCompile(strings.ReplaceAll(line, "<HOST>", `(\S+)`)))
	}
	if len(out) == 0 {
		t.Fatal("no failregex in the fail2ban filter")
	}
	return out
}

// fail2banHosts are the hosts the fail2ban filter finds in log, a line
// at a time, in order.
func fail2banHosts(t *testing.T, log string) []string {
	t.Helper()
	res := fail2banFilter(t)
	var hosts []string
	for _, line := range strings.Split(log, "\n") {
		for _, re := range res {
			if m := re.FindStringSubmatch(line); m != nil {
				hosts = append(hosts, m[1])
				break
			}
		}
	}
	return hosts
}

// TestFail2banFilter: the shipped filter matches replays and refused
// sources, and neither grants nor duplicates (a client's late copy).
func TestFail2banFilter(t *testing.T) {
	log := strings.Join([]string{
		`time=2026-12-07T22:00:00Z level=INFO msg=grant src=198.18.0.2 user=alice step=60000000 ports=tcp/22 timeout=30s`,
		`time=2026-12-07T22:00:00Z level=INFO msg=duplicate src=198.18.0.2 user=alice step=60000000 ports=tcp/22 copy=1`,
		`time=2026-12-07T22:00:00Z level=WARN msg=replay src=198.18.0.3 user=alice step=60000000 ports=tcp/22`,
		`time=2026-12-07T22:00:00Z level=WARN msg="refused source" src=2001:2::9 user=alice step=60000000 ports=tcp/22 reason="source outside from"`,
	}, "\n")
	if diff := cmp.Diff([]string{"198.18.0.3", "2001:2::9"}, fail2banHosts(t, log)); diff != "" {
		t.Errorf("hosts the filter finds (-want +got):\n%s", diff)
	}
}
