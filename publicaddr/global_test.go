package publicaddr

import (
	"net/netip"
	"testing"
)

func TestGlobal(t *testing.T) {
	for a, want := range map[string]bool{
		"8.8.8.8": true, "11.22.33.44": true, "100.128.0.1": true, "192.0.0.9": true, "192.0.0.10": true,
		"2600::1": true, "2001:4860::8888": true, "2001:1::1": true, "2001:3::1": true, "2001:20::1": true,
		"::ffff:8.8.8.8": true, "64:ff9b::808:808": true,
		"10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "100.64.0.1": false, "100.127.255.254": false,
		"127.0.0.1": false, "169.254.1.1": false, "0.0.0.0": false, "0.1.2.3": false, "192.0.0.8": false,
		"192.0.2.1": false, "198.18.0.2": false, "198.19.255.1": false, "198.51.100.1": false, "203.0.113.1": false,
		"240.0.0.1": false, "255.255.255.255": false, "224.0.0.1": false, "::ffff:10.0.0.1": false,
		"::1": false, "::": false, "fd00::1": false, "fe80::1": false, "ff02::1": false, "2001:db8::1": false,
		"2001:2::2": false, "2001::1": false, "2002::1": false, "3fff::1": false, "5f00::1": false, "64:ff9b:1::1": false,
		"100::1": false,
	} {
		if got := Global(netip.MustParseAddr(a)); got != want {
			t.Errorf("Global(%s) = %v, want %v", a, got, want)
		}
	}
}

func TestParseServers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "none", want: []string{}},
		{in: "stun.example:3478", want: []string{"stun.example:3478"}},
		{in: "198.18.0.1:3478, [2001:2::1]:3478", want: []string{"198.18.0.1:3478", "[2001:2::1]:3478"}},
		{in: "stun.example", err: `stun server "stun.example": want HOST:PORT`},
		{in: "stun.example:0", err: `stun server "stun.example:0": port "0" must be from 1 to 65535`},
		{in: ":3478", err: `stun server ":3478": want HOST:PORT`},
		{in: "", err: `stun server "": want HOST:PORT`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseServers(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}
