#!/usr/bin/env bash
# failover.sh — failover under faults and failover time at several
# timing settings: repetitions of the e2e chaos suite, summarised
# into BENCHMARKS.md, plus the timeline plot docs/failover-timeline.png.
#
# Needs root (network namespaces; the e2e package names them lbe<N>-* and
# deletes them). Runs, through scripts/test.sh (which installs HAProxy,
# keepalived, etcd, Azurite, dynalite and exports their paths):
#
#   go test ./e2e/ -run '^(TestChaos|TestKeepalivedComparison)$' with
#     LBHC_CHAOS_FULL=1      every scenario x every backend where it makes sense,
#                            crash + graceful at 15s/10s/2s, 6s/4s/1s, 3s/2s/500ms
#     LBHC_CHAOS_REPS=$REPS  repetitions of each scenario
#     LBHC_CHAOS_JSON        one JSON line per run
#     LBHC_CHAOS_TIMELINE    samples of the first file-lease kill -9 run
#
# then go run ./scripts/bench/failoversum (tables between the chaos markers
# of BENCHMARKS.md) and gnuplot scripts/bench/timeline.gp.
#
# The tests' assertions (zero split-brain, crash bound) stay on: a failing
# run is still summarised, and the script then exits non-zero.
#
# Usage: sudo scripts/bench/failover.sh
# Env:   REPS (default 5)   OUT (directory for raw data; default a new temp dir)
#        RUN  (go test -run pattern; default both tests)
#        NO_WRITE=1  print the tables instead of updating BENCHMARKS.md
set -euo pipefail
export LBHC_SCRIPT_NAME=bench/failover
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/install.sh
source scripts/lib/install.sh
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

((EUID == 0)) || die "needs root (network namespaces): sudo $0"
REPS=${REPS:-5}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS=$REPS: want a positive integer"
RUN=${RUN:-'^(TestChaos|TestKeepalivedComparison)$'}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/lbhc-failover.XXXXXX")}
mkdir -p "$OUT/timeline"
results=$OUT/results.jsonl
: >"$results"

apt_install gnuplot-nox

log "go test (REPS=$REPS) -> $OUT/go-test.log"
test_rc=0
scripts/test.sh env LBHC_CHAOS_FULL=1 LBHC_CHAOS_REPS="$REPS" LBHC_CHAOS_JSON="$results" \
	LBHC_CHAOS_TIMELINE="$OUT/timeline" \
	go test -count=1 -timeout 6h -v -run "$RUN" ./e2e/ >"$OUT/go-test.log" 2>&1 || test_rc=$?
grep -E '^\s+(chaos|keepalived)_test.go:[0-9]+: ' "$OUT/go-test.log" | sed 's/^\s*//' >&2 || true
grep -E '^(--- FAIL|FAIL|ok|PASS)' "$OUT/go-test.log" >&2 || true

machine="$(date -u +%Y-%m-%d), $(nproc) CPU cores ($(uname -r)), $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
sum_args=(-in "$results" -cmd "REPS=$REPS scripts/bench/failover.sh" -env "$machine")
if [[ ${NO_WRITE:-} == 1 ]]; then
	go run ./scripts/bench/failoversum "${sum_args[@]}"
else
	go run ./scripts/bench/failoversum "${sum_args[@]}" -write BENCHMARKS.md
	log "updated BENCHMARKS.md"
fi

if [[ -s $OUT/timeline/client.dat ]]; then
	mkdir -p docs
	gnuplot -e "dir='$OUT/timeline'; out='docs/failover-timeline.png'; title='lbhc: kill -9 of the leader, file lease 3s/2s/500ms, HAProxy inter 100ms fall 2 rise 4'" \
		scripts/bench/timeline.gp
	log "wrote docs/failover-timeline.png"
else
	warn "no timeline data (the file-lease kill -9 run did not run)"
fi
log "raw data in $OUT"
exit "$test_rc"
