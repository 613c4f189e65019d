#!/usr/bin/env bash
# release.sh [OUTDIR] — static lbhc binaries for every release platform,
# plus SHA256SUMS, in OUTDIR (default dist/).
#
#   dist/lbhc_<version>_linux_amd64
#   dist/lbhc_<version>_linux_arm64
#   dist/lbhc_<version>_windows_amd64.exe
#   dist/SHA256SUMS                      (sha256sum -c compatible)
#
# VERSION, COMMIT and SOURCE_DATE_EPOCH are computed once here (from git,
# unless set in the environment) and passed to scripts/build.sh, so every
# binary carries the same stamp and a rebuild of the same commit is
# byte-identical: scripts/test_packaging.sh checks that.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/dist}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$root"

targets=${LBHC_RELEASE_TARGETS:-"linux/amd64 linux/arm64 windows/amd64"}

# shellcheck source=scripts/lib/stamp.sh
source scripts/lib/stamp.sh

mkdir -p "$out"
names=()
for t in $targets; do
	goos=${t%/*} goarch=${t#*/}
	name=lbhc_${VERSION}_${goos}_${goarch}
	[ "$goos" = windows ] && name=$name.exe
	echo "release: building $name" >&2
	"$root/scripts/build.sh" "$goos" "$goarch" "$out/$name"
	names+=("$name")
done
(cd "$out" && sha256sum "${names[@]}" >SHA256SUMS)
echo "release: $out (version $VERSION, commit $COMMIT, date $SOURCE_DATE_EPOCH)" >&2
cat "$out/SHA256SUMS"
