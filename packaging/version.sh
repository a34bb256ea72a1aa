#!/bin/sh
# Prints otpknock's package version, valid for both dpkg and rpm: X.Y.Z at
# a tag vX.Y.Z, X.Y.Z+gitN.HASH after one, 0.0.0~gitN.HASH before any tag
# (N commits, HASH the commit; "~" sorts before a release), with ".dirty"
# when the work tree has changes.
set -eu
hash=$(git rev-parse --short=7 HEAD)
dirty=$(git diff --quiet HEAD 2>/dev/null || echo .dirty)
if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
	base=$(echo "${tag#v}" | tr - "~")
	n=$(git rev-list --count "$tag..HEAD")
	if [ "$n" = 0 ]; then
		v=$base
	else
		v="$base+git$n.$hash"
	fi
else
	v="0.0.0~git$(git rev-list --count HEAD).$hash"
fi
v="$v$dirty"
# dpkg and rpm both refuse "-" in an upstream version without a revision.
case $v in
*[!0-9A-Za-z.+~]*) echo "version.sh: $v is not a valid package version" >&2; exit 1 ;;
esac
echo "$v"
