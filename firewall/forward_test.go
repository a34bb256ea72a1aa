package firewall

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

// TestRenderForward compares the dry run of a plan with forwarded
// services with testdata/render_forward.golden (-update rewrites it).
func TestRenderForward(t *testing.T) {
	p := testPlan()
	p.Forward = []derive.Knock{{Proto: derive.TCP, Port: 2222}, {Proto: derive.UDP, Port: 1194}}
	got := p.Render()
	if !strings.HasPrefix(got, testPlan().Render()) {
		t.Errorf("forwarded services changed the INPUT part of the dry run")
	}
	if *update {
		os.WriteFile("testdata/render_forward.golden", []byte(got), 0o644)
	}
	want, err := os.ReadFile("testdata/render_forward.golden")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Render() (-want +got):\n%s", diff)
	}
	if q := testPlan(); q.ForwardRules(false) != nil || q.ForwardDigest() == p.ForwardDigest() {
		t.Errorf("a plan without Forward has forward rules or the same digest")
	}
}
