#!/usr/bin/env bash
# otpknock, knockd and fwknop side by side: each guards the same TCP
# service in a server namespace in turn; a client namespace knocks N times
# with each (every trial starting with the port closed) and times the
# client's start until a TCP connect to the service succeeds; the server's
# reaction is timed from the kernel's view of the last knock to the grant
# in the kernel; then the client knocks F more times under each of several
# random-port SYN floods from an attacker namespace, with the server's
# CPU and memory sampled. Prints markdown tables (BENCHMARKS.md).
# otpknock runs twice: sequence users (4 knocks; 5 past 66 of them, as the
# strength check wants) and packet users (one
# UDP datagram carrying a sealed payload, docs/spec.md section 11), and
# packet users once more on a server of 5 s steps and skew 0 with every
# trial started in a step's last 0.5 s (the row "late in step"; N x 5 s).
# Usage (root): bench/compare.sh [N [F]]   (make bench-compare; F=0: no floods)
set -euo pipefail
n=${1:-50}
nf=${2:-20}
here=$(dirname "$(realpath "$0")")
bin=$(realpath bin/otpknock)
bind=$(dirname "$bin")/otpknockd # the server, beside the client
for tool in knockd knock fwknopd fwknop hping3 python3 iptables; do
	command -v "$tool" >/dev/null || { echo "compare: needs $tool (apt-get install knockd fwknop-server fwknop-client hping3)" >&2; exit 1; }
done
# The floods: hping3 --rand-source -S to ports counting up from 1024, at
# an interval of 100 us, 20 us, and as fast as it can (--flood).
floods=("-i u100" "-i u20" "--flood")
. "$here/../scripts/netns.sh"
netns_pair cmp
netns_attacker
netns_service 2222

# trials N OFFSET NAME PID CMD...: one row of bench/trials.py.
trials() {
	ip netns exec "$cli" python3 "$here/trials.py" "$1" "$2" "$3" 198.18.0.1 2222 "$4" "$srv" "${@:5}"
}

# flooded NAME PID CMD...: trials under each flood; {i} counts on from
# the offset in the global next.
flooded() {
	local name=$1 pid=$2 f
	shift 2
	[ "$nf" -gt 0 ] || return 0
	for f in "${floods[@]}"; do
		# shellcheck disable=SC2086
		ip netns exec "$atk" timeout -s INT 300 hping3 $f --rand-source -S -p ++1024 -q 198.18.0.1 >/dev/null 2>&1 &
		local fl=$!
		sleep 1
		trials "$nf" "$next" "$name, flood hping3 $f" "$pid" "$@"
		next=$((next + nf))
		kill -INT "$fl" 2>/dev/null || true
		wait "$fl" 2>/dev/null || true
		sleep 1
	done
}

# reaction NAME: a row of statistics of the numbers (ms) on stdin.
reaction() {
	python3 -c '
import statistics, sys
x = sorted(float(l) for l in sys.stdin if l.strip())
q = lambda f: x[min(len(x) - 1, int(f * len(x)))]
if x:
    print("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f |" % (sys.argv[1], len(x), x[0], statistics.median(x), q(0.9), q(0.99), x[-1]))
' "$1"
}

# slowest TRACE LOG USER: the 3 slowest trials in TRACE (trials.py's
# TRIALS_TRACE), each with what the server logged (LOG) of its user
# (USER with {i} the trial's number), in ms from the trial's start: the
# packet's arrival (the kernel's timestamp: the client's start and send),
# its grant, a refusal, the next step's grant. A probe's longest gap far
# above its 1 ms bound is the probe not being scheduled: a busy CPU.
slowest() {
	python3 - "$@" <<'PY'
import re, sys
from datetime import datetime
trials = [l.split() for l in open(sys.argv[1]) if l.strip()]
log = open(sys.argv[2]).read().splitlines()
unit = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1, "s": 1000}
def ms(d):
    m = re.fullmatch(r"([0-9.]+)(ns|µs|us|ms|s)", d)
    return float(m.group(1)) * unit[m.group(2)] if m else 0
