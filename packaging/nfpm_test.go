package packaging

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/servercmd"
	"go.yaml.in/yaml/v3"
)

// nfpmConfig is the part of nfpm.yaml this test reads.
type nfpmConfig struct {
	Description string   `yaml:"description"`
	Depends     []string `yaml:"depends"`
	Overrides   map[string]struct {
		Depends []string `yaml:"depends"`
	} `yaml:"overrides"`
}

// TestPackageDescribesTheProgram: the package's description names both
// firewall backends (auto picks nftables where it works), the package
// depends on either backend's tools rather than on iptables alone, and
// its "Start with" runs the quick start: init, user add, server
// --check, systemctl enable, each otpknockd line parsing with
// otpknockd's commands and flags.
func TestPackageDescribesTheProgram(t *testing.T) {
	data, err := os.ReadFile("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c nfpmConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	desc := strings.Join(strings.Fields(c.Description), " ")
	for _, w := range []string{"nftables", "iptables and ipset"} {
		if !strings.Contains(desc, w) {
			t.Errorf("the description does not mention %q: %s", w, desc)
		}
	}
	if got := strings.Join(c.Depends, ", "); !regexp.MustCompile(`^nftables \| iptables$`).MatchString(got) {
		t.Errorf("the .deb depends on %q, want nftables | iptables", got)
	}
	if got := strings.Join(c.Overrides["rpm"].Depends, ", "); got != "(nftables or (iptables and ipset))" {
		t.Errorf("the .rpm depends on %q, want (nftables or (iptables and ipset))", got)
	}
	_, start, ok := strings.Cut(desc, "Start with: ")
	if !ok {
		t.Fatalf("no Start with in the description: %s", desc)
	}
	start = regexp.MustCompile(` \([^)]*\)`).ReplaceAllString(strings.TrimSuffix(start, "."), "")
	var got []string
	for _, cmd := range strings.Split(start, "; ") {
		f := strings.Fields(cmd)
		got = append(got, strings.Join(f[:min(3, len(f))], " "))
		if f[0] != "otpknockd" {
			continue
		}
		root := servercmd.Root(servercmd.Env{})
		sub, rest, err := root.Find(f[1:])
		if err == nil && sub.HasParent() && sub.Runnable() {
			err = sub.ParseFlags(rest)
		}
		if err != nil {
			t.Errorf("%q does not parse: %v", cmd, err)
		}
	}
	want := []string{"otpknockd init --server-id", "otpknockd user add", "otpknockd server --check", "systemctl enable --now"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Start with runs %q, want %q", got, want)
	}
}
