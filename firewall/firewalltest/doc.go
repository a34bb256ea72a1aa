// Package firewalltest holds what tests of firewall's callers and of
// its backends share: Fake and FakeFilter, in-memory Backends whose
// state renders as text, and Contract, the behaviour every Backend
// owes its caller, run by firewall's tests on each real backend.
package firewalltest
