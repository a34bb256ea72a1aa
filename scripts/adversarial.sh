#!/usr/bin/env bash
# Runs the adversarial suite (package attack) with its full counts and
# writes every figure to ADVERSARIAL.md. The bounded version runs within
# make test.
set -euo pipefail
report=${OTPKNOCK_REPORT:-ADVERSARIAL.md}
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
OTPKNOCK_ADVERSARIAL=full OTPKNOCK_REPORT=$rows OTPKNOCK_REQUIRE_INTEGRATION=1 \
	go test ./attack -count=1 -timeout 90m -v | grep -E '^(=== RUN|--- |ok|FAIL|PASS)' || true
{
	echo "# otpknock adversarial report"
	echo
	echo "Every threat of the design, attacked for real against the real server in"
	echo "network namespaces (\`make adversarial\`, package \`attack\`)."
	echo
	echo "- machine: $(nproc) cores, $(uname -sr), $(go version | cut -d' ' -f3)"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "| attack | figure |"
	echo "|---|---|"
	cat "$rows"
} >"$report"
echo "adversarial: report in $report"
grep -q . "$rows"
