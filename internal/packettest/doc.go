// Package packettest builds the IPv4 and IPv6 packets otpknock's tests
// send and decode: TCP, UDP and ICMP/ICMPv6 echo headers, IPv6
// extension and fragment headers, and whole knock packets, with correct
// Internet checksums (RFC 1071) over the pseudo-headers of RFC 793 and
// RFC 8200. Tests that need odd packets build a correct one and change
// bytes; Checksum recomputes what they change.
package packettest
