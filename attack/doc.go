// Package attack is otpknock's adversarial suite: tests only, each
// attacking the real server (the otpknock binary, built by TestMain) in
// a lab of network namespaces (internal/netnstest.Lab: server, router,
// client, attacker and a NAT) with the threats of the design: replays,
// on-path races, sweeps and nmap scans, spoofed junk and failures,
// floods, malformed packets, network loss and reordering, clock skew and
// step boundaries, and stealth (the server sends nothing). Each test
// asserts what must hold and records its figure; with
// OTPKNOCK_ADVERSARIAL=full it runs at full scale and with
// OTPKNOCK_REPORT=file it appends the rows of ADVERSARIAL.md. It needs
// root, iptables, nmap, hping3 and tcpdump (make deps).
package attack
