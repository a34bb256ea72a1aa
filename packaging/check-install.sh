#!/usr/bin/env bash
# CI, as root on Debian/Ubuntu: installs the .deb of this machine's
# architecture from DIR (default dist/packages) and checks it for real:
# the version, server --check on the installed example, owners and modes,
# otpknock keep's user unit found by systemd --user by instance name,
# the service neither enabled nor started, the firewall untouched, a
# reinstall keeping the config and a changed conffile, a removal that
# takes away the rules a killed server left (in a network namespace), and
# a purge that leaves nothing. Cleans up whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-dist/packages}
version=$(packaging/version.sh)
deb=$dir/otpknock_${version}_$(dpkg --print-architecture).deb
ns=otpknock-pkg-$$
fail() { echo "check-install: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || fail "run as root"
[[ -f $deb ]] || fail "$deb missing: run make package"
if dpkg-query -W -f '${Status}' otpknock 2>/dev/null | grep -q installed || [[ -e /etc/otpknock ]]; then
	fail "otpknock is already installed here (or /etc/otpknock exists): not touching it"
fi
cleanup() {
	[[ -n ${server:-} ]] && kill -9 "$server" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	dpkg --purge otpknock >/dev/null 2>&1 || true
}
trap cleanup EXIT

# firewall_clean [ns]: no otpknock chain, jump, set or nftables table
# (firewall: auto picks either backend).
firewall_clean() {
	local run=() out
	[[ -n ${1:-} ]] && run=(ip netns exec "$1")
	out=$("${run[@]}" iptables -S && "${run[@]}" ip6tables -S && "${run[@]}" ipset list -n && "${run[@]}" nft list ruleset) ||
		fail "reading the firewall${1:+ of $1}"
	[[ ${out,,} != *otpknock* ]]
}
# ruleset ns: the otpknock rules of either backend in ns.
ruleset() {
	ip netns exec "$1" iptables -S OTPKNOCK 2>/dev/null
	ip netns exec "$1" nft list table inet otpknock 2>/dev/null
	true
}
# mode_of PATH: "owner:group mode".
mode_of() { stat -c '%U:%G %a' "$1"; }
expect_mode() {
	[[ $(mode_of "$1") == "$2" ]] || fail "$1 is $(mode_of "$1"), want $2"
}

firewall_clean || fail "the firewall has otpknock rules before the install"
dpkg -i "$deb"
payload=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print p }')

echo "== version"
out=$(otpknock version) && echo "$out"
[[ $out == "otpknock $version "* ]] || fail "otpknock version is not $version"
echo "== server --check on the installed example"
otpknockd server --check --config /usr/share/doc/otpknock/config.example.yaml

echo "== owners and modes"
expect_mode /usr/bin/otpknock "root:root 755"
expect_mode /usr/bin/otpknockd "root:root 755"
expect_mode /etc/otpknock "root:otpknock 750"
expect_mode /etc/otpknock/secrets "otpknock:otpknock 700"
expect_mode /usr/lib/systemd/system/otpknock.service "root:root 644"
expect_mode /usr/lib/systemd/system/otpknock-lock.service "root:root 644"
grep -qx 'Wants=.*otpknock-lock.service.*' /usr/lib/systemd/system/otpknock.service ||
	fail "otpknock.service does not pull in otpknock-lock.service"
expect_mode /etc/fail2ban/filter.d/otpknock.conf "root:root 644"

echo "== otpknock keep's user unit and launchd example"
keepunit=/usr/lib/systemd/user/otpknock-keep@.service
expect_mode "$keepunit" "root:root 644"
expect_mode /usr/share/doc/otpknock/examples/org.otpknock.keep.plist "root:root 644"
grep -qx 'ExecStart=/usr/bin/otpknock keep %i' "$keepunit" || fail "$keepunit does not run /usr/bin/otpknock keep %i"
# systemd --user finds an instance by name, no copy: what the unit's
# comment tells users to run (enable --now) loads this.
if command -v systemd-analyze >/dev/null; then
	rt=$(mktemp -d)
	out=$(XDG_RUNTIME_DIR=$rt systemd-analyze --user verify --man=no otpknock-keep@work.service 2>&1) ||
		{ rm -rf "$rt"; fail "systemd-analyze --user verify otpknock-keep@work.service: $out"; }
	rm -rf "$rt"
