#!/usr/bin/env bash
# The otpknock demo, in network namespaces made for it and removed after:
# a server guarding a web service on tcp/2222, a client (alice) and a
# stranger on the client's link. The administrator provisions alice with
# a QR code; the stranger and alice are blocked; alice knocks and the
# port opens for her only; the grant expires on time. Then bob, a
# packet-mode user, knocks with one packet over IPv4 that opens the
# service for him over IPv4 and IPv6.
set -euo pipefail
# $1 is the client, otpknock; the server, otpknockd, lies beside it
# (make build writes both to bin/).
bin=$(realpath "${1:-bin/otpknock}")
bind=$(dirname "$bin")/otpknockd
[[ -x $bind ]] || { echo "demo: no otpknockd beside $bin: make build" >&2; exit 1; }
if [[ $(id -u) != 0 ]]; then
	echo "demo: needs root (network namespaces, iptables): sudo make demo" >&2
	exit 1
fi
. "$(dirname "$0")/netns.sh"
netns_pair demo
export OTPKNOCK_CLIENT_CONFIG=$work/client/client.yaml
cfg=$work/server/config.yaml
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
on() { local ns=$1; shift; printf '[%s] $ %s\n' "${ns##*-}" "$*"; ip netns exec "$ns" "$@"; }
# probe NS SRC PORT: can SRC open tcp/PORT on the server?
probe() {
	ip netns exec "$1" python3 - "$2" "$3" <<'PY'
import socket, sys
v6 = ":" in sys.argv[1]
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET); s.settimeout(1)
s.bind((sys.argv[1], 0))
dst = "2001:2::1" if v6 else "198.18.0.1"
try:
    s.connect((dst, int(sys.argv[2]))); print("  %s -> tcp/%s: OPEN" % (sys.argv[1], sys.argv[2]))
except OSError:
    print("  %s -> tcp/%s: closed (no answer)" % (sys.argv[1], sys.argv[2]))
PY
}

# expect WANT NS SRC PORT: probe, and stop the demo unless it shows WANT.
expect() {
	local out
	out=$(probe "$2" "$3" "$4")
	echo "$out"
	grep -q ": $1" <<<"$out" || { echo "demo: FAILED: $3 -> tcp/$4 should be $1" >&2; exit 1; }
}

say "Network: server 198.18.0.1 <-> client 198.18.0.2 (alice) and 198.18.0.3 (a stranger)"
ip -n "$cli" addr add 198.18.0.3/24 dev veth0
ip -n "$srv" addr add 2001:2::1/64 dev veth0 nodad
ip -n "$cli" addr add 2001:2::2/64 dev veth0 nodad
# The server's name for the clients: both families, in the client
# namespace's own hosts file (ip netns exec mounts /etc/netns/NAME/hosts).
mkdir -p "/etc/netns/$cli" && printf '198.18.0.1 gw.demo\n2001:2::1 gw.demo\n' >"/etc/netns/$cli/hosts"
mkdir -p "$work/www" && echo "hello from the protected service" >"$work/www/index.html"
ip netns exec "$srv" python3 -m http.server 2222 --bind :: --directory "$work/www" >/dev/null 2>&1 &
pids+=($!)

say "Server: config, and a user who may open tcp/2222 (open_timeout 15s for the demo)"
on "$srv" "$bind" init --config "$cfg" --server-id demo-gw --host gw.demo --state-file "$work/server/state.json"
sed -i 's/^open_timeout: 30s/open_timeout: 15s/' "$cfg"
on "$srv" "$bind" user add alice --config "$cfg" --open tcp/2222 --qr-png "$work/alice.png" --no-qr | sed -n 1,3p
dry=$(on "$srv" "$bind" server --config "$cfg" --dry-run)
grep -m1 '^\[srv\]' <<<"$dry"
grep '^# firewall backend' <<<"$dry" | sed 's/^# /  /'   # firewall: auto, which backend it picks here, and why
echo "  firewall: $(grep -vc -e '^#' -e '^\[srv\]' <<<"$dry") lines of rules and sets to install"

say "Server: start it"
ip netns exec "$srv" "$bind" server --config "$cfg" 2>"$work/server.log" &
server_pid=$!
pids+=($server_pid)
for _ in $(seq 50); do grep -q 'msg=started' "$work/server.log" 2>/dev/null && break; sleep 0.1; done
sed 's/^/  log: /' "$work/server.log"

say "Client: alice imports her QR code"
on "$cli" "$bin" import "$work/alice.png" --name demo

say "Before any knock, the service is closed to everyone"
expect closed "$cli" 198.18.0.3 2222
expect closed "$cli" 198.18.0.2 2222

say "Alice knocks: the current one-time sequence, then she waits for the door"
sent=$(on "$cli" "$bin" send demo -4 -v --wait tcp/2222 2>&1)
echo "$sent"

say "The service is open for alice only"
on "$cli" python3 -c 'import urllib.request; print("  " + urllib.request.urlopen("http://198.18.0.1:2222/").read().decode().strip())'
expect OPEN "$cli" 198.18.0.2 2222
expect closed "$cli" 198.18.0.3 2222
on "$srv" "$bind" firewall status --config "$cfg" | grep -A3 '^Sets'

say "The stranger captured alice's packets and replays them from his own address"
knocks=$(grep -o 'knock [0-9]*/[0-9]* [a-z]*/[0-9]*' <<<"$sent" | awk '{print $3}' | tr '\n' ' ')
echo "  replaying: $knocks"
ip netns exec "$cli" python3 - 198.18.0.3 $knocks <<'PY'
import socket, sys, time
src = sys.argv[1]
for k in sys.argv[2:]:
    proto, port = k.split("/")
    if proto == "tcp":
        s = socket.socket(); s.setblocking(False); s.bind((src, 0))
        try: s.connect(("198.18.0.1", int(port)))
        except BlockingIOError: pass
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 0))
        s.sendto(b"", ("198.18.0.1", int(port)))
    s.close(); time.sleep(0.05)
PY
sleep 0.3
expect closed "$cli" 198.18.0.3 2222
grep 'msg=replay' "$work/server.log" | sed 's/^/  log: /'

say "Fifteen seconds later the grant has expired in the kernel"
sleep 15.5
expect closed "$cli" 198.18.0.2 2222

say "Bob knocks in packet mode: one UDP datagram whose payload carries a MAC"
on "$srv" "$bind" user add bob --config "$cfg" --open tcp/2222 --knock packet --qr-png "$work/bob.png" --no-qr | sed -n 1,3p
kill -HUP "$server_pid"
for _ in $(seq 50); do grep -q 'msg="config reloaded"' "$work/server.log" 2>/dev/null && break; sleep 0.1; done
on "$cli" "$bin" import "$work/bob.png" --name bob
expect closed "$cli" 2001:2::2 2222
on "$cli" "$bin" send bob -4 -v --wait tcp/2222 --stun none 2>&1
say "One packet over IPv4 opened the service for bob over IPv4 and IPv6"
expect OPEN "$cli" 198.18.0.2 2222
expect OPEN "$cli" 2001:2::2 2222
grep 'knock=packet' "$work/server.log" | sed 's/^/  log: /'

say "Server log"
sed 's/^/  /' "$work/server.log"
echo
echo "demo: ok"
