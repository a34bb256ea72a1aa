package e2e

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestKeepUserUnit checks the systemd user unit of otpknock keep: an
// instance of it verifies with systemd-analyze --user and runs otpknock
// keep with the instance's profile.
func TestKeepUserUnit(t *testing.T) {
	netnstest.Require(t, "systemd-analyze")
	data, err := os.ReadFile("../packaging/otpknock-keep@.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\nExecStart=/usr/bin/otpknock keep %i\n") {
		t.Errorf("the unit does not run otpknock keep %%i:\n%s", data)
	}
	unit := filepath.Join(t.TempDir(), "otpknock-keep@work.service")
	os.WriteFile(unit, []byte(strings.ReplaceAll(string(data), "/usr/bin/otpknock", bins.Client)), 0o644)
	// As systemd --user loads it (default.target is the user's); the
	// user manager's runtime directory need not exist.
	verify := exec.Command("systemd-analyze", "--user", "verify", "--man=no", unit)
	verify.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir())
	if out, err := verify.CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze --user verify: %v\n%s", err, out)
	}
}

// TestKeepLaunchdPlist checks that the launchd example is a well-formed
// property list whose program is otpknock keep PROFILE.
func TestKeepLaunchdPlist(t *testing.T) {
	data, err := os.ReadFile("../packaging/org.otpknock.keep.plist")
	if err != nil {
		t.Fatal(err)
	}
	var plist struct {
		Dict struct {
			Items []struct {
				XMLName xml.Name
				Text    string   `xml:",chardata"`
				Strings []string `xml:"string"`
			} `xml:",any"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal(data, &plist); err != nil {
		t.Fatalf("org.otpknock.keep.plist: %v", err)
	}
	got := map[string][]string{}
	var key string
	for _, it := range plist.Dict.Items {
		switch it.XMLName.Local {
		case "key":
			key = it.Text
		case "array":
			got[key] = it.Strings
		case "string":
			got[key] = []string{it.Text}
		}
	}
	want := map[string][]string{
		"Label":             {"org.otpknock.keep"},
		"ProgramArguments":  {"/usr/local/bin/otpknock", "keep", "work"},
		"StandardOutPath":   {"/tmp/otpknock-keep.log"},
		"StandardErrorPath": {"/tmp/otpknock-keep.log"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plist (-want +got):\n%s", diff)
	}
}
