#!/usr/bin/env bash
# Builds otpknock's release archives into DIST (default dist/), one per
# target: otpknock_VERSION_GOOS_GOARCH.tar.gz (.zip for Windows) holding a
# directory of that name with the binaries, stamped with VERSION,
# README.md and LICENSE when there is one; then DIST/SHA256SUMS over the
# archives. Linux and FreeBSD archives hold the client otpknock and the
# server otpknockd; darwin and windows ones the client only (the server
# runs on Linux). Linux archives also hold examples/otpknock-keep@.service
# (otpknock keep as a systemd user service), darwin ones
# examples/org.otpknock.keep.plist (as a launchd agent).
# Static (CGO_ENABLED=0), -trimpath, JOBS builds at a time (default 2).
# Archives are reproducible: names sorted, owner 0, modification time that
# of the last commit.
#
#   packaging/dist.sh VERSION [DIST]
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: packaging/dist.sh VERSION [DIST]}
dist=${2:-dist}
targets=${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64 freebsd/amd64 freebsd/arm64}
mtime=$(git log -1 --format=%ct 2>/dev/null || date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dist"
rm -f "$dist"/otpknock_* "$dist"/SHA256SUMS
dist=$(cd "$dist" && pwd)
export version dist mtime work

# one GOOS/GOARCH: build, stage, archive.
one() {
	local goos=${1%/*} goarch=${1#*/} ext="" name
	name=otpknock_${version}_${goos}_${goarch}
	[[ $goos == windows ]] && ext=.exe
	mkdir -p "$work/$name"
	local cmds="otpknock otpknockd"
	[[ $goos == darwin || $goos == windows ]] && cmds=otpknock
	for cmd in $cmds; do
		GOOS=$goos GOARCH=$goarch CGO_ENABLED=0 go build -trimpath \
			-ldflags "-s -w -X main.version=$version" -o "$work/$name/$cmd$ext" ./cmd/$cmd
	done
	cp README.md "$work/$name/"
	if [[ -f LICENSE ]]; then cp LICENSE "$work/$name/"; fi
	local example=
	[[ $goos == linux ]] && example=packaging/otpknock-keep@.service
	[[ $goos == darwin ]] && example=packaging/org.otpknock.keep.plist
	if [[ -n $example ]]; then install -D -m 0644 "$example" "$work/$name/examples/${example#packaging/}"; fi
	find "$work/$name" -exec touch -d "@$mtime" {} +
	if [[ $goos == windows ]]; then
		(cd "$work" && zip -qrX "$dist/$name.zip" "$name")
	else
		tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -cf - "$name" |
			gzip -9n >"$dist/$name.tar.gz"
	fi
	echo "dist: $name"
}
export -f one

printf '%s\n' $targets | xargs -P "${JOBS:-2}" -I{} bash -c 'one {}'
(cd "$dist" && sha256sum otpknock_* >SHA256SUMS)
echo "dist: $(wc -l <"$dist/SHA256SUMS") archives and SHA256SUMS in $dist"
