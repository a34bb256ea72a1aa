// Package cli implements the otpknock command line: one file per
// subcommand, built on cobra. Run takes its arguments, standard streams,
// environment and clock from an Env, so every command is tested in
// process with fakes.
package cli
