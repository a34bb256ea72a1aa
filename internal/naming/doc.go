// Package naming checks the names otpknock's files and provisioning URIs
// carry: server ids, user names, hosts and client profile names. The
// rules are written out by hand rather than as regular expressions so
// that no command pays for compiling them at start-up; naming_test.go
// holds the regular expressions they were and checks both agree.
package naming
