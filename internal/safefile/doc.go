// Package safefile writes files atomically: a reader sees the old content
// or the new, never a part, and a crash leaves one or the other on disk.
// The config, secrets, client profiles and the server's state file all
// go through it.
//
// Owner and mode are set on the temporary file's descriptor before it is
// renamed into place, never by path afterwards: when root writes into a
// directory another user can change, a chown by path would follow a
// symlink that user swapped in and hand them any file.
//
// On Unix a private file is one without group or other permission bits.
// On Windows it is one whose access list grants access to its owner only
// (SYSTEM and the Administrators group aside, who can take any file);
// Write gives such a file a protected access list for the current user.
package safefile
