package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

func initConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "etc", "config.yaml")
	if _, err := WriteInit(path, InitOptions{ServerID: "gw1", Host: "198.18.0.1"}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInit(t *testing.T) {
	path := initConfig(t)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path: path, ServerID: "gw1", Host: "198.18.0.1",
		SecretsDir: filepath.Join(filepath.Dir(path), "secrets"), StateFile: DefaultStateFile,
		Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		OpenTimeout: 30 * time.Second, NFLOGGroup: DefaultNFLOGGroup, Firewall: "auto", ICMPEcho: "host",
	}
	want.Params.Exclude = []uint16{}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("init config (-want +got):\n%s", diff)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %04o, want 0600", st.Mode().Perm())
	}
	if _, err := WriteInit(path, InitOptions{ServerID: "other"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second init: err = %v, want already exists", err)
	}
	if _, err := WriteInit(filepath.Join(t.TempDir(), "c.yaml"), InitOptions{ServerID: "bad id"}); err == nil || !strings.Contains(err.Error(), "server_id") {
		t.Errorf("init with a bad server id: err = %v, want a server_id error", err)
	}
}

func TestParseErrors(t *testing.T) {
	const base = "server_id: gw1\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "server_id:"},
		{"bad server id", "server_id: 'a b'\n", "server_id:"},
		{"unknown key", base + "knock_rang: 1-2\n", "unknown field knock_rang"},
		{"syntax", base + "users: [\n", "yaml:"},
		{"bad step", base + "step: 1.5s\n", "config.yaml: step: 1.5s must be whole seconds"},
		{"bad duration", base + "step: soon\n", "step"},
		{"weak", base + "knocks: 2\n", "config.yaml: knocks, protocols, knock_range: 32.6 bits per sequence, below the minimum of 48"},
		{"bad range", base + "knock_range: 5-1\n", "config.yaml: knock_range: \"5-1\": want LOW-HIGH"},
		{"bad protocol", base + "protocols: [tcp, sctp]\n", "config.yaml: protocols: unknown protocol \"sctp\""},
		{"skew", base + "skew: 11\n", "skew:"},
		{"sequence timeout", base + "sequence_timeout: 0s\n", "sequence_timeout:"},
		{"open timeout", base + "open_timeout: 1500ms\n", "open_timeout:"},
		{"nflog group", base + "nflog_group: 70000\n", "nflog_group:"},
		{"metrics not loopback", base + "metrics_listen: 0.0.0.0:9557\n", "metrics_listen:"},
		{"metrics no port", base + "metrics_listen: 127.0.0.1\n", "metrics_listen:"},
		{"firewall", base + "firewall: pf\n", `config.yaml: firewall: "pf" must be auto, nftables or iptables`},
		{"icmp echo", base + "protocols: [tcp, udp, icmp]\nicmp_echo: silent\n", `config.yaml: icmp_echo: "silent" must be host or drop`},
		{"icmp echo without icmp", base + "icmp_echo: drop\n", "config.yaml: icmp_echo: drop needs icmp in protocols"},
		{"empty secrets dir", base + "secrets_dir: ''\n", "secrets_dir:"},
		{"bad host", base + "host: 'http://x'\n", "host:"},
		{"host with port", base + "host: 'name:2222'\n", "without a port"},
		{"duration without unit", base + "open_timeout: 30\n", "open_timeout: 30 is not a duration: add a unit, e.g. 30s"},
		{"user name", base + "users: [{name: Bob, open: [tcp/22]}]\n", "users[0]: name:"},
		{"no open", base + "users: [{name: bob}]\n", "users[0]: open:"},
		{"icmp service", base + "users: [{name: bob, open: [icmp/1]}]\n", "users[0]: open[0]:"},
		{"bad port", base + "users: [{name: bob, open: [tcp/22, tcp/70000]}]\n", "users[0]: open[1]:"},
		{"port in range", base + "users: [{name: bob, open: [tcp/30000]}]\n", "add 30000 to exclude"},
		{"bad cidr", base + "users: [{name: bob, open: [tcp/22], from: [10.0.0.0/33]}]\n", "users[0]: from[0]:"},
		{"host bits", base + "users: [{name: bob, open: [tcp/22], from: [198.18.0.1/15]}]\n", "did you mean 198.18.0.0/15"},
		{"bad knock", base + "users: [{name: bob, open: [tcp/22], knock: single}]\n", "users[0]: knock: bob: \"single\" must be sequence or packet"},
		{"packet over tcp only", base + "protocols: [tcp]\nknocks: 5\nusers: [{name: bob, open: [tcp/22], knock: packet}]\n",
			"users[0]: knock: bob: protocols: packet knocks need udp or icmp among the protocols"},
		{"bad service", base + "services: {tcp/x: {forward: true}}\n", "services: "},
		{"icmp service option", base + "services: {icmp/8: {forward: true}}\n", "services: \"icmp/8\": a service is tcp/PORT or udp/PORT"},
		{"forward in range", base + "services: {tcp/30000: {forward: true}}\n", "services: tcp/30000 lies inside knock_range"},
		{"unknown service option", base + "services: {tcp/8080: {foward: true}}\n", "foward"},
		{"exclude port 0", base + "exclude: [22, 0]\n", `config.yaml: exclude: line 2: "0" is not a port: exclude lists ports from 1 to 65535`},
		{"exclude port 65536", base + "exclude: [65536]\n", `exclude: line 2: "65536" is not a port`},
		{"exclude port -1", base + "exclude: [-1]\n", `exclude: line 2: "-1" is not a port`},
		{"exclude not a number", base + "exclude:\n  - 22\n  - ssh\n", `exclude: line 4: "ssh" is not a port`},
		{"duplicate user", base + "users: [{name: bob, open: [tcp/22]}, {name: bob, open: [tcp/22]}]\n", "users[1]: name \"bob\" is used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "/etc/otpknock/config.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "/etc/otpknock/config.yaml: ") {
				t.Errorf("Parse() error = %v, want one naming the file and containing %q", err, tt.want)
			}
		})
	}
}

