// Package qr shows a provisioning URI (package provision) as a QR code,
// in a terminal (half-block characters with fixed colors, readable on
// dark and light themes) or as a PNG file, and reads a URI back from a
// PNG. It is apart from provision so that only the commands that show
// or read QR codes (otpknockd user add|qr, otpknock import FILE.png)
// depend on the QR libraries; their start-up cost in otpknock is
// measured by cmd/otpknock's BenchmarkStartup.
package qr
