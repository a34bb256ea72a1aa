// Package sender puts knock sequences on the wire and checks that the
// door opened.
//
// A [Writer] sends one packet per knock: a TCP SYN, a UDP datagram or an
// ICMP echo request whose sequence number is the knock's value; a
// [PayloadWriter] also sends UDP and ICMP knocks carrying a payload.
// [Portable] works on Linux, macOS, FreeBSD and Windows without
// privileges (ICMP where the OS has unprivileged ICMP sockets); [Kernel]
// adds a raw SYN for root on Linux and is [Portable] elsewhere;
// sendertest.Fake records packets for tests. A [Knocker] schedules a sequence on a
// [clock.Clock]: it locks the step at the first knock, waits for the
// next step when too little of this one is left for a sequence or when
// this profile already used it (the server accepts each step once),
// spaces knocks by a gap, and, with a [Prober], waits for the service and
// knocks again in a later step when it stays closed. A packet knock
// late in a step leaves at once, followed at the next step's start by
// that step's when the service is still closed then.
package sender
