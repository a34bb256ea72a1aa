// Package fleettest holds Memory, an in-memory fleet.Store for tests of
// the packages that use a fleet (daemon, commands). Its state renders as
// text (Memory.String) so tests compare what the fleet holds.
package fleettest
