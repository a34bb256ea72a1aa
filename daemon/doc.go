// Package daemon is the otpknock server: it installs the firewall, feeds
// the packets of the NFLOG listener to the matcher, grants what the
// matcher accepts, persists each user's last used step, reloads users
// and secrets on demand, and on exit stops logging knocks while the
// protected ports stay closed (fail closed).
//
// It logs with log/slog, one line per grant, replay, refused source and
// reload, as key=value pairs (src, user, step, ports) that fail2ban and
// journald can use; nothing per stray packet at the default level, and
// never a secret.
package daemon
