// Package tui is otpknock's terminal interface (Bubble Tea): the list of
// profiles, the current knock sequence of the selected one with a
// countdown to the next rotation, one key to knock and verify that the
// door opened, importing and deleting profiles, and a log of results.
//
// The model, keymap and styles are values passed in; everything with a
// side effect (the profile store, the knocker, the clipboard, the clock)
// is a small interface, so screens are golden-tested with fakes.
package tui
