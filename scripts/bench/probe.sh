#!/usr/bin/env bash
# probe.sh — probe responder throughput and latency on loopback, lbhc side by
# side with socat in the same run.
#
# socat is what Pacemaker's azure-lb agent runs as its probe responder:
#   socat TCP-LISTEN:P,fork,reuseaddr /dev/null
# lbhc runs with --election none (always leader), so its probe port is open.
# For every concurrency level the load generator (scripts/bench/probeload)
# makes connections that connect, read until the server closes, and close
# ("connect-to-close"), first against lbhc, then against socat, and reports
# answered connections per second and latency percentiles. Bounded: each
# run stops after DURATION or MAX connections, and only loopback is used.
#
# Usage: scripts/bench/probe.sh            (prints a markdown table)
# Env:   DURATION (default 2s)  MAX (default 50000)  LEVELS (default "1 8 64")
#        OUT (directory for the raw JSON results; default: a temp dir)
set -euo pipefail
export LBHC_SCRIPT_NAME=bench/probe
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
for t in jq nstat go; do command -v "$t" >/dev/null || die "needs $t"; done

DURATION=${DURATION:-2s}
MAX=${MAX:-50000}
LEVELS=${LEVELS:-1 8 64}
work=$(mktemp -d /tmp/lbhc-bench-probe.XXXXXX)
OUT=${OUT:-$work}
mkdir -p "$OUT"

if ! command -v socat >/dev/null; then
	[[ $(id -u) == 0 ]] || die "socat is missing: apt-get install socat"
	log "installing socat"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null || die "socat missing and apt-get install failed"
fi

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "${work:?}/state" "${work:?}/bin" "${work:?}/one.json"
	rmdir "$work" 2>/dev/null || true # empty unless OUT is inside it
}
trap cleanup EXIT

log "building lbhc (scripts/build.sh) and probeload"
"$root/scripts/build.sh" linux "$(go env GOARCH)" "$work/bin/lbhc" >/dev/null
(cd "$root" && go build -o "$work/bin/probeload" ./scripts/bench/probeload)
lbhc=$work/bin/lbhc load=$work/bin/probeload

# start_lbhc PROTOCOL BACKLOG: starts an always-leader lbhc; sets lbhc_port.
start_lbhc() {
	local admin
	lbhc_port=$(pick_port) admin=$(pick_port)
	mkdir -p "$work/state"
	"$lbhc" run --election none --node-id bench --probe-address 127.0.0.1 --probe-port "$lbhc_port" \
		--probe-protocol "$1" --probe-backlog "$2" --admin-address "127.0.0.1:$admin" \
		--state-dir "$(mktemp -d "$work/state/XXXX")" --log-level warn 2>>"$OUT/lbhc.log" &
	lbhc_pid=$!
	pids+=("$lbhc_pid")
	wait_tcp 127.0.0.1 "$lbhc_port" 10 "$lbhc_pid" || die "lbhc did not open its probe port"
}

# start_socat BACKLOG: sets socat_port. backlog= is socat's listen backlog
# (its default is 5).
start_socat() {
	socat_port=$(pick_port)
	local opt=""
	[[ -n "$1" ]] && opt=",backlog=$1"
	socat "TCP-LISTEN:$socat_port,bind=127.0.0.1,fork,reuseaddr$opt" /dev/null &
	socat_pid=$!
	pids+=("$socat_pid")
	wait_tcp 127.0.0.1 "$socat_port" 10 "$socat_pid" || die "socat did not listen"
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# overflows: the kernel's count of connections dropped because a listen
# queue was full (TcpExtListenOverflows). It is per network namespace, so
# other loopback traffic on this host can add to it.
overflows() { nstat -asz TcpExtListenOverflows | awk '$1 == "TcpExtListenOverflows" {print $2}'; }

# run LABEL PORT MODE C: one bounded load run, JSON appended to results.
run() {
	local o0 o1
	o0=$(overflows)
	"$load" load -label "$1" -addr "127.0.0.1:$2" -mode "$3" -c "$4" -duration "$DURATION" -max "$MAX" >"$work/one.json"
	o1=$(overflows)
	jq -c --argjson o "$((o1 - o0))" '. + {listen_overflows: $o}' "$work/one.json" | tee -a "$OUT/results.jsonl" >&2
}

: >"$OUT/results.jsonl"
# 1. tcp, both with their default listen backlogs (lbhc 4, socat 5).
start_lbhc tcp 4
start_socat ""
for c in $LEVELS; do
	run lbhc/tcp-default-backlog "$lbhc_port" tcp "$c"
	run socat/tcp-default-backlog "$socat_port" tcp "$c"
done
stop "$lbhc_pid"
stop "$socat_pid"

# 2. tcp, both with backlog 128, so the accept loop, not the backlog, limits.
start_lbhc tcp 128
start_socat 128
for c in $LEVELS; do
	run lbhc/tcp-backlog128 "$lbhc_port" tcp "$c"
	run socat/tcp-backlog128 "$socat_port" tcp "$c"
done
stop "$lbhc_pid"
stop "$socat_pid"

# 3. lbhc http mode (socat has no HTTP answer to compare with).
start_lbhc http 4
for c in $LEVELS; do
	run lbhc/http-default-backlog "$lbhc_port" http "$c"
done
stop "$lbhc_pid"

echo "| run | concurrency | conns/s | p50 µs | p99 µs | max µs | errors | listen overflows | conns/s ratio lbhc/socat | p99 ratio lbhc/socat |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -rs '
	def r(x): (x * 10 | round) / 10;
	def group: .label | split("/")[1];
	def ratio(a; b): ((a / b) * 100 | round) / 100;
	. as $all
	| .[]
	| . as $x
	| ($all | map(select(.concurrency == $x.concurrency and (.label | startswith("socat/")) and group == ($x | group)))) as $peer
	| (($x.label | startswith("lbhc/")) and ($peer | length) == 1) as $pair
	| [ .label, .concurrency, (.conns_per_sec | round), r(.p50_us), r(.p99_us), r(.max_us), .errors, .listen_overflows,
	    (if $pair then ratio(.conns_per_sec; $peer[0].conns_per_sec) else "" end),
	    (if $pair then ratio(.p99_us; $peer[0].p99_us) else "" end) ]
	| "| " + (map(tostring) | join(" | ")) + " |"
' "$OUT/results.jsonl"
log "raw results: $OUT/results.jsonl"
