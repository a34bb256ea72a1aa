// Package packaging holds the files the packages install: the systemd
// units, the sysusers and tmpfiles entries, the fail2ban filter and jail,
// and the scripts that build and check the .deb and .rpm. It has no code;
// its tests check the units' boot order against the host firewalls' units.
package packaging
