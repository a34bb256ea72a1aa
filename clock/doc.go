// Package clock is the time source of everything in otpknock that needs
// the current time. Derivation itself never reads a clock; the CLI, the
// sender and the server pass the time they read from a Clock, so tests
// and demos can pin it.
package clock
