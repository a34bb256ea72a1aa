package provision

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/otpknock/otpknock/derive"
	"github.com/pquerna/otp"
)

func secret32() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(0xa0 + i)
	}
	return b
}

func accounts() map[string]Account {
	def := derive.DefaultParams()
	def.Exclude = []uint16{}
	wide := derive.Params{Period: 60 * time.Second, Knocks: 6, Protocols: derive.Protocols(derive.TCP | derive.UDP | derive.ICMP),
		PortMin: 1000, PortMax: 9999, Exclude: []uint16{2222, 8080}}
	return map[string]Account{
		"defaults": {ServerID: "gw1", User: "alice", Host: "knock.example.org", Secret: secret32(), Params: def,
			Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}},
		"ipv6 host, icmp, excludes, bound": {ServerID: "edge.2", User: "bob", Host: "2001:2::1", Secret: secret32()[:16],
			Params: wide, Open: []derive.Knock{{Proto: derive.TCP, Port: 2222}, {Proto: derive.UDP, Port: 8080}}, BindSource: true},
		"no host, no open": {ServerID: "gw1", User: "c", Secret: secret32(), Params: def},
		"packet knocks":    {ServerID: "gw1", User: "d", Host: "knock.example.org", Secret: secret32(), Params: def, Knock: derive.ModePacket},
	}
}

func TestURIRoundTrip(t *testing.T) {
	for name, a := range accounts() {
		t.Run(name, func(t *testing.T) {
			uri, err := a.URI()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURI(uri)
			if err != nil {
				t.Fatalf("ParseURI(%s): %v", uri, err)
			}
			if diff := cmp.Diff(a, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s\nURI: %s", diff, uri)
			}
			// Authenticator apps and pquerna/otp read the standard fields.
			key, err := otp.NewKeyFromURL(uri)
			if err != nil {
				t.Fatal(err)
			}
			if key.Issuer() != Issuer || key.AccountName() != a.User+"@"+a.ServerID ||
				key.Period() != uint64(a.Params.Period/time.Second) || key.Algorithm() != otp.AlgorithmSHA256 {
				t.Errorf("standard fields: issuer %q account %q period %d alg %v", key.Issuer(), key.AccountName(), key.Period(), key.Algorithm())
			}
		})
	}
}

func TestParseURIErrors(t *testing.T) {
	good, err := accounts()["defaults"].URI()
	if err != nil {
		t.Fatal(err)
	}
	swap := func(from, to string) string {
		if !strings.Contains(good, from) {
			t.Fatalf("%q not in %s", from, good)
		}
		return strings.Replace(good, from, to, 1)
	}
	tests := []struct{ name, uri, want string }{
		{"not a URI", "hello", "must start with otpauth://"},
		{"hotp", swap("otpauth://totp/", "otpauth://hotp/"), `type "hotp"`},
		{"plain authenticator URI", "otpauth://totp/x:y?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=x", "no otpknock field"},
		{"newer version", swap("otpknock=1", "otpknock=2"), "upgrade otpknock"},
		{"bad version", swap("otpknock=1", "otpknock=x"), "otpknock:"},
		{"no server", swap("server=gw1", "server="), "server and user"},
		{"short secret", swap("secret=", "secret=AAAA&x="), "URI: secret: 16 bits, need at least 128"},
		{"bad secret", swap("secret=", "secret=1!&x="), "URI: secret: not Base32"},
		{"bad period", swap("period=30", "period=x"), "period:"},
		{"zero period", swap("period=30", "period=0"), "URI: period: 0s must be whole seconds"},
		{"bad knocks", swap("knocks=4", "knocks=four"), "knocks:"},
		{"weak", swap("knocks=4", "knocks=2"), "URI: knocks, protocols, range: 32.6 bits per sequence, below the minimum"},
		{"bad range", swap("range=20000-59999", "range=9-1"), "URI: range: \"9-1\": want LOW-HIGH"},
		{"bad protocol", swap("protocols=tcp%2Cudp", "protocols=tcp%2Csctp"), "URI: protocols: unknown protocol \"sctp\""},
		{"bad exclude", swap("exclude=", "exclude=x"), "exclude:"},
		{"bad open", swap("open=tcp%2F22", "open=tcp%2F0"), "open:"},
		{"bad bind", swap("bind=0", "bind=yes"), "bind:"},
		{"semicolon", swap("exclude=", "exclude=20001;20002"), `URI: malformed query: ';' at byte 46 must be percent-encoded`},
		{"pair without =", swap("exclude=", "exclude&x="), `URI: malformed query: "exclude" has no '='`},
		{"space in a list", swap("protocols=tcp%2Cudp", "protocols=tcp%2C+udp"), `URI: protocols: "tcp, udp" holds a space`},
		{"old source-bound rule", swap("bind=0", "bind=1"), "URI: bind: 1 is the old source-bound rule, which servers no longer accept: re-provision"},
		{"service twice", swap("open=tcp%2F22", "open=tcp%2F22%2CTCP%2F22"), "URI: open: tcp/22 listed twice"},
		{"bad escape", swap("exclude=", "exclude=2000%zz"), `URI: malformed query: invalid URL escape "%zz"`},
		{"repeated field", swap("exclude=", "exclude=20001&exclude=20002"), "URI: exclude: given 2 times, a URI holds it once"},
		{"repeated empty field", swap("bind=0", "bind=0&bind="), "URI: bind: given 2 times"},
		{"server of 256 bytes", swap("server=gw1", "server="+strings.Repeat("s", 256)), "URI: server: \"" + strings.Repeat("s", 256) + "\" must be 1-64 of"},
		{"unknown knock mode", swap("bind=0", "bind=0&knock=burst"), `URI: knock: "burst" must be sequence or packet`},
		{"packet knocks over tcp only", swap("protocols=tcp%2Cudp", "protocols=tcp&knock=packet"), "URI: protocols: packet knocks need udp or icmp"},
		{"type in upper case", swap("otpauth://totp/", "otpauth://TOTP/"), `type "TOTP"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURI(tt.uri)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "provisioning URI: ") {
				t.Errorf("ParseURI() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseURI(f *testing.F) {
	for _, a := range accounts() {
		uri, _ := a.URI()
		f.Add(uri)
	}
	f.Add("otpauth://totp/a?otpknock=1&secret=%zz")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseURI(s)
		if err != nil {
			return
		}
		uri, err := a.URI()
		if err != nil {
			t.Fatalf("parsed account does not encode: %v", err)
		}
		b, err := ParseURI(uri)
		if err != nil {
			t.Fatalf("re-encoded URI does not parse: %v\n%s", err, uri)
		}
		if a.ServerID != b.ServerID || a.User != b.User || !bytes.Equal(a.Secret, b.Secret) || a.Params.Bits() != b.Params.Bits() {
			t.Fatalf("round trip changed the account:\n%+v\n%+v", a, b)
		}
	})
}

func TestGenerateSecret(t *testing.T) {
	a, err := GenerateSecret(32)
	if err != nil || len(a) != 32 {
		t.Fatalf("GenerateSecret(32) = %d bytes, %v", len(a), err)
	}
	b, _ := GenerateSecret(32)
	if bytes.Equal(a, b) {
		t.Errorf("two secrets are equal")
	}
	if s, err := GenerateSecret(16); err != nil || len(s) != 16 {
		t.Errorf("GenerateSecret(16) = %d bytes, %v", len(s), err)
	}
	if _, err := GenerateSecret(15); err == nil {
		t.Errorf("GenerateSecret(15) succeeded")
	}
}
