# Shared by the maintainer scripts of the .deb and the .rpm (package.sh
# pastes it into each script: a package's scripts cannot source files).

# otpknock_setup creates the otpknock user and group (systemd-sysusers,
# else useradd) and /etc/otpknock (root:otpknock 0750) with its secrets/
# (otpknock 0700) (systemd-tmpfiles, else install -d).
otpknock_setup() {
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers otpknock.conf
	elif ! getent passwd otpknock >/dev/null; then
		getent group otpknock >/dev/null || groupadd --system otpknock
		useradd --system --gid otpknock --home-dir /var/lib/otpknock --no-create-home \
			--shell /usr/sbin/nologin --comment "otpknock server" otpknock
	fi
	if command -v systemd-tmpfiles >/dev/null 2>&1; then
		systemd-tmpfiles --create otpknock.conf
	else
		install -d -o root -g otpknock -m 0750 /etc/otpknock
		install -d -o otpknock -g otpknock -m 0700 /etc/otpknock/secrets
	fi
}

# otpknock_booted is true when systemd is the running init.
otpknock_booted() {
	[ -d /run/systemd/system ]
}

# otpknock_teardown STOP... stops a running server with the command
# STOP... (deb-systemd-invoke on Debian, systemctl elsewhere), which
# removes its firewall rules, and marks otpknock-lock.service stopped
# (stopping it changes nothing), then removes any rules left (a server
# killed with -9, run by hand, or a lock) with otpknockd firewall remove,
# which removes them by name when the config is broken or missing (it
# warns in one line). Best effort: removal goes on.
otpknock_teardown() {
	for unit in otpknock.service otpknock-lock.service; do
		if otpknock_booted && systemctl is-active --quiet "$unit"; then
			"$@" stop "$unit" || echo "otpknock: stopping $unit failed" >&2
		fi
	done
	if command -v otpknockd >/dev/null 2>&1; then
		otpknockd firewall remove --config /etc/otpknock/config.yaml >/dev/null ||
			echo "otpknock: otpknockd firewall remove failed: check otpknockd firewall status, iptables -S, ipset list and nft list ruleset" >&2
	fi
}

# otpknock_purge removes the config, the secrets, the state, a leftover
# enablement link and the otpknock user and group, which own nothing else.
otpknock_purge() {
	rm -rf /etc/otpknock /var/lib/otpknock
	rm -f /etc/systemd/system/multi-user.target.wants/otpknock.service
	rm -f /etc/systemd/system/otpknock.service.wants/otpknock-lock.service
	if getent passwd otpknock >/dev/null; then
		userdel otpknock >/dev/null 2>&1 || echo "otpknock: userdel otpknock failed" >&2
	fi
	if getent group otpknock >/dev/null; then
		groupdel otpknock >/dev/null 2>&1 || echo "otpknock: groupdel otpknock failed" >&2
	fi
}
