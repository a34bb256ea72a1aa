// Package servercmd is otpknockd's command line: the server and its
// administration, one file per subcommand: init, user add|list|show|qr|
// remove, server and firewall status|lock|remove. It uses the server's
// packages (config, daemon, firewall, listener) and the toolkit in
// package cli; it imports none of the client's commands (package
// clientcmd), so otpknockd links no TUI. Its Env adds the server's
// kernel boundaries (firewall, packet source, SIGHUP, systemctl) to the
// shared cli.Env, so that every command is tested in process with
// fakes; a nil boundary is the kernel's.
//
// Its name says its role beside clientcmd (package client is the
// client's knock logic, which the commands use).
package servercmd
