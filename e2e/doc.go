// Package e2e holds the whole-system tests of otpknock: both programs,
// built once in TestMain, run as their users run them. Most run in
// throwaway network namespaces (internal/netnstest) and need root; they
// skip without it, unless OTPKNOCK_REQUIRE_INTEGRATION=1, where they
// fail. They cover the knock end to end on both firewall backends, the
// lock unit, the packages' units and maintainer scripts, the TUI in
// tmux, the client alone without otpknockd, and the documented command
// lines. The adversarial suite is in attack/; each program's own tests
// (what it links, its start-up) stay beside its main in cmd/.
package e2e
