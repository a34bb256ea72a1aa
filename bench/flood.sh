#!/usr/bin/env bash
# otpknock under random-source floods of its knock range, and what the
# kernel's pre-filter keeps from the daemon. For each user count the
# server runs in a server namespace; an attacker namespace on the
# client's link first stays quiet, then floods the knock range with trafgen (random sources,
# random ports of the range: TCP SYNs, then UDP datagrams) at the most
# it makes here (or RATE pps), while the client knocks K times in
# sequence mode and K times in packet mode (one user per knock, so none
# waits for a fresh step); then, still under the flood, the attacker
# scans the knock range from its own address (nmap -sS and -sU). Per
# flood, over 10 s of the flood alone and then over the knocks: packets per second sent by the attacker and
# received on the server's interface, the part of them that reached the
# daemon (its otpknock_packets_total), the daemon's CPU (% of a core,
# from /proc/PID/stat), its threads' wake-ups (voluntary context
# switches: under a flood each one is charged the kernel's pending
# network work), NFLOG messages lost (its
# otpknock_nflog_lost_total and the Drops of /proc/net/netlink), the
# knocks opened and their median knock-to-open; then the grants the
# scans got. Prints a markdown table.
#
# Users: the 6K knocking users plus EXTRA more per count (sequence
# users, random secrets), knocks: 5 (the strength check wants 5 past
# 66 sequence users).
# Usage (root): bench/flood.sh [EXTRA...]   (make bench-flood; default
# "0 10000"; K=20 knocks per mode and flood, DUR=300 s at most per flood,
# CPUS=1 trafgen process (of the 2 cores here),
# BIN=bin/otpknock: another build to compare)
set -euo pipefail
extras=("${@:-0 10000}")
read -ra extras <<<"${extras[*]}"
k=${K:-20}
rate=${RATE:+-b ${RATE}pps} # trafgen's rate; unset: as fast as it goes
cpus=${CPUS:-1}              # trafgen's processes: one leaves the other core to the server and client
here=$(dirname "$(realpath "$0")")
bin=$(realpath "${BIN:-bin/otpknock}")
bind=$(dirname "$bin")/otpknockd # the server, beside the client
for tool in trafgen nmap python3 iptables ipset; do
	command -v "$tool" >/dev/null || { echo "flood: needs $tool (make deps)" >&2; exit 1; }
