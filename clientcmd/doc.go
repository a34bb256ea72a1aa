// Package clientcmd is otpknock's command line, the whole client: import
// (a URI, "-" or a QR code PNG, decoded in process by package qr), show,
// profiles [remove|rename], send, connect and tui, one file per
// subcommand, built with the toolkit in package cli. It links none of
// the server's packages (config, daemon, firewall, listener): ssh runs
// otpknock connect on every login, so it starts fast. Its Env adds the
// client's boundaries (packet writer, TCP prober, QR decoder) to the
// shared cli.Env, so that every command is tested in process with fakes,
// from the fixture URIs in testdata/.
//
// Its name says its role beside servercmd; package client, which it
// uses, is the client's knock logic without a command line.
package clientcmd
