#!/usr/bin/env bash
# Checks what packaging/dist.sh wrote to DIST (default dist/): SHA256SUMS
# verifies and names every archive, there is one for each of the eight
# targets, each holds its binaries (otpknock; otpknockd too but for
# darwin and windows, whose archives are the client's), README.md and
# otpknock keep's example (linux: examples/otpknock-keep@.service,
# darwin: examples/org.otpknock.keep.plist),
# and the binaries for this machine, when there is one, report VERSION
# and refuse the other program's commands naming it.
#
#   packaging/distcheck.sh VERSION [DIST]
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: packaging/distcheck.sh VERSION [DIST]}
dist=${2:-dist}
fail() { echo "distcheck: $*" >&2; exit 1; }

(cd "$dist" && sha256sum --quiet --strict -c SHA256SUMS) || fail "SHA256SUMS does not verify"
listed=$(awk '{print $2}' "$dist/SHA256SUMS" | sed 's/^\*//' | sort)
present=$(cd "$dist" && ls otpknock_* | sort)
[[ $listed == "$present" ]] || fail "SHA256SUMS lists [$listed], dist holds [$present]"
here=$(go env GOOS)/$(go env GOARCH)
for t in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64 freebsd/amd64 freebsd/arm64; do
	goos=${t%/*} goarch=${t#*/}
	name=otpknock_${version}_${goos}_${goarch}
	if [[ $goos == windows ]]; then
		files=$(unzip -Z1 "$dist/$name.zip") || fail "$name.zip: not a zip archive"
		bin=$name/otpknock.exe full=$name/otpknockd.exe
	else
		files=$(tar -tzf "$dist/$name.tar.gz") || fail "$name.tar.gz: not a tar.gz archive"
		bin=$name/otpknock full=$name/otpknockd
	fi
	want=("$bin" "$name/README.md")
	[[ $goos == linux ]] && want+=("$name/examples/otpknock-keep@.service")
	[[ $goos == darwin ]] && want+=("$name/examples/org.otpknock.keep.plist")
	if [[ $goos == darwin || $goos == windows ]]; then
		grep -qxF "$full" <<<"$files" && fail "$name: $full in a client archive"
	else
		want+=("$full")
	fi
	for f in "${want[@]}"; do
		grep -qxF "$f" <<<"$files" || fail "$name: no $f in the archive"
	done
	if [[ $t == "$here" ]]; then
		tmp=$(mktemp -d)
		tar -C "$tmp" -xzf "$dist/$name.tar.gz" "$bin" "$full"
		out=$("$tmp/$bin" version)
		[[ $out == "otpknock $version "* ]] || fail "$bin version says \"$out\", want otpknock $version"
		out=$("$tmp/$full" version)
		[[ $out == "otpknockd $version "* ]] || fail "$full version says \"$out\", want otpknockd $version"
		"$tmp/$full" init --help | grep -q -- '--server-id' || fail "$full init --help: no --server-id"
		out=$("$tmp/$bin" init 2>&1) && fail "$bin init succeeded"
		[[ $out == "otpknock init: init is a server command: run otpknockd init" ]] || fail "$bin init says \"$out\""
		rm -rf "$tmp"
	fi
	echo "distcheck: $name ok"
done
