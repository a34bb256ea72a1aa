package cli

import (
	"fmt"
	"runtime"

	"github.com/otpknock/otpknock/provision"
	"github.com/spf13/cobra"
)

func newVersionCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  args(0, 0, "no arguments"),
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(env.Stdout, "otpknock %s (derivation otpknock/v%d, %s, %s/%s)\n",
				env.Version, provision.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
