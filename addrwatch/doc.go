// Package addrwatch tells a long-running client when its addresses
// toward a server changed: the route source (a new Wi-Fi, a DHCP lease,
// an IPv6 temporary address) or the public address a knock claims.
//
// A [Watcher] looks at the addresses (its Look function) at start, after
// each event of its [Events] (netlink address and route events on
// Linux: [Kernel]) and every Poll, and calls its callback when they
// differ from the last look. Where the OS gives no events, Poll alone
// finds changes (otpknock keep polls every 2 s there); where it should
// but subscribing fails (a sandbox without netlink, EPERM), a Watcher
// with a Fallback polls that often instead and tells FellBack why.
package addrwatch
