// Package sendertest holds the fakes of the sender's boundaries for the
// tests of the packages that knock (client, the client's commands):
// Fake records the packets a Knocker writes, with the time they left on
// a fake clock, and renders them as text; FakeProber answers a probe of
// the service when told it is open, and otherwise takes the probe's
// timeout off the fake clock.
package sendertest
