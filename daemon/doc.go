// Package daemon is the otpknock server: it installs the firewall, feeds
// the packets of the listener to the matcher, grants what the matcher
// accepts, persists each user's last used step, reloads users and
// secrets on demand, and on exit stops logging knocks while the
// protected ports stay closed (fail closed).
//
// Data flows listener -> daemon -> matcher, and daemon -> firewall: the
// daemon turns each listener.Packet into the matcher's (time, source,
// knock, payload) and maps its config onto the firewall's Plan (FirewallPlan), so
// neither the matcher nor the firewall knows the listener or the config.
//
// A Daemon's life is New (state, secrets, matcher, metrics, firewall
// installed), Run (serve until the context ends or the source fails,
// then Close; meanwhile check the firewall with Backend.Verify every
// Deps.HealEvery and install it again when a firewall reload or
// iptables -F removed a piece, with a log line and the metric
// otpknock_firewall_repairs_total), Reload at any time from another goroutine, and Close
// (idempotent). Its time comes from a clock.Clock, its housekeeping
// ticker included, so tests drive it with a fake clock and fake kernel
// boundaries (listenertest.Fake, firewalltest.Fake).
//
// With a backend that has a firewall.Filter, the daemon keeps the
// kernel's pre-filter current off the packet path: it arms each
// window's elements when the window is built (5 s before its step at
// the housekeeping; at start and after a reload at once), and hands the
// sources that start a sequence (matcher.Config.Track, a buffered
// channel the packet path never waits on) to the kernel in batches.
//
// A grant opens the user's services for each address of the matcher's
// event: the source of a sequence, the claimed addresses of a packet
// knock (IPv4 and IPv6 alike, each in its family's set).
//
// It logs with log/slog as key=value pairs (src, user, step, ports; for
// packet knocks also knock=packet and addrs, every address opened) that
// fail2ban and journald can use: one line per grant and reload, and one
// per replay or refused source from each of the first four sources of
// its (user, step, outcome, reason), the rest counted and summarised in
// one line once the step leaves the window, so no sender can flood the
// log; one line for the first duplicate of a grant (a late copy:
// msg=duplicate, the rest at debug); nothing per stray packet or refused payload (bad size, tag or
// claim: counted in the metrics) at the default level, and never a
// secret.
package daemon
