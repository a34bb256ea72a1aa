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
// It also holds the text forms clients and server share: the Base32
// secret ([EncodeSecret]), knocks and services ([ParseKnock],
// [ParseService]) and the parameters ([Fields]).
//
// The exact byte encoding, the sampling and the parameters are specified
// in docs/spec.md; testdata/derive_v1.json holds vectors checked both by
// this package's tests and by an independent reference implementation in
// docs/reference.
package derive
