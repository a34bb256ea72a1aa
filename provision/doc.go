// Package provision carries a user's secret and knock parameters from the
// server to the client: an otpauth:// key URI (the Google Authenticator
// key URI format, extended with otpknock's fields and parsable by
// pquerna/otp and authenticator apps), shown as a QR code in the terminal
// or saved as a PNG, and read back from either.
package provision
