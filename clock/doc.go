// Package clock is the time source of everything in otpknock that needs
// the current time, a wait or a ticker. Derivation itself never reads a
// clock; the CLI, the sender and the server pass the time they read from
// a Clock, so tests and demos can pin it. Fake is the test clock: it
// moves only when told, and its tickers fire as it moves, each move
// returning once the ticks it made due were received.
package clock
