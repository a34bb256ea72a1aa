// Package fullcli is otpknockd's command line: every otpknock command.
// It adds to the client's commands (package cli) those otpknock hands
// off, one file per subcommand: init, user, server and firewall, which
// use the server's packages (config, daemon, firewall, listener), the
// TUI (tui, Bubble Tea), and reading a QR code PNG. Its Env adds the
// server's kernel boundaries (firewall, packet source, SIGHUP) to the
// client's, so that every command is tested in process with fakes; a nil
// boundary is the kernel's.
package fullcli
