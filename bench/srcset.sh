#!/usr/bin/env bash
# The nftables pre-filter's tracked-source set under a random-source
# flood of one armed first knock. In a server namespace (198.18.0.1)
# the server runs with one sequence user (sequence_timeout SEQ, 60s by
# default, so that nothing expires while the set is listed); from the
# client's namespace hping3 sends to the user's current first knock from
# random sources for DUR seconds. Prints, after the flood: the elements
# `nft -j list set inet otpknock src4` lists and how many distinct
# addresses they hold (the set's size is 262,144), the change of Slab in
# /proc/meminfo (the kernel's memory; the machine's other work moves it
# too), and the server's peak RSS (VmHWM).
# Usage (root): bench/srcset.sh [DUR] (default 20; BIN=bin/otpknockd)
set -euo pipefail
dur=${1:-20}
bin=$(realpath "${BIN:-bin/otpknockd}")
for tool in hping3 nft python3; do
	command -v "$tool" >/dev/null || { echo "srcset: needs $tool" >&2; exit 1; }
done
. "$(dirname "$(realpath "$0")")/../scripts/netns.sh"
netns_pair srcset
export OTPKNOCK_CLIENT_CONFIG=$work/client/client.yaml
cfg=$work/server/config.yaml
ip netns exec "$srv" "$bin" init --config "$cfg" --server-id srcset --host 198.18.0.1 >/dev/null
sed -i "s/^sequence_timeout: .*/sequence_timeout: ${SEQ:-60s}/" "$cfg"
ip netns exec "$srv" "$bin" user add alice --config "$cfg" --open tcp/2222 --no-qr --no-reload |
	grep -o 'otpauth://[^ ]*' | "$bin" import - --name srcset >/dev/null
ip netns exec "$srv" "$bin" server --config "$cfg" 2>"$work/server.log" &
spid=$!
pids+=("$spid")
for _ in $(seq 50); do grep -q 'msg=started' "$work/server.log" 2>/dev/null && break; sleep 0.1; done
first=$(ip netns exec "$cli" "$bin" send srcset -4 --dry-run 2>&1 | grep -oE '(tcp|udp)/[0-9]+' | head -1)
args=(-S)
[[ ${first%/*} == udp ]] && args=(--udp)
slab() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
slab0=$(slab)
ip netns exec "$cli" timeout -s INT "$dur" hping3 --flood --rand-source -q "${args[@]}" -p "${first#*/}" 198.18.0.1 2>&1 |
	grep -o '^[0-9]* packets transmitted' || true
listed=$(ip netns exec "$srv" nft -j list set inet otpknock src4 | python3 -c '
import json, sys
s = [x["set"] for x in json.load(sys.stdin)["nftables"] if "set" in x][0]
keys = [e["elem"]["val"] if isinstance(e, dict) else e for e in s.get("elem", [])]
print(len(keys), len(set(keys)))')
echo "| $(uname -r) | ${dur}s to $first | ${listed% *} listed, ${listed#* } distinct | $((($(slab) - slab0) / 1024)) MB | $(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$spid/status") MB |"
