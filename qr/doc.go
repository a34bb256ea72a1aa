// Package qr shows a provisioning URI (package provision) as a QR code,
// in a terminal (half-block characters with fixed colors, readable on
// dark and light themes) or as a PNG file, and reads a URI back from a
// PNG. It is apart from provision because its QR decoder builds large
// tables when a program starts: the otpknock client, which ssh starts on
// every login, does not link it, and hands a PNG to otpknockd.
package qr
