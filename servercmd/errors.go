package servercmd

import (
	"errors"
	"io/fs"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/spf13/cobra"
)

// editError classifies an error of editing the server config: failing
// to write a valid edit is a runtime failure; a refused edit (a bad
// config, a user that exists or does not) is an error of usage.
func editError(err error) error {
	var w *config.WriteError
	if errors.As(err, &w) {
		return err
	}
	return cli.Usage(err)
}

// initError classifies an error of writing a new config: an I/O failure
// creating or writing it is a runtime failure; bad options, an existing
// file or a lack of permission are errors of usage.
func initError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return cli.Usage(err)
}

// userNames lists the users of the config the command's --config names;
// nothing when it does not load.
func userNames(c *cobra.Command) []string {
	path, err := c.Flags().GetString("config")
	if err != nil {
		return nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil
	}
	out := make([]string, len(cfg.Users))
	for i, u := range cfg.Users {
		out[i] = u.Name
	}
	return out
}
