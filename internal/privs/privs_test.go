package privs

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestNetAdminIn(t *testing.T) {
	status := func(capEff string) string {
		// CapPrm holds CAP_NET_ADMIN in every case: only CapEff counts.
		return "Name:\totpknock\nUid:\t65534\t65534\t65534\t65534\nCapInh:\t0000000000000000\nCapPrm:\t0000000000003000\n" +
			capEff + "CapBnd:\t000001ffffffffff\n"
	}
	tests := []struct {
		name    string
		status  string
		want    bool
		wantErr bool
	}{
		{name: "CAP_NET_ADMIN only", status: status("CapEff:\t0000000000001000\n"), want: true},
		{name: "CAP_NET_ADMIN and CAP_NET_RAW", status: status("CapEff:\t0000000000003000\n"), want: true},
		{name: "every capability", status: status("CapEff:\t000001ffffffffff\n"), want: true},
		{name: "CAP_NET_RAW only", status: status("CapEff:\t0000000000002000\n"), want: false},
		{name: "CAP_NET_BIND_SERVICE only", status: status("CapEff:\t0000000000000400\n"), want: false},
		{name: "none", status: status("CapEff:\t0000000000000000\n"), want: false},
		{name: "not hexadecimal", status: status("CapEff:\tzz00000000001000\n"), wantErr: true},
		{name: "empty value", status: status("CapEff:\n"), wantErr: true},
		{name: "more than 64 bits", status: status("CapEff:\t1000000000000000000\n"), wantErr: true},
		{name: "no CapEff line", status: status(""), wantErr: true},
		{name: "empty file", status: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := netAdminIn(strings.NewReader(tt.status))
			if (err != nil) != tt.wantErr {
				t.Fatalf("netAdminIn = %v, %v; want error %v", got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("netAdminIn = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := netAdminIn(strings.NewReader("")); !errors.Is(err, errNoCapEff) {
		t.Errorf("empty status: %v, want errNoCapEff", err)
	}
}

// TestNetAdmin checks NetAdmin against this process: true as root,
// otherwise what its own CapEff line says.
func TestNetAdmin(t *testing.T) {
	want := os.Geteuid() == 0
	if !want {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
				caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				if err != nil {
					t.Fatal(err)
				}
				want = caps&(1<<12) != 0
			}
		}
	}
	if got := NetAdmin(); got != want {
		t.Errorf("NetAdmin() = %v, want %v (euid %d)", got, want, os.Geteuid())
	}
}
