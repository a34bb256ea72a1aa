#!/usr/bin/env bash
# Installs what otpknock's build, tests and demo need and this machine
# lacks: Debian/Ubuntu packages through apt (one apt-get update, only when
# something is missing) and Go tools through the module proxy.
#
#   scripts/deps.sh [all|demo]    install the set (default all)
#   scripts/deps.sh --list SET    print the set's command:package pairs
#
# demo is what make demo needs: namespaces (iproute2) and python3 for its
# web service and probes; the firewall backend nftables needs no command
# (netlink). all adds what the tests, the benches and make package-check
# use: iptables, ipset, nft, ufw, tmux, tcpdump, nmap, hping3, trafgen,
# lintian, rpm, openssh (the ssh_config tests), qemu-user-static (the
# linux/arm64 client's tests)...
set -euo pipefail

demo=(python3:python3 ip:iproute2)
all=("${demo[@]}" iptables:iptables ipset:ipset nft:nftables ufw:ufw tmux:tmux tcpdump:tcpdump setpriv:util-linux sysctl:procps systemd-analyze:systemd nmap:nmap hping3:hping3 trafgen:netsniff-ng lintian:lintian rpm:rpm nats-server:nats-server ssh:openssh-client sshd:openssh-server ssh-keygen:openssh-client qemu-aarch64-static:qemu-user-static)

list=false
if [[ ${1:-} == --list ]]; then
	list=true
	shift
fi
set_name=${1:-all}
case $set_name in
demo) wanted=("${demo[@]}") ;;
all) wanted=("${all[@]}") ;;
*)
	echo "deps: unknown set $set_name: want all or demo" >&2
	exit 2
	;;
esac
if $list; then
	printf '%s\n' "${wanted[@]}"
	exit 0
fi

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
echo "deps: ok, $set_name ($(go version | cut -d' ' -f3))"
