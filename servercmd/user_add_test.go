package servercmd

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
)

// TestUserAddAllOrNothing checks that a refused or failed user add
// leaves the config, the secrets directory and the PNG path as they
// were.
func TestUserAddAllOrNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, h *harness)
		args  []string
		want  int
		msg   string
	}{
		{"png directory missing", nil, []string{"--qr-png", "{dir}/nonexistent/u.png"}, cli.ExitUsage, "--qr-png: directory"},
		{"png is a directory", nil, []string{"--qr-png", "{dir}"}, cli.ExitUsage, "is a directory"},
		{"png directory is a file", func(t *testing.T, h *harness) { writeFile(t, h.path("f"), "") },
			[]string{"--qr-png", "{dir}/f/u.png"}, cli.ExitUsage, "is not a directory"},
		{"bad open", nil, []string{"--open", "tcp/0"}, cli.ExitUsage, "--open"},
		{"bad from", nil, []string{"--from", "198.18.0.0/40"}, cli.ExitUsage, "from"},
		{"bad host", nil, []string{"--host", "bad host!"}, cli.ExitUsage, "--host"},
		{"grant prefix too wide", nil, []string{"--grant-prefix", "8,64"}, cli.ExitUsage, "--grant-prefix: v4: /8: an IPv4 grant prefix must be /16 to /32"},
		{"grant prefix v6 too wide", nil, []string{"--grant-prefix", "24,32"}, cli.ExitUsage, "--grant-prefix: v6: /32: an IPv6 grant prefix must be /48 to /128"},
		{"grant prefix not numbers", nil, []string{"--grant-prefix", "cgnat"}, cli.ExitUsage, "--grant-prefix:"},
		{"host with port", nil, []string{"--host", "name:2222"}, cli.ExitUsage, "without a port"},
		{"bracketed name", nil, []string{"--host", "[name]"}, cli.ExitUsage, "bracketed IPv6"},
		{"stale secret", func(t *testing.T, h *harness) {
			os.Mkdir(h.path("secrets"), 0o700)
			writeFile(t, h.path("secrets/bob.key"), "x")
		},
			[]string{}, cli.ExitUsage, "stale secret"},
		{"open in range, no users", nil, []string{"--open", "udp/51820"}, cli.ExitUsage, "no user is provisioned yet, so add 51820 to exclude"},
		{"open in range, users", func(t *testing.T, h *harness) {
			h.mustRun("", "user", "add", "alice", "-c", h.path("config.yaml"), "--no-qr", "--no-reload")
		},
			[]string{"--open", "udp/51820"}, cli.ExitUsage, "run the service on a port outside 20000-59999 (the users keep their knocks), or add 51820 to exclude"},
		{"secret write fails", func(t *testing.T, h *harness) { writeFile(t, h.path("secrets"), "") },
			[]string{"--qr-png", "{dir}/u.png"}, cli.ExitFailure, "secrets_dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg := h.path("config.yaml")
			h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
			if tt.setup != nil {
				tt.setup(t, h)
			}
			before, _ := os.ReadFile(cfg)
			secretsBefore := dirList(h.path("secrets"))
			args := []string{"user", "add", "bob", "-c", cfg, "--no-qr", "--no-reload"}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "{dir}", h.dir))
			}
			_, _, err := h.run("", args...)
			if got := cli.ExitCode(err); got != tt.want {
				t.Errorf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want one containing %q", err, tt.msg)
			}
			if after, _ := os.ReadFile(cfg); !bytes.Equal(before, after) {
				t.Errorf("the config changed:\n%s", after)
			}
			if diff := cmp.Diff(secretsBefore, dirList(h.path("secrets"))); diff != "" {
				t.Errorf("secrets (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(h.path("u.png")); err == nil {
				t.Errorf("the QR code PNG stayed behind")
			}
		})
	}
}

// dirList lists a directory's names; "missing" or "file" when it is none.
func dirList(dir string) []string {
	st, err := os.Stat(dir)
	if err != nil {
		return []string{"missing"}
	}
	if !st.IsDir() {
		return []string{"file"}
	}
	es, _ := os.ReadDir(dir)
	names := []string{}
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestUserAddInputs checks what user add stores and writes into the URI.
func TestUserAddInputs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantHost string
		wantOpen []string
	}{
		{"repeated open stored once", []string{"--open", "tcp/22", "--open", "tcp/22", "--open", "udp/53"}, "198.18.0.1", []string{"tcp/22", "udp/53"}},
		{"bracketed IPv6", []string{"--host", "[2001:db8::1]"}, "2001:db8::1", []string{"tcp/22"}},
		{"bare IPv6", []string{"--host", "2001:db8::2"}, "2001:db8::2", []string{"tcp/22"}},
		{"name", []string{"--host", "knock.example.org"}, "knock.example.org", []string{"tcp/22"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg := h.path("config.yaml")
			h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
			out := h.mustRun("", append([]string{"user", "add", "bob", "-c", cfg, "--no-qr", "--no-reload"}, tt.args...)...)
			acct, err := provision.ParseURI(uriRE.FindString(out))
			if err != nil {
				t.Fatal(err)
			}
			if acct.Host != tt.wantHost {
				t.Errorf("URI host %q, want %q", acct.Host, tt.wantHost)
			}
			c, err := config.Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := c.User("bob")
			if diff := cmp.Diff(tt.wantOpen, strings.Fields(derive.Knocks(u.Open).Join(" "))); diff != "" {
				t.Errorf("stored open (-want +got):\n%s", diff)
			}
		})
	}
}
