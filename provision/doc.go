// Package provision carries a user's secret and knock parameters from the
// server to the client: an otpauth:// key URI (the Google Authenticator
// key URI format, extended with otpknock's fields and parsable by
// pquerna/otp and authenticator apps), written and parsed here; package
// qr shows it as a QR code and reads it back from a PNG.
package provision