key = lambda t: float("inf") if t[3] == "-" else float(t[3])
for i, wall, left, opened, tries, gap in sorted(trials, key=key, reverse=True)[:3]:
    said, user = [], sys.argv[3].replace("{i}", i)
    for line in log:
        if " user=%s " % user not in line + " ":
            continue
        at = datetime.fromisoformat(re.search(r"time=(\S+)", line).group(1)).timestamp() - float(wall)
        msg = re.search(r"msg=(\S+)", line).group(1)
        step = re.search(r"step=(\d+)", line)
        lat = re.search(r"latency=(\S+)", line)
        what = "%s%s at %.0f" % (msg, " of step " + step.group(1) if step else "", at * 1000)
        if lat:
            what = "packet logged at %.1f, %s" % (at * 1000 - ms(lat.group(1)), what)
        said.append(what)
    print("- trial %s%s: open after %s ms; the probe: %s connects, longest gap %s ms; the server (ms from the start): %s" % (
        i, "" if left == "-" else " (%s ms of the step left at its start)" % left, opened, tries, gap, "; ".join(said) or "nothing"))
PY
}

rows=$work/rows.md
reactions=$work/reactions.md
: >"$rows"
: >"$reactions"

# otpknock with its defaults (30 s steps), one user per trial so no trial
# waits for a fresh step; grants last 1 s like the peers'. Each user's
# profile has a client config of its own, as a user's machine has: the
# client of a trial reads one profile, not the hundreds of this bench
# (OTPKNOCK_CLIENT_CONFIG with {i}, which trials.py fills in).
cfg=$work/otpknock/config.yaml
"$bind" init -c "$cfg" --server-id cmp --host 198.18.0.1 --state-file "$work/otpknock/state.json" >/dev/null
# The strength check (48 effective bits) wants 5 knocks past 66
# sequence users with the defaults.
seqs=$((2 * n + ${#floods[@]} * nf))
knocks=4
[ "$seqs" -le 66 ] || knocks=5
sed -i -e 's/^open_timeout: 30s/open_timeout: 1s/' -e "s/^knocks: 4\$/knocks: $knocks/" "$cfg"
for i in $(seq 0 $((seqs - 1))); do
	"$bind" user add "u$i" -c "$cfg" --open tcp/2222 --no-qr | grep -o 'otpauth://[^ ]*' |
		OTPKNOCK_CLIENT_CONFIG=$work/client/u$i/client.yaml "$bin" import - --name "u$i" >/dev/null
done
for i in $(seq 0 $((n + ${#floods[@]} * nf - 1))); do
	"$bind" user add "p$i" -c "$cfg" --open tcp/2222 --knock packet --no-qr | grep -o 'otpauth://[^ ]*' |
		OTPKNOCK_CLIENT_CONFIG=$work/client/p$i/client.yaml "$bin" import - --name "p$i" >/dev/null
done
# ed25519 packet users: each client makes its key (otpknock keygen), the
# server enrolls the public key line; the URI carries no credential.
for i in $(seq 0 $((n - 1))); do
	line=$(OTPKNOCK_CLIENT_CONFIG=$work/client/s$i/client.yaml "$bin" keygen --name "s$i" 2>/dev/null)
	"$bind" user add "s$i" -c "$cfg" --open tcp/2222 --key "$line" --no-qr | grep -o 'otpauth://[^ ]*' |
		OTPKNOCK_CLIENT_CONFIG=$work/client/s$i/client.yaml "$bin" import - --name "s$i" >/dev/null
done
useq=$work/client/'u{i}'/client.yaml
upkt=$work/client/'p{i}'/client.yaml
usig=$work/client/'s{i}'/client.yaml
ip netns exec "$srv" "$bind" server -c "$cfg" 2>"$work/otpknock.log" &
spid=$!
pids+=("$spid")
sleep 1
kill -0 "$spid" 2>/dev/null || { echo "compare: the otpknock server did not start:" >&2; cat "$work/otpknock.log" >&2; exit 1; }
OTPKNOCK_CLIENT_CONFIG=$useq trials "$n" 0 "otpknock (gap 20 ms, the default; $knocks knocks)" "$spid" "$bin" send "u{i}" >>"$rows"
OTPKNOCK_CLIENT_CONFIG=$useq trials "$n" "$n" "otpknock (gap 1 ms, $knocks knocks)" "$spid" "$bin" send "u{i}" --gap 1ms >>"$rows"
latencies() { # the grant latencies (ms) the server logged, from line $1 on
	tail -n +"$1" "$work/otpknock.log" | grep 'msg=grant' | grep -o 'latency=[0-9.]*[µm]*s' | sed 's/latency=//' |
		awk '/µs$/ {print $0/1000; next} /ms$/ {print $0+0; next} {print $0*1000}'
}
latencies 1 | reaction "otpknock: NFLOG timestamp of the last knock -> set entry added (its log)" >>"$reactions"
from=$(($(wc -l <"$work/otpknock.log") + 1))
OTPKNOCK_CLIENT_CONFIG=$upkt TRIALS_TRACE=$work/packet.trace \
	trials "$n" 0 "otpknock packet mode (1 UDP datagram)" "$spid" "$bin" send "p{i}" --stun none >>"$rows"
slowest "$work/packet.trace" "$work/otpknock.log" "p{i}" >"$work/packet.slowest"
latencies "$from" | reaction "otpknock packet mode: NFLOG timestamp of the packet -> set entry added (its log)" >>"$reactions"
from=$(($(wc -l <"$work/otpknock.log") + 1))
OTPKNOCK_CLIENT_CONFIG=$usig trials "$n" 0 "otpknock packet mode, ed25519 (1 UDP datagram, signed)" "$spid" "$bin" send "s{i}" >>"$rows"
latencies "$from" | reaction "otpknock ed25519 packet mode: NFLOG timestamp of the packet -> set entry added (its log)" >>"$reactions"
from=$(($(wc -l <"$work/otpknock.log") + 1))
next=$((2 * n))
OTPKNOCK_CLIENT_CONFIG=$useq flooded "otpknock (gap 1 ms)" "$spid" "$bin" send "u{i}" --gap 1ms >>"$rows"
next=$n
OTPKNOCK_CLIENT_CONFIG=$upkt flooded "otpknock packet mode" "$spid" "$bin" send "p{i}" --stun none >>"$rows"
[ "$nf" -eq 0 ] || latencies "$from" | reaction "otpknock under the floods (both modes)" >>"$reactions"
kill "$spid"
wait "$spid" 2>/dev/null || true
ip netns exec "$srv" "$bind" firewall remove -c "$cfg" >/dev/null

# otpknock packet mode, late in step: the rows above start at whatever
# time of a 30 s step they happen to (1 in 60 in its last 0.5 s, the
# margin within which a packet knock leaves at once, docs/spec.md 11.7).
# Here every trial starts at a time drawn uniformly from the last 0.5 s
# of a step (the same margin, with 5 s steps: min(0.5 s, step / 10)),
# against a server with skew 0, which takes no step but its current one:
# a packet that reaches it after the step's end is refused and the
# client's next-step packet, at that step's start, must open. One user
# per trial; a trial each step (N x 5 s). TRIALS_TRACE keeps each trial's
# step phase and probe; the slowest are printed below the tables.
lcfg=$work/late/config.yaml
"$bind" init -c "$lcfg" --server-id late --host 198.18.0.1 --state-file "$work/late/state.json" >/dev/null
sed -i -e 's/^open_timeout: 30s/open_timeout: 1s/' -e 's/^step: 30s/step: 5s/' -e 's/^skew: 1$/skew: 0/' "$lcfg"
for i in $(seq 0 $((n - 1))); do
	"$bind" user add "l$i" -c "$lcfg" --open tcp/2222 --knock packet --no-qr | grep -o 'otpauth://[^ ]*' |
		OTPKNOCK_CLIENT_CONFIG=$work/client/l$i/client.yaml "$bin" import - --name "l$i" >/dev/null
done
ip netns exec "$srv" "$bind" server -c "$lcfg" 2>"$work/late.log" &
spid=$!
pids+=("$spid")
sleep 1
kill -0 "$spid" 2>/dev/null || { echo "compare: the otpknock server did not start:" >&2; cat "$work/late.log" >&2; exit 1; }
OTPKNOCK_CLIENT_CONFIG=$work/client/'l{i}'/client.yaml TRIALS_LATE="5 0.5" TRIALS_TRACE=$work/late.trace \
	trials "$n" 0 "otpknock packet mode, late in step (last 0.5 s of 5 s steps, skew 0)" "$spid" "$bin" send "l{i}" --stun none >>"$rows"
slowest "$work/late.trace" "$work/late.log" "l{i}" >"$work/late.slowest"
kill "$spid"
wait "$spid" 2>/dev/null || true
ip netns exec "$srv" "$bind" firewall remove -c "$lcfg" >/dev/null

# watch NAME: starts bench/reaction.py in the server namespace.
watch() {
	ip netns exec "$srv" python3 "$here/reaction.py" veth0 198.18.0.2 2222 >"$work/$1.reactions" &
	wpid=$!
	sleep 0.5
}
unwatch() {
	kill -TERM "$wpid"
	wait "$wpid" 2>/dev/null || true
	reaction "$1" <"$work/$2.reactions" >>"$reactions"
}

# knockd: a 3-knock sequence opening the port for the knocker with an
# iptables rule, closed again after 1 s.
ip netns exec "$srv" iptables -A INPUT -p tcp --dport 2222 -j DROP
cat >"$work/knockd.conf" <<CONF
[options]
	LogFile = $work/knockd.log
	Interface = veth0
[open]
	sequence = 7000:tcp,8000:udp,9000:tcp
	seq_timeout = 5
	tcpflags = syn
	start_command = /usr/sbin/iptables -I INPUT 1 -s %IP% -p tcp --dport 2222 -j ACCEPT
	cmd_timeout = 1
	stop_command = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT
CONF
ip netns exec "$srv" knockd -c "$work/knockd.conf" -i veth0 &
spid=$!
pids+=("$spid")
sleep 1
knock=(knock 198.18.0.1 7000:tcp 8000:udp 9000:tcp)
watch knockd
trials "$n" 0 "knockd 0.8 (3 knocks, no delay)" "$spid" "${knock[@]}" >>"$rows"
unwatch "knockd: last knock on veth0 -> iptables rule committed (nftables event)" knockd
next=0
flooded "knockd" "$spid" "${knock[@]}" >>"$rows"
kill "$spid"
wait "$spid" 2>/dev/null || true

# fwknop: single packet authorization (Rijndael + HMAC), 1 s access.
keys=$(fwknop --key-gen)
rk=$(sed -n 's/^KEY_BASE64:[[:space:]]*//p' <<<"$keys")
hk=$(sed -n 's/^HMAC_KEY_BASE64:[[:space:]]*//p' <<<"$keys")
mkdir -p "$work/fwknop"
printf 'PCAP_INTF veth0;\nFIREWALL_EXE /usr/sbin/iptables;\n' >"$work/fwknop/fwknopd.conf"
printf 'SOURCE ANY\nOPEN_PORTS tcp/2222\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nFW_ACCESS_TIMEOUT 1\n' "$rk" "$hk" >"$work/fwknop/access.conf"
chmod 600 "$work/fwknop/"*
watch fwknop
ip netns exec "$srv" fwknopd -f -c "$work/fwknop/fwknopd.conf" -a "$work/fwknop/access.conf" -i veth0 \
	-p "$work/fwknop/fwknopd.pid" -r "$work/fwknop" -d "$work/fwknop/digest.cache" >"$work/fwknopd.log" 2>&1 &
spid=$!
pids+=("$spid")
sleep 2
spa=(fwknop -A tcp/2222 -a 198.18.0.2 -D 198.18.0.1 --use-hmac --key-base64-rijndael "$rk" --key-base64-hmac "$hk" --rc-file "$work/fwknop/fwknoprc")
trials "$n" 0 "fwknop 2.6.10 (SPA, Rijndael + HMAC)" "$spid" "${spa[@]}" >>"$rows"
unwatch "fwknopd: SPA packet on veth0 -> iptables rule committed (nftables event)" fwknop
next=0
flooded "fwknop" "$spid" "${spa[@]}" >>"$rows"

echo "Knock-to-open (ms; kpps: packets received by the server's interface during the trials; CPU and RSS of the server process, CPU with its reaped children):"
echo
echo "| system | opened | min | median | p90 | p99 | max | kpps at server | server CPU | server RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|"
cat "$rows"
echo
echo "Server reaction (ms):"
echo
echo "| system | grants | min | median | p90 | p99 | max |"
echo "|---|---|---|---|---|---|---|"
cat "$reactions"
echo
echo "The slowest trials of otpknock packet mode (a probe's longest gap far above its 1 ms bound: the probe was not scheduled, a busy CPU; the packet logged late: the client started late):"
echo
cat "$work/packet.slowest"
echo
echo "The slowest trials of otpknock packet mode, late in step:"
echo
cat "$work/late.slowest"
