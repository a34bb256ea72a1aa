// Package safefile writes files atomically: a reader sees the old content
// or the new, never a part, and a crash leaves one or the other on disk.
// The config, secrets, client profiles and the server's state file all
// go through it.
package safefile
