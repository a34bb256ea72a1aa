package config

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var adminKey = base64.StdEncoding.EncodeToString(make([]byte, 32))

func fleetConfig(section string) []byte {
	return []byte("server_id: bastion1\nhost: VPN.example.org\nstate_file: /var/lib/otpknock/state.json\nusers: []\nfleet:\n" + section)
}

// TestFleetSection: a fleet section is read with its defaults; a lone
// server has none.
func TestFleetSection(t *testing.T) {
	c, err := Parse(fleetConfig("  id: acme\n  servers: [tls://n1:4222, tls://n2:4222]\n  tls_ca: ca.pem\n  credentials: member.creds\n  admin_key: "+adminKey+"\n"), "/etc/otpknock/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Fleet{ID: "acme", Member: "bastion1", Identity: "vpn.example.org", Servers: []string{"tls://n1:4222", "tls://n2:4222"},
		Credentials: "/etc/otpknock/member.creds", TLSCA: "/etc/otpknock/ca.pem", AdminKey: make([]byte, 32),
		KeyFile: filepath.Join("/etc/otpknock/secrets", "fleet.key"), CacheFile: "/var/lib/otpknock/fleet-users.json",
		Replicas: 1, Unavailable: "local"}
	if diff := cmp.Diff(want, c.Fleet); diff != "" {
		t.Errorf("fleet (-want +got):\n%s", diff)
	}
	lone, err := Parse([]byte("server_id: gw1\nusers: []\n"), "/etc/otpknock/config.yaml")
	if err != nil || lone.Fleet != nil {
		t.Errorf("lone server: %v, fleet %+v; want no fleet", err, lone.Fleet)
	}
}

// TestFleetSectionRefused: each fault is refused in one line naming its
// field.
func TestFleetSectionRefused(t *testing.T) {
	ok := "  id: acme\n  servers: [tls://n1:4222]\n  admin_key: " + adminKey + "\n"
	for _, c := range []struct{ name, section, field string }{
		{"no TLS", ok + "  credentials: m.creds\n", "fleet.tls_ca:"},
		{"no credentials", ok + "  tls_ca: ca.pem\n", "fleet.credentials:"},
		{"both credentials", ok + "  tls_ca: ca.pem\n  credentials: m.creds\n  user: u\n  password_file: p\n", "fleet.credentials:"},
		{"user without password", ok + "  insecure: true\n  user: u\n", "fleet.user:"},
		{"client certificate without its key", ok + "  tls_ca: ca.pem\n  tls_cert: m.pem\n  user: u\n  password_file: p\n", "fleet.tls_cert:"},
		{"client key without its certificate", ok + "  insecure: true\n  tls_key: m.key\n", "fleet.tls_cert:"},
		{"bad id", strings.Replace(ok, "id: acme", "id: -acme", 1) + "  insecure: true\n", "fleet.id:"},
		{"upper-case identity", ok + "  insecure: true\n  identity: VPN\n", "fleet.identity:"},
		{"bad server URL", strings.Replace(ok, "tls://n1:4222", "http://n1", 1) + "  insecure: true\n", "fleet.servers[0]:"},
		{"credentials in URL", strings.Replace(ok, "tls://n1:4222", "nats://u:p@n1:4222", 1) + "  insecure: true\n", "fleet.servers[0]:"},
		{"no servers", strings.Replace(ok, "[tls://n1:4222]", "[]", 1) + "  insecure: true\n", "fleet.servers:"},
		{"bad admin key", strings.Replace(ok, adminKey, "abc", 1) + "  insecure: true\n", "fleet.admin_key:"},
		{"bad fleet_unavailable", ok + "  insecure: true\n  fleet_unavailable: maybe\n", "fleet.fleet_unavailable:"},
		{"bad replicas", ok + "  insecure: true\n  replicas: 7\n", "fleet.replicas:"},
		{"unknown key", ok + "  insecure: true\n  replica: 3\n", "replica"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(fleetConfig(c.section), "/etc/otpknock/config.yaml")
			if err == nil || !strings.Contains(err.Error(), c.field) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Parse: %v; want one line naming %q", err, c.field)
			}
		})
	}
}
