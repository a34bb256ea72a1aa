// Package packaging holds the files the packages install: the systemd
// units, the sysusers and tmpfiles entries, the fail2ban filter and jail,
// and the scripts that build and check the .deb and .rpm. It has no code.
// Its tests check the lock unit's boot order against the host firewalls'
// units, and run the firewalls' boot-time loads and the lock in network
// namespaces, in both orders.
package packaging
