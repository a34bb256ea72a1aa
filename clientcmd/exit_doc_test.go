package clientcmd

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
)

// TestSendExitCodesDocumented checks that send --help (and so its man
// page), the guide's table and the README's line name each exit code
// scripts and ssh_config's Match exec rely on, and that the guide's
// ssh_config line is one send accepts.
func TestSendExitCodesDocumented(t *testing.T) {
	h, _ := withProfile(t, "198.18.0.1")
	help := h.mustRun("", "send", "--help")
	guide, err := os.ReadFile("../docs/guide.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{cli.ExitOK, cli.ExitNotOpened, cli.ExitUsage, cli.ExitNoProfile} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			if !regexp.MustCompile(fmt.Sprintf(`(?m)^  %d  \S`, code)).MatchString(help) {
				t.Errorf("send --help lacks a line for exit %d:\n%s", code, help)
			}
			if !strings.Contains(string(guide), fmt.Sprintf("\n| %d | ", code)) {
				t.Errorf("the guide's exit-code table lacks %d", code)
			}
		})
	}
	if !strings.Contains(string(readme), fmt.Sprintf("%d (`send`,\n`connect`) no profile", cli.ExitNoProfile)) {
		t.Errorf("README's exit-code line lacks %d", cli.ExitNoProfile)
	}
	line := regexp.MustCompile(`(?m)^Match host \S+ exec "otpknock (send [^"]+)"$`).FindStringSubmatch(string(guide))
	if line == nil {
		t.Fatal("the guide has no ssh_config Match exec line")
	}
	args := strings.Fields(strings.ReplaceAll(line[1], "%h", "gw1"))
	if _, _, err := h.run("", append(args, "--dry-run")...); err != nil {
		t.Errorf("the guide's line %q does not run: %v", line[1], err)
	}
}