done
. "$here/../scripts/netns.sh"
netns_pair flood
netns_attacker
netns_service 2222
mac=$(ip -n "$srv" -j link show veth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')

# trafgen configs: random sources in 11.0.0.0-223.255.255.255 (no
# martians to speak of), random ports of the knock range.
ip4='ipv4(sa=drnd(184549376, 3758096383), da=198.18.0.1, ttl=64, id=drnd())'
cat >"$work/syn.cfg" <<CFG
{ eth(da=$mac, type=0x0800), $ip4, tcp(sp=drnd(), dp=drnd(20000, 59999), syn, win=1024) }
CFG
cat >"$work/udp.cfg" <<CFG
{ eth(da=$mac, type=0x0800), $ip4, udp(sp=drnd(), dp=drnd(20000, 59999)), fill(0, 18) }
CFG

rx() { ip -n "$srv" -j -s link show veth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
tx() { ip -n "$atk" -j -s link show veth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["packets"])'; }
cpu() { awk '{print $14 "," $15}' "/proc/$1/stat"; } # utime,stime in clock ticks
wakes() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; } # the daemon's threads' sleeps
metrics() { ip netns exec "$srv" python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9558/metrics").read().decode())'; }
knocks() { metrics | awk '/^otpknock_packets_total/ {s += $2} END {print s + 0}'; }
lost() { metrics | awk '$1 == "otpknock_nflog_lost_total" {print $2 + 0}'; }
nldrops() { ip netns exec "$srv" awk '$2 == 12 {s += $(NF - 1)} END {print s + 0}' /proc/net/netlink; } # Drops of NETLINK_NETFILTER sockets
# trials NAME CMD...: K knock-to-open trials (bench/trials.py) in the
# client's namespace; prints "opened median".
trials() {
	ip netns exec "$cli" python3 "$here/trials.py" "$k" "$next" "$1" 198.18.0.1 2222 "$spid" "$srv" "${@:2}" |
		awk -F'|' '{gsub(/ /, "", $3); gsub(/ /, "", $5); print $3, $5}'
}

echo "otpknock $("$bin" version 2>/dev/null | head -1), $(nproc) cores, $(uname -r), K=$k" >&2
echo "| users | flood | kpps sent / received | reached the daemon: during the knocks; the flood alone | daemon CPU (% of a core): during the knocks; the flood alone | daemon wake-ups/s: during the knocks; the flood alone | NFLOG lost | sequence knocks opened (median ms) | packet knocks opened (median ms) | scan from one address: grants |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for extra in "${extras[@]}"; do
	d=$work/$extra
	cfg=$d/config.yaml
	export OTPKNOCK_CLIENT_CONFIG=$d/client.yaml
	"$bind" init -c "$cfg" --server-id flood --host 198.18.0.1 --state-file "$d/server/state.json" >/dev/null
	sed -i -e 's/^open_timeout: 30s/open_timeout: 1s/' -e 's/^metrics_listen: ""/metrics_listen: 127.0.0.1:9558/' -e 's/^knocks: 4/knocks: 5/' "$cfg"
	for i in $(seq 0 $((3 * k - 1))); do # one per knock of the three phases
		"$bind" user add "u$i" -c "$cfg" --open tcp/2222 --no-qr --no-reload | grep -o 'otpauth://[^ ]*' | "$bin" import - --name "u$i" >/dev/null
		"$bind" user add "p$i" -c "$cfg" --open tcp/2222 --knock packet --no-qr --no-reload | grep -o 'otpauth://[^ ]*' | "$bin" import - --name "p$i" >/dev/null
	done
	# EXTRA more sequence users, written directly (user add rewrites the
	# config each time: O(n^2)).
	python3 - "$cfg" "$d/secrets" "$extra" <<'PY'
import base64, os, sys
cfg, secrets, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(cfg, "a") as f:
    for i in range(n):
        f.write("  - name: x%d\n    open: [tcp/2222]\n" % i)
        path = os.path.join(secrets, "x%d.key" % i)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (base64.b32encode(os.urandom(32)).decode().rstrip("=") + "\n").encode())
        os.close(fd)
PY
	users=$((6 * k + extra))
	ip netns exec "$srv" "$bind" server -c "$cfg" 2>"$d/log" &
	spid=$!
	pids+=("$spid")
	until grep -q 'msg=started' "$d/log"; do
		kill -0 "$spid" || { cat "$d/log" >&2; exit 1; }
		sleep 0.1
	done
	sleep 2
	next=0
	for kind in none syn udp; do
		fl=
		if [ "$kind" != none ]; then
			# shellcheck disable=SC2086
			ip netns exec "$atk" timeout -s INT "${DUR:-300}" trafgen --dev veth0 --conf "$work/$kind.cfg" -C -q -P "$cpus" $rate >/dev/null 2>&1 &
			fl=$!
			sleep 2
		fi
		# The flood alone for 10 s: the daemon's CPU and what reaches it.
		a0=$(cpu "$spid") an0=$(knocks) ar0=$(rx) aw0=$(wakes "$spid") at0=$(date +%s.%N)
		sleep 10
		a1=$(cpu "$spid") an1=$(knocks) ar1=$(rx) aw1=$(wakes "$spid") at1=$(date +%s.%N)
		g0=$(grep -c 'msg=grant src=198.18.0.3 ' "$d/log" || true)
		t0=$(date +%s.%N) c0=$(cpu "$spid") w0=$(wakes "$spid") s0=$(tx) r0=$(rx) n0=$(knocks) l0=$(lost) d0=$(nldrops)
		read -r seq seqmed < <(trials "otpknock sequence" "$bin" send "u{i}")
		read -r pkt pktmed < <(trials "otpknock packet" "$bin" send "p{i}" --stun none)
		t1=$(date +%s.%N) c1=$(cpu "$spid") w1=$(wakes "$spid") s1=$(tx) r1=$(rx) n1=$(knocks) l1=$(lost) d1=$(nldrops)
		ip netns exec "$atk" nmap -n -Pn -sS -p 20000-59999 -T5 --max-retries 0 --min-rate 20000 198.18.0.1 >/dev/null 2>&1 || true
		ip netns exec "$atk" nmap -n -Pn -sU -p 20000-59999 -T5 --max-retries 0 --min-rate 20000 198.18.0.1 >/dev/null 2>&1 || true
		if [ -n "$fl" ]; then
			kill -INT "$fl" 2>/dev/null || true
			wait "$fl" 2>/dev/null || true
		fi
		scan=$(($(grep -c 'msg=grant src=198.18.0.3 ' "$d/log" || true) - g0))
		python3 -c '
import sys
users, kind, t0, t1, c0, c1, s0, s1, r0, r1, n0, n1, l0, l1, d0, d1, seq, seqmed, pkt, pktmed, scan, at0, at1, a0, a1, an0, an1, ar0, ar1, w0, w1, aw0, aw1 = sys.argv[1:]
dt, adt = float(t1) - float(t0), float(at1) - float(at0)
sent, rx, kn = int(s1) - int(s0), int(r1) - int(r0), float(n1) - float(n0)
arx, akn = int(ar1) - int(ar0), float(an1) - float(an0)
cpu = lambda a, b, t: sum(map(int, b.split(","))) - sum(map(int, a.split(",")))
print("| %s | %s | %.1f / %.1f | %.2f kpps (%.2f%%); alone %.2f kpps (%.3f%%) | %.1f%%; alone %.1f%% | %.0f; alone %.0f | %d (netlink drops %d) | %s (%s) | %s (%s) | %s |" % (
    format(int(users), ","), {"none": "none", "syn": "random-source TCP SYN", "udp": "random-source UDP"}[kind],
    sent / dt / 1000, rx / dt / 1000, kn / dt / 1000, 100 * kn / max(rx, 1), akn / adt / 1000, 100 * akn / max(arx, 1),
    cpu(c0, c1, dt) / dt, cpu(a0, a1, adt) / adt, (int(w1) - int(w0)) / dt, (int(aw1) - int(aw0)) / adt, float(l1) - float(l0), int(d1) - int(d0), seq, seqmed, pkt, pktmed, scan))
' "$users" "$kind" "$t0" "$t1" "$c0" "$c1" "$s0" "$s1" "$r0" "$r1" "$n0" "$n1" "$l0" "$l1" "$d0" "$d1" "$seq" "$seqmed" "$pkt" "$pktmed" "$scan" "$at0" "$at1" "$a0" "$a1" "$an0" "$an1" "$ar0" "$ar1" "$w0" "$w1" "$aw0" "$aw1"
		next=$((next + k))
		sleep 2
	done
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	grep -E 'msg=stopped|level=(WARN|ERROR)' "$d/log" | tail -5 >&2 || true
	ip netns exec "$srv" "$bind" firewall remove -c "$cfg" >/dev/null
done
