#!/usr/bin/env bash
# scripts/bench/leasecost.sh [WINDOW] — count lease requests, not estimate them.
#
# Runs a 2-node group at the default timings (15s/10s/2s) on each emulator
# (dynalite, Azurite native and record mode, etcd, fake-gcs-server), all on
# loopback, counts every request each node sends for WINDOW (default 120s)
# once a leader is elected — through a counting HTTP proxy (DynamoDB, Azure,
# Cloud Storage) or a gRPC client
# interceptor (etcd) — and writes the per-hour rates to docs/leasecost.json.
# Then regenerate the README cost table from it and docs/prices.json:
#   LBHC_UPDATE_README=1 go test -run TestREADMECostTable ./scripts/bench/leasecost/
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
WINDOW=${1:-120s}
export LBHC_BENCH_LEASECOST_WINDOW=$WINDOW
export LBHC_BENCH_LEASECOST_OUT=${LBHC_BENCH_LEASECOST_OUT:-$REPO/docs/leasecost.json}
exec scripts/test.sh go test -tags bench -count=1 -timeout 30m -parallel 4 -v -run TestCountLeaseRequests ./scripts/bench/leasecost/
