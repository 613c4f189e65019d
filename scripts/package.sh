#!/usr/bin/env bash
# package.sh [OUTDIR] — build the lbhc .deb and .rpm for each architecture
# in LBHC_PKG_ARCHS (default "amd64 arm64") into OUTDIR (default dist/):
#   dist/lbhc_<pkgversion>_<arch>.deb, dist/lbhc-<pkgversion>-1.<rpmarch>.rpm
#
# The binary comes from scripts/build.sh (the release build); nfpm runs as a
# Go tool from the Go module proxy at a pinned version, compiled locally (no
# prebuilt downloads). v2.45.2 is the newest nfpm whose dependencies all
# resolve through proxy.golang.org here: v2.46+ need go.digitalxero.dev
# modules, which the proxy refuses (403).
set -euo pipefail

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/dist}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$root"

# shellcheck source=scripts/lib/stamp.sh
source scripts/lib/stamp.sh

# Package versions must start with a digit and (rpm) contain no '-':
#   v1.2.3 -> 1.2.3;  v1.2.3-4-gabc1234-dirty -> 1.2.3+4.gabc1234.dirty
#   (sorts after 1.2.3);  an untagged tree (abc1234[-dirty]) ->
#   0.0.0+gabc1234[.dirty];  dev -> 0.0.0+dev;  v1.0.0-rc1 -> 1.0.0~rc1
#   (sorts before 1.0.0 in dpkg and rpm).
pkg_version() {
	local v=${1#v} base rest
	if [[ $v =~ ^[0-9]+(\.[0-9]+)*$ ]]; then
		echo "$v"
	elif [[ $v =~ ^([0-9]+(\.[0-9]+)*)-((alpha|beta|rc|pre)[0-9.]*)$ ]]; then
		echo "${BASH_REMATCH[1]}~${BASH_REMATCH[3]}" # pre-release: sorts before
	elif [[ $v =~ ^([0-9]+(\.[0-9]+)*)-(.+)$ ]]; then
		base=${BASH_REMATCH[1]} rest=${BASH_REMATCH[3]}
		echo "$base+${rest//-/.}"
	else
		rest=${v//-/.}
		[[ $rest =~ ^[0-9a-f]{7,} ]] && rest=g$rest
		echo "0.0.0+$rest"
	fi
}
LBHC_PKG_VERSION=$(pkg_version "$VERSION")
if [[ ! $LBHC_PKG_VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
	echo "package.sh: cannot make a package version from VERSION='$VERSION' (got '$LBHC_PKG_VERSION')" >&2
	exit 2
fi
export LBHC_PKG_VERSION

mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

for arch in ${LBHC_PKG_ARCHS:-amd64 arm64}; do
	LBHC_PKG_ARCH=$arch
	LBHC_PKG_BINARY=$stage/lbhc_linux_$arch
	export LBHC_PKG_ARCH LBHC_PKG_BINARY
	echo "package: building linux/$arch" >&2
	"$root/scripts/build.sh" linux "$arch" "$LBHC_PKG_BINARY"
	for packager in deb rpm; do
		go run "$NFPM" package --config packaging/nfpm.yaml --packager "$packager" --target "$out/"
	done
done
