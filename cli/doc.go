// Package cli is the small toolkit both programs' command lines
// are built with: the Env a command reads and writes through (standard
// streams, environment, clock, version), Execute and Main, which run a
// Program's cobra tree and print its error in one line, the exit codes
// (ExitUsage for usage and configuration errors, which commands mark
// with Usage and cobra's refusals are; ExitFailure for any other), the
// argument validator Args, the completion helpers, and the version
// command. A command of the other program (otpknock init) is refused
// with one line naming the program that runs it (RoleError).
//
// The commands themselves live by role: clientcmd (otpknock) and
// servercmd (otpknockd); neither imports the other, so the client links
// none of the server's packages and the server none of the TUI.
package cli
