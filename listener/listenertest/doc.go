// Package listenertest holds the fake listener.Source that the tests of
// the packages reading knocks (daemon, the server's commands) run on:
// Fake delivers the packets a test injects, counts each once the
// handler returned, and renders its counters as text.
package listenertest
