// Package cli implements otpknock's command line, the client that ssh
// starts on every login: import, show, profiles, send, connect and
// version, one file per subcommand, built on cobra. It links none of the
// server's packages, the TUI or the QR decoder, whose initialisation
// would slow every start; it hands the commands that need them (init,
// user, server, firewall, tui, and a QR code PNG given to import) to
// otpknockd (Full), whose command line, package fullcli, adds them to
// the ones here through Execute. Run takes its arguments, standard
// streams, environment and clock from an Env, so every command is tested
// in process with fakes.
//
// Exit codes: ExitUsage (2) for usage and configuration errors, which
// the commands mark (usage) and cobra's refusals of a command line are;
// ExitFailure (1) for every other error, such as a knock that did not
// open; a command handed off exits with otpknockd's status.
package cli
