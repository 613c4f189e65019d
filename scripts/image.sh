#!/usr/bin/env bash
# image.sh [TAG] — build lbhc's container image from packaging/Dockerfile:
# an empty (scratch) base, the static release binary and the build host's CA
# bundle. No base image is pulled, so it builds without a registry.
#
#   scripts/image.sh                      tag localhost/lbhc:<version>
#   scripts/image.sh ghcr.io/lbhc/lbhc:1.2.3
#
# Environment:
#   LBHC_IMAGE_BUILDER  buildah (default when installed), podman or docker
#   LBHC_IMAGE_ARCH     GOARCH of the binary and the image (default amd64)
#   LBHC_CA_BUNDLE      CA bundle to copy (default /etc/ssl/certs/ca-certificates.crt,
#                       Debian's ca-certificates)
#   LBHC_BUILDAH_OPTS   global options for buildah/podman, e.g. "--root DIR
#                       --runroot DIR --storage-driver vfs" (tests use a
#                       private store)
#   VERSION, COMMIT, SOURCE_DATE_EPOCH  as for scripts/build.sh; the image's
#                       created time is SOURCE_DATE_EPOCH (buildah/podman)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib/stamp.sh
source scripts/lib/stamp.sh

arch=${LBHC_IMAGE_ARCH:-amd64}
tag=${1:-localhost/lbhc:$VERSION}
ca=${LBHC_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
builder=${LBHC_IMAGE_BUILDER:-}
if [[ -z $builder ]]; then
	for b in buildah podman docker; do
		if command -v "$b" >/dev/null; then
			builder=$b
			break
		fi
	done
fi
[[ -n $builder ]] || {
	echo "image.sh: no buildah, podman or docker (Debian: apt-get install buildah)" >&2
	exit 1
}
[[ -s $ca ]] || {
	echo "image.sh: CA bundle $ca missing (Debian: apt-get install ca-certificates)" >&2
	exit 1
}

ctx=$(mktemp -d "${TMPDIR:-/tmp}/lbhc-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
scripts/build.sh linux "$arch" "$ctx/lbhc"
cp "$ca" "$ctx/ca-certificates.crt"
chmod 0644 "$ctx/ca-certificates.crt"
mkdir -m 0750 "$ctx/state"
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
args=(-f "$root/packaging/Dockerfile" --build-arg "VERSION=$VERSION" --build-arg "COMMIT=$COMMIT"
	--build-arg "CREATED=$created" -t "$tag")
# shellcheck disable=SC2086 # LBHC_BUILDAH_OPTS is a list of options
case $builder in
buildah) buildah ${LBHC_BUILDAH_OPTS:-} bud --layers=false --timestamp "$SOURCE_DATE_EPOCH" \
	--arch "$arch" --identity-label=false "${args[@]}" "$ctx" ;;
podman) podman ${LBHC_BUILDAH_OPTS:-} build --timestamp "$SOURCE_DATE_EPOCH" --arch "$arch" "${args[@]}" "$ctx" ;;
docker) docker build --platform "linux/$arch" "${args[@]}" "$ctx" ;;
*)
	echo "image.sh: LBHC_IMAGE_BUILDER must be buildah, podman or docker, got $builder" >&2
	exit 2
	;;
esac
echo "$tag"
