package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/otpknock/otpknock/provision"
	"github.com/spf13/cobra"
)

// ResolveVersion returns the version a program reports: stamped, the
// value make build sets with -ldflags -X main.version, unless it is
// empty or "dev"; else the main module's version that the go command
// recorded in the binary (go install .../cmd/otpknock@v1.2.3), read with
// read (debug.ReadBuildInfo); else "dev".
func ResolveVersion(stamped string, read func() (*debug.BuildInfo, bool)) string {
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	if info, ok := read(); ok && info != nil {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return v
		}
	}
	return "dev"
}

// version returns the version to report (ResolveVersion) when args
// are nil (asked) or hold --version, which cobra answers with the root
// command's; else the stamped version, sparing the start the build
// information's parsing.
func (env *Env) version(args []string) string {
	asked := slices.ContainsFunc(args, func(a string) bool { return a == "--version" || strings.HasPrefix(a, "--version=") })
	if env.BuildInfo == nil || args != nil && !asked {
		return env.Version
	}
	return ResolveVersion(env.Version, env.BuildInfo)
}

// newVersionCmd is the version command of the program name.
func newVersionCmd(env *Env, name string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  Args(0, 0, "no arguments"),
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(env.Stdout, "%s %s (derivation otpknock/v%d, %s, %s/%s)\n",
				name, env.version(nil), provision.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