fi
ls /etc/systemd/user/*.wants/otpknock-keep@* 2>/dev/null && fail "otpknock-keep@.service was enabled"
for f in $payload; do [[ -e $f || -L $f ]] || fail "$f not installed"; done
[[ $(getent passwd otpknock | cut -d: -f6,7) == /var/lib/otpknock:/usr/sbin/nologin ]] ||
	fail "user otpknock: $(getent passwd otpknock)"
grep -qx ' */etc/fail2ban/filter.d/otpknock.conf [0-9a-f]*' <(dpkg-query -W -f '${Conffiles}\n' otpknock) ||
	fail "the fail2ban filter is not a conffile"

echo "== neither enabled nor started, firewall untouched"
ls /etc/systemd/system/*.wants/otpknock.service 2>/dev/null && fail "otpknock.service was enabled"
if [[ -d /run/systemd/system ]] && systemctl is-active --quiet otpknock-lock.service; then fail "otpknock-lock.service was started"; fi
state=$(systemctl is-enabled otpknock.service 2>/dev/null || true)
[[ $state == disabled ]] || fail "systemctl is-enabled otpknock.service: $state, want disabled"
if [[ -d /run/systemd/system ]] && systemctl is-active --quiet otpknock.service; then fail "otpknock.service was started"; fi
for p in /proc/[0-9]*; do
	[[ $(readlink "$p/exe" 2>/dev/null) =~ ^/usr/bin/otpknockd?$ ]] && fail "an otpknock process runs: ${p#/proc/}"
done
firewall_clean || fail "the install changed the firewall"

echo "== reinstall keeps the config and a changed conffile"
otpknockd init --server-id pkg-check --host 198.18.0.1 >/dev/null
otpknockd user add alice --open tcp/22 --no-qr >/dev/null
echo '# changed here' >>/etc/fail2ban/filter.d/otpknock.conf
sum=$(sha256sum /etc/otpknock/config.yaml /etc/otpknock/secrets/alice.key /etc/fail2ban/filter.d/otpknock.conf)
dpkg -i "$deb" >/dev/null
[[ $(sha256sum /etc/otpknock/config.yaml /etc/otpknock/secrets/alice.key /etc/fail2ban/filter.d/otpknock.conf) == "$sum" ]] ||
	fail "the reinstall changed the config, a secret or the fail2ban filter"
expect_mode /etc/otpknock/secrets "otpknock:otpknock 700"
otpknockd server --check

echo "== removal takes away a lock and the rules of a killed server (network namespace $ns)"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" otpknockd firewall lock >/dev/null
firewall_clean "$ns" && fail "otpknockd firewall lock installed no rules in $ns"
ruleset "$ns" | grep -Eq -- '--dports 22 .*-j DROP|dport 22 drop' ||
	fail "the lock does not drop tcp/22: $(ruleset "$ns")"
ip netns exec "$ns" otpknockd server >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do ! firewall_clean "$ns" && break; sleep 0.1; done
kill -9 "$server" && wait "$server" 2>/dev/null || true
server=
firewall_clean "$ns" && fail "the server installed no rules in $ns"
ip netns exec "$ns" dpkg -r otpknock
firewall_clean "$ns" || fail "rules left in $ns after dpkg -r: $(ruleset "$ns")"
[[ -f /etc/otpknock/config.yaml && -f /etc/otpknock/secrets/alice.key ]] || fail "dpkg -r removed the config"
[[ ! -e /usr/bin/otpknock && ! -e /usr/bin/otpknockd ]] || fail "dpkg -r left /usr/bin/otpknock or otpknockd"

echo "== purge leaves nothing"
dpkg --purge otpknock
for f in $payload /etc/otpknock /var/lib/otpknock; do
	[[ -e $f || -L $f ]] && fail "$f left after the purge"
done
getent passwd otpknock >/dev/null && fail "user otpknock left after the purge"
getent group otpknock >/dev/null && fail "group otpknock left after the purge"
dpkg-query -W otpknock >/dev/null 2>&1 && fail "dpkg still knows otpknock"
firewall_clean || fail "otpknock rules left after the purge"
echo "check-install: ok ($deb)"
