#!/usr/bin/env bash
# scripts/bench/fleet.sh [GROUPS] [WINDOW] — many groups on one backend.
#
# One process hosts GROUPS (comma list, default 10,100,500) simulated 2-node
# groups — election engines only, no probe, no VIP — at the default timings
# against one emulator on loopback (dynalite, Azurite in record mode, etcd),
# waits until every group has a leader, then counts for WINDOW (default
# 60s): requests per second by operation, renewal latency p50/p99, renewals
# that failed and leaderships lost (missed deadlines). JSON results go to
# LBHC_BENCH_FLEET_OUT (default /tmp/lbhc-fleet.json); BENCHMARKS.md has the
# table. LBHC_BENCH_FLEET_BACKENDS=dynamodb,azblob-record,etcd selects.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
export LBHC_BENCH_FLEET_GROUPS=${1:-10,100,500}
export LBHC_BENCH_FLEET_WINDOW=${2:-60s}
export LBHC_BENCH_FLEET_OUT=${LBHC_BENCH_FLEET_OUT:-/tmp/lbhc-fleet.json}
exec scripts/test.sh go test -tags bench -count=1 -timeout 60m -v -run TestFleet ./scripts/bench/fleet/
