package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseGrantPrefix(t *testing.T) {
	const base = "server_id: gw1\nusers: [{name: bob, open: [tcp/22], grant_prefix: "
	tests := []struct {
		name, yaml string
		want       GrantPrefix
		err        string
	}{
		{"both", base + "{v4: 24, v6: 64}}]\n", GrantPrefix{V4: 24, V6: 64}, ""},
		{"v6 only", base + "{v6: 56}}]\n", GrantPrefix{V6: 56}, ""},
		{"smallest", base + "{v4: 16, v6: 48}}]\n", GrantPrefix{V4: 16, V6: 48}, ""},
		{"v4 too wide", base + "{v4: 15}}]\n", GrantPrefix{}, "users[0]: grant_prefix: bob: v4: /15: an IPv4 grant prefix must be /16 to /32"},
		{"v6 too wide", base + "{v6: 32}}]\n", GrantPrefix{}, "users[0]: grant_prefix: bob: v6: /32: an IPv6 grant prefix must be /48 to /128"},
		{"v4 too long", base + "{v4: 33}}]\n", GrantPrefix{}, "v4: /33"},
		{"unknown key", base + "{v5: 24}}]\n", GrantPrefix{}, "v5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "/etc/otpknock/config.yaml")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "/etc/otpknock/config.yaml: ") {
					t.Fatalf("Parse() error = %v, want one naming the file and containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Users[0].GrantPrefix); diff != "" {
				t.Errorf("GrantPrefix (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGrantPrefixAround(t *testing.T) {
	g := GrantPrefix{V4: 24, V6: 64}
	tests := []struct {
		g          GrantPrefix
		addr, want string
	}{
		{g, "198.18.0.77", "198.18.0.0/24"},
		{g, "::ffff:198.18.0.77", "198.18.0.0/24"},
		{g, "2001:2:0:1:2:3:4:5", "2001:2:0:1::/64"},
		{GrantPrefix{V6: 64}, "198.18.0.77", "198.18.0.77/32"},
		{GrantPrefix{}, "2001:2::9", "2001:2::9/128"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := tt.g.Around(netip.MustParseAddr(tt.addr)); got != netip.MustParsePrefix(tt.want) {
				t.Errorf("Around(%s) = %v, want %s", tt.addr, got, tt.want)
			}
		})
	}
}

func TestParseGrantPrefixFlag(t *testing.T) {
	tests := []struct {
		in   string
		want GrantPrefix
		err  string
	}{
		{"24,64", GrantPrefix{V4: 24, V6: 64}, ""},
		{"/24", GrantPrefix{V4: 24}, ""},
		{"32,56", GrantPrefix{V4: 32, V6: 56}, ""},
		{"8,64", GrantPrefix{}, "v4: /8: an IPv4 grant prefix must be /16 to /32"},
		{"24,40", GrantPrefix{}, "v6: /40: an IPv6 grant prefix must be /48 to /128"},
		{"24,64,1", GrantPrefix{}, "want IPv4,IPv6 prefix lengths"},
		{"x", GrantPrefix{}, "want IPv4,IPv6 prefix lengths"},
		{"", GrantPrefix{}, "want IPv4,IPv6 prefix lengths"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseGrantPrefix(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseGrantPrefix(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseGrantPrefix(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestAddUserWritesGrantPrefix(t *testing.T) {
	path := initConfig(t)
	c, err := AddUser(path, NewUser{Name: "bob", Open: []string{"tcp/22"}, GrantPrefix: GrantPrefix{V4: 24, V6: 64}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := c.User("bob")
	if u.GrantPrefix != (GrantPrefix{V4: 24, V6: 64}) {
		t.Errorf("GrantPrefix = %+v after AddUser, want {24 64}", u.GrantPrefix)
	}
	c, err = AddUser(path, NewUser{Name: "carol", Open: []string{"tcp/22"}})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := c.User("carol"); !u.GrantPrefix.IsZero() {
		t.Errorf("carol's GrantPrefix = %+v, want none", u.GrantPrefix)
	}
}
