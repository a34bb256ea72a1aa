// Package listener receives the packets the firewall logs to an NFLOG
// group and decodes them into knocks: the source address and the
// (protocol, port) or (icmp, echo sequence number) knocked.
//
// The NFLOG subscription is a netlink socket (vishvananda/netlink's nl
// package) in copy-packet mode with a copy range of CopyRange bytes
// (headers and a packet knock's payload), a large receive
// buffer and NETLINK_NO_ENOBUFS; NFLOG's per-instance sequence numbers
// count messages the kernel could not deliver. The subscription is
// configured through a small conn interface (send a request, receive the
// answer); fakeConn stands in for the kernel in tests, checking the
// exact request bytes and answering with canned acknowledgements and
// errnos. Decoders are pure,
// allocation-free functions over bytes, fuzzed: a truncated or odd
// packet is counted and dropped, never a panic. A packet knock's payload
// (UDP payload or echo data) is handed on as a sub-slice of the receive
// buffer, valid during the callback; one the copy range cut short is
// dropped from the packet and counted (Stats.Truncated), never passed on
// as a shorter payload. Only the kernel's datagrams are read: one whose
// netlink sender is a process (a port id other than 0; sending to the
// socket needs CAP_NET_ADMIN in its namespace) is refused unread and
// counted (Stats.Forged).
//
// Reading costs wake-ups more than instructions: under a flood, each
// wake-up of a server thread is charged the kernel's pending network
// work. NFLOG.Run parks in Go's poller (a thread blocked in a system
// call keeps the runtime's monitor thread awake) and reads with raw
// non-blocking calls; past busyRate messages a second it asks the
// kernel to batch them (a queue threshold of what arrives in about
// batchDelay, 2 ms, a 64 KiB buffer and a 10 ms flush timeout), one
// datagram and one wake-up per batch, and once the rate has stayed low
// for calmAfter, to send each message at once again. A knock is never
// delayed but under such a flood, by about 2 ms (10 ms at most).
//
// Source is the boundary the daemon reads from: NFLOG on Linux,
// listenertest.Fake in tests (it counts a packet once the daemon's handler returned, and
// Drain waits for that).
package listener
