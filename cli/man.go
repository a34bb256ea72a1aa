package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newManCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages (otpknock.1, otpknock-server.1, ...) to DIR",
		Hidden: true,
		Args:   args(1, 1, "the output DIR"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := os.MkdirAll(a[0], 0o755); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			hdr := &doc.GenManHeader{Title: "OTPKNOCK", Section: "1", Source: "otpknock " + env.Version, Manual: "otpknock manual"}
			if err := doc.GenManTree(root, hdr, a[0]); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			fmt.Fprintf(env.Stdout, "wrote man pages to %s\n", a[0])
			return nil
		},
	}
}
