#!/usr/bin/env bash
# build.sh GOOS GOARCH OUT — build one static lbhc binary.
#
# This is the only build command: scripts/release.sh, scripts/package.sh and
# scripts/image.sh (the container image) all call it, so the tested build is
# the shipped one.
#
# Stamped into `lbhc version` (main.version, main.commit, main.date):
#   VERSION            default: git describe --tags --always --dirty, else "dev"
#   COMMIT             default: git rev-parse HEAD, else "unknown"
#   SOURCE_DATE_EPOCH  seconds since 1970; default: the commit time of HEAD,
#                      else 0. main.date is this instant in UTC (RFC 3339).
# Nothing depends on the clock, the checkout path (-trimpath), the build
# cache or the host, so the same inputs give byte-identical binaries
# (-buildid= clears the link-time build ID; -buildvcs=false keeps VCS
# state out). CGO is off: the binaries are static.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 GOOS GOARCH OUT" >&2
	exit 2
fi
goos=$1 goarch=$2 out=$3

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# shellcheck source=scripts/lib/stamp.sh
source scripts/lib/stamp.sh
case $SOURCE_DATE_EPOCH in
'' | *[!0-9]*)
	echo "build.sh: SOURCE_DATE_EPOCH must be whole seconds, got '$SOURCE_DATE_EPOCH'" >&2
	exit 2
	;;
esac
# GNU date (Linux); BSD date as a fallback.
date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
	date -u -r "$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# -X values must not contain spaces: ldflags is split on them.
for v in "$VERSION" "$COMMIT"; do
	case $v in *[[:space:]]*)
		echo "build.sh: VERSION and COMMIT must not contain spaces: '$v'" >&2
		exit 2
		;;
	esac
done

# Build tags that leave out code lbhc never runs (binary size, see
# BENCHMARKS.md "Binary size"; tools/binsize builds with the same tags):
#   grpcnotrace  gRPC's golang.org/x/net/trace request tracing (and the
#                html/template it pulls in); lbhc never sets
#                grpc.EnableTracing nor serves /debug/requests.
#   urfave_cli_no_docs  urfave/cli's App.ToMarkdown/ToMan (go-md2man and
#                blackfriday); lbhc generates no man page or Markdown from
#                its App. Help rendering's reflect method lookup used to
#                keep them linked although nothing calls them.
tags=grpcnotrace,urfave_cli_no_docs

mkdir -p "$(dirname "$out")"
# GOFLAGS, GOAMD64 and GOARM64 are pinned so a caller's environment cannot
# change the output.
CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOFLAGS='' GOAMD64=v1 GOARM64=v8.0 \
	go build -trimpath -buildvcs=false -tags "$tags" \
	-ldflags "-s -w -buildid= -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$date" \
	-o "$out" .
