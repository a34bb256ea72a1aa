// Package netnstest builds throwaway network namespaces for integration
// tests: two namespaces joined by a veth pair, addressed from the
// benchmarking ranges 198.18.0.0/15 and 2001:2::/48, removed when the
// test ends. Tests that need them call Require first: without root they
// skip, unless OTPKNOCK_REQUIRE_INTEGRATION=1 (as in CI), where they fail.
package netnstest
