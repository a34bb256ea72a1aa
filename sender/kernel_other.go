//go:build !linux

package sender

// Kernel is the Writer that sends through the kernel's sockets. Outside
// Linux it is the [Portable] writer: a raw SYN buys nothing there, so
// callers use one name on every OS.
type Kernel = Portable
