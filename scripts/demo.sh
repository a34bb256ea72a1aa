#!/usr/bin/env bash
# The otpknock demo: an administrator provisions a user, the user imports
# the QR code, and both sides derive the same one-time knock sequence.
# Everything happens in a temporary directory that is removed at the end.
set -euo pipefail
bin=$(realpath "${1:-bin/otpknock}")
work=$(mktemp -d /tmp/otpknock-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OTPKNOCK_CLIENT_CONFIG=$work/client/client.yaml
cfg=$work/server/config.yaml
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "otpknock $*"; "$bin" "$@"; }

say "Server: write a commented config"
run init --config "$cfg" --server-id demo-gw --host 198.18.0.1

say "Server: add alice, who may open SSH; her QR code goes to alice.png"
run user add alice --config "$cfg" --open tcp/22 --qr-png "$work/alice.png"

say "Server: users and the state of their secrets"
run user list --config "$cfg"

say "Client: import alice's profile from the QR code image"
run import "$work/alice.png" --name demo

# Read both sides twice at most: a step boundary may fall between them.
for attempt in 1 2; do
	client=$("$bin" show demo)
	server=$("$bin" user show alice --config "$cfg")
	[[ $client == "$server" ]] && break
done

say "Client: the sequence to knock now (and the knock client's form)"
printf '$ otpknock show demo\n%s\n' "$client"
run show demo --format knock | sed -n 1,2p

say "Server: the sequence it expects from alice now"
printf '$ otpknock user show alice --config %s\n%s\n' "$cfg" "$server"
if [[ $client != "$server" ]]; then
	echo "demo: client and server disagree" >&2
	exit 1
fi
echo "Client and server agree, with no network exchange: the sequence comes from the secret and the clock."

say "One step (30 s) later the sequence is another one"
run show demo --time-offset 30s

say "Client: profiles (secrets are never shown)"
run profiles
echo
echo "demo: ok"
