package firewall

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

// TestRenderForward compares the dry run of a plan with forwarded
// services, without and with Prefixes, with its golden file in
// testdata (-update rewrites them): the forward part follows the
// INPUT part unchanged.
func TestRenderForward(t *testing.T) {
	fwd := []derive.Knock{{Proto: derive.TCP, Port: 2222}, {Proto: derive.UDP, Port: 1194}}
	for _, tt := range []struct {
		golden   string
		prefixes bool
	}{
		{"testdata/render_forward.golden", false},
		{"testdata/render_forward_prefixes.golden", true},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			p := testPlan()
			p.Prefixes = tt.prefixes
			input := p.Render()
			p.Forward = fwd
			got := p.Render()
			if !strings.HasPrefix(got, input) {
				t.Errorf("forwarded services changed the INPUT part of the dry run")
			}
			if *update {
				os.WriteFile(tt.golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Render() (-want +got):\n%s", diff)
			}
			for _, svc := range fwd {
				for _, v6 := range []bool{false, true} {
					if n := strings.Count(got, ForwardNetSet(v6, svc)); n != map[bool]int{false: 0, true: 2}[tt.prefixes] {
						t.Errorf("%s named %d times, want its ipset create and its accept with Prefixes, nothing without", ForwardNetSet(v6, svc), n)
					}
				}
			}
		})
	}
	p := testPlan()
	p.Forward = fwd
	q := p
	q.Prefixes = true
	if testPlan().ForwardRules(false) != nil || testPlan().ForwardDigest() == p.ForwardDigest() || q.ForwardDigest() == p.ForwardDigest() {
		t.Errorf("a plan without Forward has forward rules, or two forward rule sets share a digest")
	}
}
