package firewall

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRenderNFTPrefixes compares the nftables table of a plan with
// Prefixes (the interval grant sets and their accepts) with
// testdata/render_nft_prefixes.golden, and checks that a plan without
// them renders neither.
func TestRenderNFTPrefixes(t *testing.T) {
	p := testPlan()
	p.Prefixes = true
	got := p.RenderNFT()
	const golden = "testdata/render_nft_prefixes.golden"
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("RenderNFT() (-want +got):\n%s", diff)
	}
	plain := testPlan().RenderNFT()
	for _, name := range []string{NFTNet4, NFTNet6} {
		if cmp.Equal(plain, got) || strings.Contains(plain, name) {
			t.Errorf("a plan without Prefixes renders %s:\n%s", name, plain)
		}
	}
}
