#!/usr/bin/env bash
# otpknock with 1, 1,000 and 100,000 users: for each count the server
# starts in a namespace (5 s steps, so rollovers come quickly), the last
# user knocks from a client namespace, and the table gives the start-up
# time, the step precompute time (otpknock_step_precompute_seconds), the
# server's resident memory after three rollovers and its peak, and the
# knock-to-open time. The config comes from otpknock init and every user
# (with its secret file) from otpknock user add, one call each: the
# config is rewritten at each call, so adding n users costs O(n^2) and
# 100,000 takes hours; pass smaller COUNTS for a quick run.
# Usage (root): bench/scale.sh [COUNTS...]   (make bench-scale)
set -euo pipefail
counts=("${@:-1 1000 100000}")
read -ra counts <<<"${counts[*]}"
here=$(dirname "$(realpath "$0")")
bin=$(realpath bin/otpknock)
bind=$(dirname "$bin")/otpknockd # the server, beside the client
. "$here/../scripts/netns.sh"
netns_pair scale
netns_service 2222
echo "| users | start-up s | precompute ms | RSS after 3 rollovers MiB | peak RSS MiB | knock-to-open ms |"
echo "|---|---|---|---|---|---|"
for n in "${counts[@]}"; do
	d=$work/$n
	cfg=$d/config.yaml
	export OTPKNOCK_CLIENT_CONFIG=$d/client.yaml
	"$bind" init -c "$cfg" --server-id scale --host 198.18.0.1 --state-file "$d/state.json" >/dev/null
	sed -i -e 's/^step: 30s/step: 5s/' -e 's/^metrics_listen: ""/metrics_listen: 127.0.0.1:9557/' -e 's/^knocks: 4/knocks: 5/' -e 's/^users:.*/users:/' "$cfg"
	for ((i = 0; i < n - 1; i++)); do
		"$bind" user add "u$i" -c "$cfg" --open tcp/2222 --no-qr --no-reload >/dev/null
	done
	"$bind" user add last -c "$cfg" --open tcp/2222 --no-qr --no-reload | grep -o 'otpauth://[^ ]*' | "$bin" import - --name last >/dev/null
	t0=$(date +%s.%N)
	ip netns exec "$srv" "$bind" server -c "$cfg" 2>"$d/log" &
	spid=$!
	until grep -q 'msg=started' "$d/log"; do
		kill -0 "$spid" || { cat "$d/log" >&2; exit 1; }
		sleep 0.05
	done
	up=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {print a - b}')
	sleep 16 # three rollovers of 5 s steps
	metric() { ip netns exec "$srv" python3 -c 'import urllib.request,sys; print(urllib.request.urlopen("http://127.0.0.1:9557/metrics").read().decode())' | awk -v m="$1" '$1 == m {print $2}'; }
	pre=$(metric otpknock_step_precompute_seconds)
	rss=$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$spid/status")
	t1=$(date +%s%N)
	open=failed
	if ip netns exec "$cli" "$bin" send last --gap 1ms >/dev/null 2>&1; then
		open=$(awk -v a="$(date +%s%N)" -v b="$t1" 'BEGIN {printf "%.1f", (a - b) / 1e6}')
	fi
	hwm=$(awk '/VmHWM/ {print $2 / 1024}' "/proc/$spid/status")
	printf '| %d | %.2f | %.1f | %.1f | %.1f | %s |\n' "$n" "$up" "$(awk -v p="$pre" 'BEGIN {print p * 1000}')" "$rss" "$hwm" "$open"
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	ip netns exec "$srv" "$bind" firewall remove -c "$cfg" >/dev/null
done
