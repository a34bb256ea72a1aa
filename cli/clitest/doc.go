// Package clitest runs a program's command lines in process for tests,
// and holds the table checks both programs' command packages share:
// Run runs one command line through a program's entry (clientcmd.Run,
// servercmd.Run with their role's Env bound) on injected standard
// streams and returns its exit code and outputs; Lines checks a table
// of command lines against exit codes, errors and outputs (exit codes,
// unknown commands, --help, --version); Completions and Shells check
// the shell completions.
package clitest
