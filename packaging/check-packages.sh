#!/usr/bin/env bash
# make package-check: lintian on each .deb of DIR (default dist/packages),
# no error or warning tag that packaging/lintian-overrides does
# not justify; and each .rpm carries the same files, modes and owners as
# the .deb of its architecture (rpm -qlp against dpkg-deb -c), save the
# .deb's lintian override. The maintainer scripts must parse as sh.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-dist/packages}
version=$(packaging/version.sh)
declare -A rpmarch=([amd64]=x86_64 [arm64]=aarch64)

# payload_deb and payload_rpm print "mode owner/group path" per file and
# symlink, sorted; directories are left out (the .deb lists its parents).
payload_deb() {
	dpkg-deb -c "$1" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print $1, $2, p }' |
		grep -v ' /usr/share/lintian/overrides/otpknock$' | sort
}
payload_rpm() {
	rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]' "$1" |
		awk '$1 !~ /^d/' | sort
}

for f in bin/pkg/scripts/*/*; do
	sh -n "$f" || { echo "check-packages: $f is not valid sh" >&2; exit 1; }
done

for arch in amd64 arm64; do
	deb=$dir/otpknock_${version}_$arch.deb
	rpm=$dir/otpknock-${version}-1.${rpmarch[$arch]}.rpm
	echo "== lintian $deb"
	# A warning or an error fails unless it is overridden (--show-overrides
	# would fail on those too).
	lintian --fail-on error,warning --display-info "$deb"
	echo "== payload $rpm against $deb"
	if ! diff -u <(payload_deb "$deb") <(payload_rpm "$rpm"); then
		echo "check-packages: $rpm and $deb carry different files" >&2
		exit 1
	fi
	echo "$(payload_rpm "$rpm" | wc -l) files and links, the same in both; rpm -qlp lists $(rpm -qlp "$rpm" | wc -l) paths with its directories"
	[[ $(rpm -qp --scripts "$rpm") == *otpknock_setup* ]] || { echo "check-packages: $rpm has no scripts" >&2; exit 1; }
done
