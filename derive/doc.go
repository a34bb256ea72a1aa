// Package derive turns a shared secret and a time step into a knock
// sequence: the one-time password that otpknock clients send as packets
// and that the server expects.
//
// Everything here is a pure function of its inputs (secret, server
// identity, step, parameters and, for source-bound users, the client's
// address). Nothing reads a clock: callers compute the step with [Step]
// from a time they chose, so the server, the client, the tests and the
// published vectors all agree.
//
// It holds the protocol table ([ProtoTable], [ProtoInfo]): each knock
// carrier's name, bit, IP protocol numbers per family, whether its value
// is a port or an echo sequence, its echo types, and whether it carries
// a packet knock's payload, answers a connect or can be sent by knockd's
// knock client. The other packages read these facts from the table,
// looked up by bit ([Proto.Info]), position ([Proto.Index], [ProtoAt])
// or IP protocol number ([ProtoByIP]); a new carrier is a row there and
// its wire code (the sender's socket code, the listener's decoder, the
// firewall's match).
//
// It also holds the text forms clients and server share: the Base32
// secret ([EncodeSecret]), knocks and services ([ParseKnock],
// [ParseService]) and the parameters ([Fields]).
//
// The exact byte encoding, the sampling, the parameters and the packet
// knocks ([PacketDeriver], and [SigPacketDeriver] for users who sign
// theirs with Ed25519, with [Auth], key lines and fingerprints) are
// specified in docs/spec.md. The vector files
// of testdata/ are checked both by this package's tests and by an
// independent reference implementation in docs/reference:
//
//   - derive_v1.json: sequences, with every intermediate value;
//   - derive_v1_errors.json: parameter sets to refuse;
//   - packet_v1.json: packet knocks, and payloads to refuse;
//   - packet_ed25519_v1.json: Ed25519 packet knocks, payloads to refuse,
//     and RFC 8032's own test vectors;
//   - rfc6238.json: RFC 6238's time steps (checked here only).
//
// testdata/uri_v1.json, the provisioning URIs, is provision's.
package derive
