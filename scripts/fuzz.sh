#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 10s;
# a count such as 50000x runs that many inputs instead, as CI does).
set -euo pipefail
fuzztime=${FUZZTIME:-10s}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tail -n 20
	done
done
