// Package publicaddr learns the address the Internet sees the client at,
// per address family, so that a packet knock from behind NAT or CGNAT
// can claim that address under its MAC instead of asking the server to
// open the packet's source (Source, docs/spec.md section 11.6), which an
// attacker who intercepts the packet could re-send from their own
// address.
//
// The package is named for what it finds, not for how: the means is a
// STUN binding request (RFC 8489, built and parsed by
// github.com/pion/stun/v3) to public STUN servers, the answer its
// XOR-MAPPED-ADDRESS. [Finder.Find] asks every server of a family at
// once, each attempt bounded by a short timeout with one retry, and
// the families in parallel; the first valid answer wins. A mapped
// address that is not [Global] (per the IANA special-purpose address
// registries) is refused: a server that sees a private address is on
// the same side of the NAT, and its answer says nothing about the
// Internet.
//
// A [Cache] keeps each answer for a few minutes per local route address
// (the source address the client's packets leave from), in a small JSON
// file beside the client's profile state, so that a knock does not pay
// a round trip each time. The file is replaced atomically: two client
// processes may use it at once.
//
// The network boundary is the [Exchanger] interface (one datagram out,
// one back); [UDP] is the real one, on plain UDP sockets, so the
// package works wherever Go's net package does (Linux, macOS, Windows,
// FreeBSD).
package publicaddr
