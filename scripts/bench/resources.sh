#!/usr/bin/env bash
# resources.sh — idle memory and CPU of an lbhc leader and follower, and the
# size of the release binary.
#
# Two lbhc processes share one file lease (default timings 15s/10s/2s, so
# the leader renews and the follower polls every 2 s) and idle for IDLE
# seconds. From /proc/PID/status (VmRSS, VmHWM, Threads) and /proc/PID/stat
# (utime + stime, in clock ticks) we report resident memory and the CPU time
# used during the idle window. An idle socat probe responder
# (Pacemaker's azure-lb) is sampled in the same run for reference.
# Binary size: scripts/build.sh (CGO off, -trimpath, -ldflags "-s -w"),
# i.e. the shipped, stripped binary.
#
# Usage: scripts/bench/resources.sh      Env: IDLE (seconds, default 60)
set -euo pipefail
export LBHC_SCRIPT_NAME=bench/resources
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
for t in jq curl go getconf; do command -v "$t" >/dev/null || die "needs $t"; done

IDLE=${IDLE:-60}
work=$(mktemp -d /tmp/lbhc-bench-res.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

arch=$(go env GOARCH)
"$root/scripts/build.sh" linux "$arch" "$work/lbhc" >/dev/null
size=$(stat -c %s "$work/lbhc")
echo "binary: linux/$arch scripts/build.sh output: $size bytes ($(awk -v s="$size" 'BEGIN{printf "%.1f", s/1048576}') MiB)"

lease=$work/group.lease
# start NAME: one lbhc node on the shared lease file; sets pid and admin.
start() {
	local probe
	probe=$(pick_port) admin=$(pick_port)
	mkdir -p "$work/$1"
	"$work/lbhc" run --election file --lease-file "$lease" --node-id "$1" \
		--probe-address 127.0.0.1 --probe-port "$probe" --admin-address "127.0.0.1:$admin" \
		--state-dir "$work/$1" --log-format json 2>"$work/$1.log" &
	pid=$!
	pids+=("$pid")
}

# role ADMIN: the role in /status.
role() { curl -s -m 2 "http://127.0.0.1:$1/status" | jq -r .role 2>/dev/null || true; }

wait_role() {
	local admin=$1 want=$2 i
	for ((i = 0; i < 100; i++)); do
		[[ "$(role "$admin")" == "$want" ]] && return 0
		sleep 0.1
	done
	die "node on admin port $admin did not become $want"
}

start a
a_pid=$pid a_admin=$admin
wait_role "$a_admin" leader
start b
b_pid=$pid b_admin=$admin
wait_role "$b_admin" follower
sport=$(pick_port)
socat "TCP-LISTEN:$sport,bind=127.0.0.1,fork,reuseaddr" /dev/null &
s_pid=$!
pids+=("$s_pid")
wait_tcp 127.0.0.1 "$sport" 10 "$s_pid" || die "socat did not listen"

sleep 5 # let start-up settle before the window
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
declare -A t0
for p in "$a_pid" "$b_pid" "$s_pid"; do t0[$p]=$(ticks "$p"); done
log "idling for ${IDLE}s"
sleep "$IDLE"
[[ "$(role "$a_admin")" == leader && "$(role "$b_admin")" == follower ]] || die "roles changed during the idle window"

echo "| process | role | VmRSS KiB | VmHWM KiB | threads | CPU ms in ${IDLE} s | CPU % |"
echo "|---|---|---:|---:|---:|---:|---:|"
row() {
	local name=$1 r=$2 p=$3 dt
	dt=$(($(ticks "$p") - t0[$p]))
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$r" "$(field "$p" VmRSS)" "$(field "$p" VmHWM)" \
		"$(field "$p" Threads)" "$((dt * 1000 / hz))" "$(awk -v t="$dt" -v hz="$hz" -v s="$IDLE" 'BEGIN{printf "%.3f", 100*t/hz/s}')"
}
row "lbhc a" leader "$a_pid"
row "lbhc b" follower "$b_pid"
row "socat (reference)" "listener" "$s_pid"