func TestParseUsers(t *testing.T) {
	c, err := Parse([]byte(`server_id: gw1
exclude: [30000]
users:
  - {name: alice, open: [tcp/22, udp/30000], from: [198.18.0.0/15, 2001:2::/48, 198.19.0.7]}
  - {name: bob, open: [tcp/2222], bind_source: true, knock: sequence}
  - {name: carol, open: [tcp/22], knock: packet}
  - {name: dave, open: [tcp/22], bind_source: true, knock: Packet}
`), "/x/c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []User{
		{Name: "alice", Open: []derive.Knock{{Proto: derive.TCP, Port: 22}, {Proto: derive.UDP, Port: 30000}},
			From: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("2001:2::/48"), netip.MustParsePrefix("198.19.0.7/32")}},
		{Name: "bob", Open: []derive.Knock{{Proto: derive.TCP, Port: 2222}}, BindSource: true},
		{Name: "carol", Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}, Knock: derive.ModePacket},
		{Name: "dave", Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}, BindSource: true, Knock: derive.ModePacket},
	}
	if diff := cmp.Diff(want, c.Users, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if c.Firewall != DefaultFirewall {
		t.Errorf("Firewall = %q, want %q when the key is absent", c.Firewall, DefaultFirewall)
	}
	if c.Forward != nil {
		t.Errorf("Forward = %v without services:", c.Forward)
	}
	if c.SecretsDir != "/x/secrets" {
		t.Errorf("SecretsDir = %q, want /x/secrets (relative to the config)", c.SecretsDir)
	}
}

