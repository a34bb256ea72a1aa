package packaging

import (
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// nfpmContents is the payload list of nfpm.yaml.
type nfpmContents struct {
	Contents []struct {
		Src      string `yaml:"src"`
		Dst      string `yaml:"dst"`
		Type     string `yaml:"type"`
		Packager string `yaml:"packager"`
		FileInfo struct {
			Mode int `yaml:"mode"`
		} `yaml:"file_info"`
	} `yaml:"contents"`
}

// TestPackagesCarryKeepExamples: the .deb and the .rpm both install
// otpknock keep's systemd user unit where systemd --user finds it and
// the launchd agent as a documentation example, as plain 0644 files
// from the tree, whose comments name where they are installed; the
// .rpm owns the examples directory, so that its removal takes it away.
func TestPackagesCarryKeepExamples(t *testing.T) {
	data, err := os.ReadFile("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c nfpmContents
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{ // dst: src
		"/usr/lib/systemd/user/otpknock-keep@.service":             "packaging/otpknock-keep@.service",
		"/usr/share/doc/otpknock/examples/org.otpknock.keep.plist": "packaging/org.otpknock.keep.plist",
		"/usr/share/doc/otpknock/examples (dir)":                   "",
	}
	for _, pkg := range []string{"deb", "rpm"} {
		t.Run(pkg, func(t *testing.T) {
			got := map[string]string{}
			for _, e := range c.Contents {
				if e.Packager != "" && e.Packager != pkg {
					continue
				}
				if _, ok := files[e.Dst]; ok {
					if e.Type != "" || e.FileInfo.Mode != 0o644 {
						t.Errorf("%s: type %q, mode %o, want a plain file, 0644", e.Dst, e.Type, e.FileInfo.Mode)
					}
					got[e.Dst] = e.Src
				}
				if e.Type == "dir" && e.Dst == "/usr/share/doc/otpknock/examples" {
					got[e.Dst+" (dir)"] = ""
				}
			}
			want := maps.Clone(files)
			if pkg == "deb" { // dpkg removes the directories it made once empty
				delete(want, "/usr/share/doc/otpknock/examples (dir)")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("keep's files in the .%s (-want +got):\n%s", pkg, diff)
			}
		})
	}
	for dst, src := range files {
		if src == "" {
			continue
		}
		text, err := os.ReadFile("../" + src)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), dst) {
			t.Errorf("%s does not say it is installed at %s", src, dst)
		}
	}
}
