#!/usr/bin/env bash
# Installs what otpknock's build, tests and demo need and this machine
# lacks: Debian/Ubuntu packages through apt (one apt-get update, only when
# something is missing) and Go tools through the module proxy.
set -euo pipefail

# command:package pairs the tests, the demo and make package-check use.
wanted=(python3:python3 ip:iproute2 iptables:iptables ipset:ipset nft:nftables ufw:ufw tmux:tmux tcpdump:tcpdump setpriv:util-linux sysctl:procps systemd-analyze:systemd nmap:nmap hping3:hping3 trafgen:netsniff-ng lintian:lintian rpm:rpm nats-server:nats-server)

missing=()
for pair in "${wanted[@]}"; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
	if [[ $(id -u) != 0 ]]; then
		echo "deps: missing ${missing[*]}: run as root (sudo make deps) or install them yourself" >&2
		exit 1
	fi
	if ! command -v apt-get >/dev/null; then
		echo "deps: missing ${missing[*]} and no apt-get: install them with your package manager" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
	echo "deps: Go is not installed: get Go $(sed -n 's/^go //p' go.mod) or newer from https://go.dev/dl/" >&2
	exit 1
fi
go mod download
echo "deps: ok ($(go version | cut -d' ' -f3))"
