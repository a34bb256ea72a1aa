# Sourced by scripts/demo.sh, bench/compare.sh and bench/scale.sh: a
# server and a client network namespace joined by veth0 (198.18.0.1 and
# 198.18.0.2), a work directory, and a cleanup on exit that stops the
# background processes listed in pids, deletes the namespaces and the
# directory.
# Usage: netns_pair NAME; sets srv, cli, work and pids.
netns_pair() {
	srv=otpk-$1-$$-srv
	cli=otpk-$1-$$-cli
	work=$(mktemp -d "/tmp/otpknock-$1.XXXXXX")
	pids=()
	trap netns_cleanup EXIT
	ip netns add "$srv"
	ip netns add "$cli"
	ip link add veth0 netns "$srv" type veth peer name veth0 netns "$cli"
	ip -n "$srv" addr add 198.18.0.1/24 dev veth0
	ip -n "$cli" addr add 198.18.0.2/24 dev veth0
	for ns in "$srv" "$cli"; do
		ip -n "$ns" link set veth0 up
		ip -n "$ns" link set lo up
	done
}

netns_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$srv" 2>/dev/null || true
	ip netns del "$cli" 2>/dev/null || true
	rm -rf "/etc/netns/$cli"
	[ -z "${atk:-}" ] || ip netns del "$atk" 2>/dev/null || true
	rm -rf "$work"
}

# netns_service PORT: a TCP service on 198.18.0.1:PORT in the server's
# namespace that accepts and closes every connection, stopped on exit.
netns_service() {
	ip netns exec "$srv" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", int(sys.argv[1]))); s.listen(128)
while True:
    c, _ = s.accept(); c.close()' "$1" &
	pids+=($!)
}

# netns_attacker: an attacker namespace (198.18.0.3) on the client's
# link: the client's veth0 becomes a port of a bridge in the client's
# namespace, so the server sees the attacker's packets on its veth0 like
# the client's. Sets atk; netns_cleanup deletes it.
netns_attacker() {
	atk=${srv%-srv}-atk
	ip netns add "$atk"
	ip -n "$cli" link add br0 type bridge
	ip -n "$cli" addr del 198.18.0.2/24 dev veth0
	ip -n "$cli" link set veth0 master br0
	ip link add veth1 netns "$cli" type veth peer name veth0 netns "$atk"
	ip -n "$cli" link set veth1 master br0
	ip -n "$cli" addr add 198.18.0.2/24 dev br0
	ip -n "$atk" addr add 198.18.0.3/24 dev veth0
	for l in br0 veth1; do ip -n "$cli" link set "$l" up; done
	ip -n "$atk" link set veth0 up
	ip -n "$atk" link set lo up
}
