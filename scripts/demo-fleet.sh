#!/usr/bin/env bash
# The otpknock fleet demo, in network namespaces made for it and removed
# after: a pool of three otpknockd members (m1..m3) behind a load
# balancer that sends each new connection to the pool's address
# (198.18.5.1) to a member at random (nftables numgen random), a NATS
# server with JetStream beside them, and a client. The administrator
# enrolls alice once for the whole pool; her one packet knock lands on one
# member, and every member opens the service for her; removing her
# reaches every member without a reload. (A packet re-sent to another
# member is refused as a replay: e2e.TestPoolBehindLoadBalancer.)
set -euo pipefail
bin=$(realpath "${1:-bin/otpknock}")
bind=$(dirname "$bin")/otpknockd
[[ -x $bind ]] || { echo "demo-fleet: no otpknockd beside $bin: make build" >&2; exit 1; }
if [[ $(id -u) != 0 ]]; then
	echo "demo-fleet: needs root (network namespaces, nftables): sudo make demo-fleet" >&2
	exit 1
fi
command -v nats-server >/dev/null || { echo "demo-fleet: needs nats-server (make deps installs it)" >&2; exit 1; }

p=otpk-fleet-$$
lb=$p-lb cli=$p-cli nats=$p-nats
members=("$p-m1" "$p-m2" "$p-m3")
work=$(mktemp -d /tmp/otpknock-fleet.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for ns in "$lb" "$cli" "$nats" "${members[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
export OTPKNOCK_CLIENT_CONFIG=$work/client/client.yaml
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
on() { local ns=$1; shift; printf '[%s] $ %s\n' "${ns##*-}" "$*"; ip netns exec "$ns" "$@"; }
# fetch: one connection to the pool's address; which member answered.
fetch() {
	ip netns exec "$cli" python3 - <<'PY'
import urllib.request
try:
    print("  198.18.5.1:2222 -> " + urllib.request.urlopen("http://198.18.5.1:2222/", timeout=1).read().decode().strip())
except OSError:
    print("  198.18.5.1:2222 -> closed (no answer)")
PY
}

say "Network: client 198.18.4.2 -> load balancer (198.18.5.1, random DNAT) -> m1..m3 198.18.3.1-3; NATS 198.18.3.100"
for ns in "$lb" "$cli" "$nats" "${members[@]}"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add veth0 netns "$cli" type veth peer name cli netns "$lb"
ip -n "$cli" addr add 198.18.4.2/24 dev veth0 && ip -n "$cli" link set veth0 up
ip -n "$cli" route add default via 198.18.4.254
ip -n "$lb" addr add 198.18.4.254/24 dev cli && ip -n "$lb" link set cli up
ip -n "$lb" link add pool type bridge && ip -n "$lb" link set pool up
ip -n "$lb" addr add 198.18.3.254/24 dev pool
i=0
for ns in "${members[@]}" "$nats"; do
	i=$((i + 1))
	addr=198.18.3.$i
	[[ $ns == "$nats" ]] && addr=198.18.3.100
	ip link add veth0 netns "$ns" type veth peer name "p$i" netns "$lb"
	ip -n "$lb" link set "p$i" master pool && ip -n "$lb" link set "p$i" up
	ip -n "$ns" addr add "$addr/24" dev veth0 && ip -n "$ns" link set veth0 up
	ip -n "$ns" route add default via 198.18.3.254
done
ip netns exec "$lb" sysctl -q -w net.ipv4.ip_forward=1
ip netns exec "$lb" nft -f - <<'NFT'
table ip lb {
  chain pre {
    type nat hook prerouting priority -100;
    ip daddr 198.18.5.1 dnat to numgen random mod 3 map { 0 : 198.18.3.1, 1 : 198.18.3.2, 2 : 198.18.3.3 }
  }
}
NFT
echo "  load balancer: $(ip netns exec "$lb" nft list chain ip lb pre | grep -o 'dnat.*')"

say "NATS with JetStream (Debian's nats-server; insecure here: a real fleet uses TLS and credentials)"
printf 'listen: "198.18.3.100:4222"\njetstream { store_dir: "%s/js" }\n' "$work" >"$work/nats.conf"
ip netns exec "$nats" nats-server -c "$work/nats.conf" >"$work/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q 'Server is ready' "$work/nats.log" && break; sleep 0.1; done
grep -o 'Version:.*\|Server is ready' "$work/nats.log" | sed 's/^/  nats: /'

say "Administrator: a key and the fleet's buckets, then three members that share the pool's identity 198.18.5.1"
line=$(on "$lb" "$bind" fleet admin-key --admin-key "$work/admin/admin.key")
echo "$line"
for n in 1 2 3; do
	ns=${members[$((n - 1))]}
	cfg=$work/m$n/config.yaml
	ip netns exec "$ns" "$bind" init --config "$cfg" --server-id "m$n" --host 198.18.5.1 --state-file "$work/m$n/state/state.json" >/dev/null
	printf 'fleet:\n  id: demo\n  servers: [nats://198.18.3.100:4222]\n  insecure: true\n  %s\n' "$(grep -o 'admin_key: .*' <<<"$line")" >>"$cfg"
	mkdir -p "$work/m$n/www" && echo "hello from m$n" >"$work/m$n/www/index.html"
	ip netns exec "$ns" python3 -m http.server 2222 --bind 198.18.3.$n --directory "$work/m$n/www" >/dev/null 2>&1 &
	pids+=($!)
done
admin() { on "$lb" "$bind" "$@" --config "$work/m1/config.yaml" --admin-key "$work/admin/admin.key" --enrollments "$work/admin/enrollments"; }
admin fleet init
for n in 1 2 3; do
	ip netns exec "${members[$((n - 1))]}" "$bind" server --config "$work/m$n/config.yaml" 2>"$work/m$n.log" &
	pids+=($!)
done
for n in 1 2 3; do for _ in $(seq 100); do grep -q 'msg=started' "$work/m$n.log" && break; sleep 0.1; done; done
grep -h 'fleet: joined' "$work"/m?.log | sed 's/^.*msg=/  log: /'
admin fleet members

say "Administrator: enroll alice once for the whole pool (packet knocks); she imports one URI"
out=$(admin user add alice --open tcp/2222 --knock packet --no-qr)
sed -n 1,3p <<<"$out"
uri=$(grep -o 'otpauth://[^ ]*' <<<"$out")
on "$cli" "$bin" import - --name pool <<<"$uri"
sleep 1
grep -h 'users applied' "$work"/m?.log | sed 's/^.*msg=/  log: /'

say "Before any knock: closed, whichever member the connection lands on"
before=$(fetch; fetch)
echo "$before"
grep -q hello <<<"$before" && { echo "demo-fleet: FAILED: open before the knock" >&2; exit 1; }

say "Alice knocks the pool's address once: one packet, landing on one member"
on "$cli" "$bin" send pool -v 2>&1 | grep -v '^$'
sleep 0.2
grep -h 'msg=grant' "$work"/m?.log | sed 's/^.*msg=/  log: /'
grep -h 'pool grant' "$work"/m?.log | sed 's/^.*msg=/  log: /'

say "Six connections through the load balancer: each lands on a random member, and each is open"
after=$(for _ in 1 2 3 4 5 6; do fetch; done)
echo "$after"
[[ $(grep -c hello <<<"$after") == 6 ]] || { echo "demo-fleet: FAILED: not every connection opened" >&2; exit 1; }

say "Administrator: who holds whom, then remove alice from every member"
admin user list
admin user remove alice --yes
sleep 1
for n in 1 2 3; do grep 'users applied' "$work/m$n.log" | tail -1 | sed "s/^.*msg=/  m$n log: /"; done
echo
echo "demo-fleet: ok"
