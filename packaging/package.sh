#!/usr/bin/env bash
# make package: builds otpknock's .deb and .rpm for amd64 and arm64 into
# OUT (default dist/packages) with nfpm, a Go tool of the module (go tool
# nfpm). The host's bin/otpknock and bin/otpknockd (make build) generate
# the example config and both programs' completions, as make install
# does.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/packages}
host=bin
stage=bin/pkg
: "${GO:=go}"

version=$(packaging/version.sh)
export OTPKNOCK_VERSION=$version
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
export SOURCE_DATE_EPOCH

rm -rf "$stage" && mkdir -p "$stage/stage/man" "$stage/scripts/deb" "$stage/scripts/rpm" "$out"

for arch in amd64 arm64; do
	for cmd in otpknock otpknockd; do
		CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath \
			-ldflags "-s -w -X main.version=$version" -o "$stage/linux-$arch/$cmd" ./cmd/$cmd
	done
done

s=$stage/stage
"$host/otpknockd" init --config "$s/config.example.yaml" --server-id CHANGE-ME --host knock.example.org \
	--secrets-dir /etc/otpknock/secrets >/dev/null
for cmd in otpknock otpknockd; do
	for sh in bash zsh fish; do
		"$host/$cmd" completion "$sh" >"$s/$cmd.$sh"
	done
done
GOOS= GOARCH= "${GO:-go}" run ./cmd/otpknock-man -version "$version" "$s/man" >/dev/null
gzip -9n "$s"/man/*.1

# Debian's changelog.gz: one entry for this version holding CHANGELOG.md.
{
	printf 'otpknock (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from commit %s. Changes since the first release:\n\n' "$(git rev-parse --short=7 HEAD)"
	sed -n '/^## /,$p' CHANGELOG.md | sed -e 's/^- /* /' -e 's/^  /    /' -e 's/^\(.\)/  \1/'
	printf '\n -- otpknock maintainers <dev@otpknock.invalid>  %s\n' "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$s/changelog.gz"

# The licenses of the Go modules linked into either binary.
"$GO" list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/otpknock ./cmd/otpknockd |
	sort -u | while read -r mod dir; do
	printf '%s\n%s\n\n' "$mod" "${mod//?/=}"
	found=
	for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE*; do
		[[ -f $f ]] && cat "$f" && echo && found=1
	done
	[[ -n $found ]] || { echo "package.sh: no license file in $dir" >&2; exit 1; }
done | gzip -9n >"$s/LICENSES-dependencies.gz"

for kind in deb rpm; do
	for f in packaging/"$kind"/*; do
		awk 'FNR == NR { common = common $0 "\n"; next } /^@COMMON@$/ { printf "%s", common; next } { print }' \
			packaging/common.sh "$f" >"$stage/scripts/$kind/${f##*/}"
	done
done

for arch in amd64 arm64; do
	for kind in deb rpm; do
		OTPKNOCK_ARCH=$arch "$GO" tool nfpm package --config packaging/nfpm.yaml --packager "$kind" --target "$out/" >/dev/null
	done
done
ls "$out"/otpknock[_-]"$version"*
