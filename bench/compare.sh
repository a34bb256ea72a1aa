#!/usr/bin/env bash
# Knock-to-open, side by side: otpknock and knockd guard the same TCP
# service in a network namespace; a client namespace knocks N times with
# each, each trial starting with the port closed, and the time from the
# client's start until a TCP connect to the service succeeds is timed.
# Usage (root): bench/compare.sh [N]   (make bench-compare)
set -euo pipefail
n=${1:-50}
bin=$(realpath bin/otpknock)
for tool in knockd knock python3 iptables; do
	command -v "$tool" >/dev/null || { echo "compare: needs $tool (apt-get install knockd)" >&2; exit 1; }
done
. "$(dirname "$0")/../scripts/netns.sh"
netns_pair cmp
ip netns exec "$srv" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 2222)); s.listen(128)
while True:
    c, _ = s.accept(); c.close()' &
pids+=($!)

# trials NAME CMD...: runs CMD n times in the client namespace, each time
# after the port closed again, and prints the statistics in ms. In CMD,
# {i} is the trial's number and {i2} the number plus n.
trials() {
	local name=$1
	shift
	ip netns exec "$cli" python3 - "$n" "$name" "$@" <<'PY'
import socket, statistics, subprocess, sys, time
n, name, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def is_open(timeout):
    s = socket.socket(); s.settimeout(timeout)
    try:
        s.connect(("198.18.0.1", 2222)); return True
    except OSError:
        return False
    finally:
        s.close()
times, fails = [], 0
for i in range(n):
    deadline = time.monotonic() + 15
    while is_open(0.2) and time.monotonic() < deadline:
        time.sleep(0.1)  # wait for the previous grant to expire
    c = [a.replace("{i2}", str(i + n)).replace("{i}", str(i)) for a in cmd]
    t0 = time.monotonic()
    p = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = t0 + 5
    while time.monotonic() < end and not is_open(0.005):
        pass
    t1 = time.monotonic()
    p.wait()
    if t1 >= end:
        fails += 1
    else:
        times.append((t1 - t0) * 1000)
times.sort()
q = lambda f: times[min(len(times) - 1, int(f * len(times)))]
print("| %s | %d/%d | %.1f | %.1f | %.1f | %.1f | %.1f |" % (name, len(times), n, times[0], statistics.median(times), q(0.9), q(0.99), times[-1]))
PY
}

echo "| system | opened | min ms | median ms | p90 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|---|---|"

# otpknock with its defaults (30 s steps), one user per trial so no trial
# waits for a fresh step; grants last 1 s like the peers'.
cfg=$work/otpknock/config.yaml
export OTPKNOCK_CLIENT_CONFIG=$work/client/client.yaml
"$bin" init -c "$cfg" --server-id cmp --host 198.18.0.1 --state-file "$work/otpknock/state.json" >/dev/null
sed -i 's/^open_timeout: 30s/open_timeout: 1s/' "$cfg"
for i in $(seq 0 $((2 * n - 1))); do
	"$bin" user add "u$i" -c "$cfg" --open tcp/2222 --no-qr | grep -o 'otpauth://[^ ]*' | "$bin" import - --name "u$i" >/dev/null
done
ip netns exec "$srv" "$bin" server -c "$cfg" 2>"$work/otpknock.log" &
pids+=($!)
sleep 1
trials "otpknock (gap 50 ms, 4 knocks)" "$bin" send "u{i}"
trials "otpknock (gap 1 ms, 4 knocks)" "$bin" send "u{i2}" --gap 1ms
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
python3 - "$work/otpknock.log" <<'PY'
import re, statistics, sys
lat = sorted(float(m.group(1)) * {"µs": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
             for m in re.finditer(r"latency=([0-9.]+)(µs|ms|s)\b", open(sys.argv[1]).read()))
if lat:
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
    print("| otpknock server reaction (kernel log of the last knock -> grant in the set) | %d | %.3f | %.3f | %.3f | %.3f | %.3f |"
          % (len(lat), lat[0], statistics.median(lat), q(0.9), q(0.99), lat[-1]))
PY
ip netns exec "$srv" "$bin" firewall remove -c "$cfg" >/dev/null

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
pids+=($!)
sleep 1
trials "knockd 0.8 (3 knocks, no delay)" knock 198.18.0.1 7000:tcp 8000:udp 9000:tcp
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# fwknop: single packet authorization (Rijndael + HMAC), 1 s access.
if command -v fwknopd >/dev/null && command -v fwknop >/dev/null; then
	keys=$(fwknop --key-gen)
	rk=$(sed -n 's/^KEY_BASE64:[[:space:]]*//p' <<<"$keys")
	hk=$(sed -n 's/^HMAC_KEY_BASE64:[[:space:]]*//p' <<<"$keys")
	mkdir -p "$work/fwknop"
	printf 'PCAP_INTF veth0;\nFIREWALL_EXE /usr/sbin/iptables;\n' >"$work/fwknop/fwknopd.conf"
	printf 'SOURCE ANY\nOPEN_PORTS tcp/2222\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nFW_ACCESS_TIMEOUT 1\n' "$rk" "$hk" >"$work/fwknop/access.conf"
	chmod 600 "$work/fwknop/"*
	ip netns exec "$srv" fwknopd -f -c "$work/fwknop/fwknopd.conf" -a "$work/fwknop/access.conf" -i veth0 \
		-p "$work/fwknop/fwknopd.pid" -r "$work/fwknop" -d "$work/fwknop/digest.cache" >"$work/fwknopd.log" 2>&1 &
	pids+=($!)
	sleep 2
	trials "fwknop 2.6.10 (SPA, Rijndael + HMAC)" fwknop -A tcp/2222 -a 198.18.0.2 -D 198.18.0.1 --use-hmac \
		--key-base64-rijndael "$rk" --key-base64-hmac "$hk" --rc-file "$work/fwknop/fwknoprc"
fi