func TestEditKeepsComments(t *testing.T) {
	path := initConfig(t)
	c, err := AddUser(path, NewUser{Name: "alice", Open: []string{"tcp/22"}, From: []string{"198.18.0.0/15"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.User("alice"); !ok {
		t.Fatalf("alice missing after AddUser: %+v", c.Users)
	}
	if _, err := AddUser(path, NewUser{Name: "bob", Open: []string{"tcp/2222"}, BindSource: true, Knock: derive.ModePacket}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); strings.Count(string(data), "\n    knock: packet\n") != 1 || strings.Count(string(data), "\n    knock:") != 1 {
		t.Errorf("want bob's knock field only (a sequence user's is left out):\n%s", data)
	}
	if _, err := AddUser(path, NewUser{Name: "alice", Open: []string{"tcp/22"}}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate AddUser: err = %v", err)
	}
	if _, err := AddUser(path, NewUser{Name: "carol", Open: []string{"tcp/30000"}}); err == nil || !strings.Contains(err.Error(), "exclude") {
		t.Errorf("AddUser with a port in the range: err = %v", err)
	}
	if c, err = RemoveUser(path, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := RemoveUser(path, "alice"); err == nil {
		t.Errorf("removing alice twice succeeded")
	}
	data, _ := os.ReadFile(path)
	for _, s := range []string{"# Identity of this server", "# How long a grant keeps", "name: bob", "bind_source: true", "knock: packet"} {
		if !strings.Contains(string(data), s) {
			t.Errorf("edited file lost %q:\n%s", s, data)
		}
	}
	if len(c.Users) != 1 || c.Users[0].Name != "bob" || c.Users[0].Knock != derive.ModePacket {
		t.Errorf("users after edits = %+v, want bob only, a packet user", c.Users)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("edit changed the mode to %04o", st.Mode().Perm())
	}
}

func TestSecrets(t *testing.T) {
	c, err := Load(initConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	if err := c.WriteSecret("alice", secret); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadSecret("alice")
	if err != nil || string(got) != string(secret) {
		t.Fatalf("ReadSecret = %q, %v", got, err)
	}
	if err := c.WriteSecret("alice", secret); err == nil {
		t.Errorf("WriteSecret replaced an existing secret")
	}
	if st, _ := os.Stat(c.SecretsDir); st.Mode().Perm() != 0o700 {
		t.Errorf("secrets dir mode %04o, want 0700", st.Mode().Perm())
	}
	os.Chmod(c.SecretPath("alice"), 0o644)
	if _, err := c.ReadSecret("alice"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("0644 secret: err = %v, want a chmod 600 hint", err)
	}
	os.WriteFile(c.SecretPath("short"), []byte(derive.EncodeSecret(secret[:15])), 0o600)
	if _, err := c.ReadSecret("short"); err == nil || !strings.Contains(err.Error(), "need at least 128") {
		t.Errorf("short secret: err = %v", err)
	}
	if _, err := c.ReadSecret("nobody"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing secret: err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("server_id: gw1\nusers: [{name: a, open: [tcp/22], from: [198.18.0.0/15]}]\n"))
	f.Add([]byte("server_id: x\nknocks: 16\nprotocols: [icmp]\nknock_range: 1-65535\nexclude: [1, 2, 3]\n"))
	f.Add([]byte("{server_id: [1], step: -1s}"))
	f.Add([]byte("server_id: gw1\nprotocols: [tcp, icmp]\nusers: [{name: a, open: [tcp/22], knock: packet}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		if err := c.Params.Validate(); err != nil {
			t.Fatalf("Parse accepted invalid params: %v", err)
		}
	})
}

func TestParseServices(t *testing.T) {
	c, err := Parse([]byte(`server_id: gw1
services:
  udp/5353: {forward: true}
  tcp/8080:
    forward: true
  tcp/22: {forward: false}
users:
  - {name: alice, open: [tcp/8080, tcp/22]}
`), "/x/c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []derive.Knock{{Proto: derive.TCP, Port: 8080}, {Proto: derive.UDP, Port: 5353}}
	if diff := cmp.Diff(want, c.Forward); diff != "" {
		t.Errorf("Forward (-want +got):\n%s", diff)
	}
}

// TestParseErrorsPointTheWay: a misspelt key names the known one, also
// in a user's entry, and a key indented out of line is named at its own
// line, not at the line its block starts on.
func TestParseErrorsPointTheWay(t *testing.T) {
	data, err := os.ReadFile(initConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	lineOf := func(t *testing.T, s, prefix string) int {
		for i, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, prefix) {
				return i + 1
			}
		}
		t.Fatalf("no line %q", prefix)
		return 0
	}
	base := string(data)
	users := strings.Replace(base, "users: []\n", "users:\n  - name: alice\n    open: [tcp/22]\n", 1)
	tests := []struct {
		name, data, prefix, want string
	}{
		{"misspelt top-level key", strings.Replace(base, "open_timeout:", "open_timout:", 1), "open_timout:",
			"unknown field open_timout (did you mean open_timeout?)"},
		{"misspelt user key", strings.Replace(users, "name: alice\n    open:", "name: alice\n    opne:", 1), "    opne:",
			"unknown field opne (did you mean open?)"},
		{"user key indented one too few", users + "   from: [198.18.0.0/15]\n", "   from:", "indentation"},
		{"top-level key indented", strings.Replace(base, "\nskew: 1\n", "\n  skew: 1\n", 1), "  skew:", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data), "config.yaml")
			want := fmt.Sprintf("config.yaml: line %d: %s", lineOf(t, tt.data, tt.prefix), tt.want)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n %v\nwant it to start\n %s", err, want)
			}
		})
	}
}

// TestICMPEcho: icmp_echo defaults to host and reads host or drop.
func TestICMPEcho(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"default", "", ICMPEchoHost},
		{"host", "icmp_echo: host\n", ICMPEchoHost},
		{"drop", "icmp_echo: drop\n", ICMPEchoDrop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("server_id: gw1\nprotocols: [tcp, udp, icmp]\n"+tc.yaml), "config.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if c.ICMPEcho != tc.want {
				t.Errorf("ICMPEcho = %q, want %q", c.ICMPEcho, tc.want)
			}
		})
	}
}
