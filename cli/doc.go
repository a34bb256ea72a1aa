// Package cli implements the otpknock command line: one file per
// subcommand, built on cobra. Run takes its arguments, standard streams,
// environment, clock and the server's kernel boundaries (firewall,
// packet source, SIGHUP) from an Env, so every command is tested in
// process with fakes; a nil boundary is the kernel's.
//
// Exit codes: ExitUsage (2) for usage and configuration errors, which
// the commands mark (usage) and cobra's refusals of a command line are;
// ExitFailure (1) for every other error, such as a server failing while
// it runs or a knock that did not open. Commands not yet annotated as
// classifying their errors (see classifyErrors) keep exit 2 for every
// error but a knock that did not open.
package cli
