// Package safefiletest records what happens to the entries of a
// directory while a test writes into it, so tests can prove that a file
// is complete, owned and moded before it appears under its final name
// and that nothing touches that name afterwards (Linux: inotify).
package safefiletest
