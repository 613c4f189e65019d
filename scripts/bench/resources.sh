#!/usr/bin/env bash
# resources.sh — binary size, and idle memory and CPU of a leader and a
# follower, for lbhc and (in the same run, side by side) keepalived and
# vip-manager, and optionally an earlier lbhc build.
#
# Every pair runs as root in two network namespaces this script creates
# (joined by a veth pair; no traffic leaves them), each with a VIP on the
# veth, so every daemon does its whole idle job:
#   lbhc         file lease shared by both nodes, default timings
#                (15s/10s/2s), kernel fence loaded (root), --vip on the veth
#   keepalived   VRRP unicast between the two nodes, advert_int 1 (its
#                parent and VRRP child process are summed)
#   vip-manager  etcd DCS (an etcd in the first namespace, not counted),
#                default interval (1 s)
# After every process has run SETTLE seconds (default 20), VmRSS and PSS
# (/proc/PID/smaps_rollup) are read; then CPU time (schedstat, in ns, all
# threads) is measured over an IDLE-second window (default 60) and memory
# read again at its end. CPU is reported as CPU-seconds per minute.
#
# Binary size: scripts/build.sh linux/<arch> (the shipped, stripped binary),
# also gzip -9 and xz -9 compressed.
#
# Usage: sudo scripts/bench/resources.sh
# Env:   IDLE, SETTLE          seconds (60, 20)
#        BEFORE=REV            also build and run lbhc at git revision REV
#        VIP_MANAGER=PATH      vip-manager binary (skipped when unset); see
#                              BENCHMARKS.md for how it was built
#        KEEPALIVED=PATH       default: keepalived on PATH (skipped if none)
set -euo pipefail
export LBHC_SCRIPT_NAME=bench/resources
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
[[ $(id -u) == 0 ]] || die "run as root (network namespaces, VIPs, the kernel fence)"
for t in ip jq curl go gzip xz bc; do command -v "$t" >/dev/null || die "needs $t"; done

IDLE=${IDLE:-60} SETTLE=${SETTLE:-20}
KEEPALIVED=${KEEPALIVED:-$(command -v keepalived || true)}
VIP_MANAGER=${VIP_MANAGER:-}
work=$(mktemp -d /tmp/lbhc-bench-res.XXXXXX)
nsa=lbhcres-a-$$ nsb=lbhcres-b-$$
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

arch=$(go env GOARCH)
# size NAME FILE: one row of the size table.
size_row() {
	local s g x
	s=$(stat -c %s "$2")
	g=$(gzip -9 -c "$2" | wc -c)
	x=$(xz -9 -c "$2" | wc -c)
	printf '| %s | %s | %.1f | %s | %.1f | %s | %.1f |\n' "$1" "$s" "$(bc -l <<<"$s/1048576")" \
		"$g" "$(bc -l <<<"$g/1048576")" "$x" "$(bc -l <<<"$x/1048576")"
}
"$root/scripts/build.sh" linux "$arch" "$work/lbhc" >/dev/null
bins=("lbhc:$work/lbhc")
if [[ -n ${BEFORE:-} ]]; then
	mkdir -p "$work/before-src"
	git -C "$root" archive "$BEFORE" | tar -x -C "$work/before-src"
	VERSION=$BEFORE COMMIT=$(git -C "$root" rev-parse "$BEFORE") SOURCE_DATE_EPOCH=0 \
		"$work/before-src/scripts/build.sh" linux "$arch" "$work/lbhc-before" >/dev/null
	bins+=("lbhc-before:$work/lbhc-before")
fi
echo "| binary (linux/$arch) | stripped bytes | MiB | gzip -9 bytes | MiB | xz -9 bytes | MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
size_row "lbhc" "$work/lbhc"
[[ -z ${BEFORE:-} ]] || size_row "lbhc $BEFORE (before)" "$work/lbhc-before"
[[ -z $VIP_MANAGER ]] || size_row "vip-manager" "$VIP_MANAGER"
[[ -z $KEEPALIVED ]] || size_row "keepalived (Debian, dynamic)" "$KEEPALIVED"
echo

# Two namespaces, one veth pair: 10.231.0.1 (a) and 10.231.0.2 (b).
ip netns add "$nsa"
ip netns add "$nsb"
ip link add "va$$" netns "$nsa" type veth peer name "vb$$" netns "$nsb"
ip -n "$nsa" link set lo up
ip -n "$nsb" link set lo up
ip -n "$nsa" addr add 10.231.0.1/24 dev "va$$"
ip -n "$nsb" addr add 10.231.0.2/24 dev "vb$$"
ip -n "$nsa" link set "va$$" up
ip -n "$nsb" link set "vb$$" up
ns_of() { [[ $1 == a ]] && echo "$nsa" || echo "$nsb"; }
if_of() { [[ $1 == a ]] && echo "va$$" || echo "vb$$"; }

declare -A procs # label -> space-separated pids (summed)
# spawn LABEL NODE CMD...: run CMD in NODE's namespace in the background.
spawn() {
	local label=$1 node=$2
	shift 2
	ip netns exec "$(ns_of "$node")" "$@" >"$work/$label.log" 2>&1 &
	pids+=("$!")
	procs[$label]=$!
}
# has_vip NODE ADDR: ADDR is on NODE's veth.
has_vip() { ip -n "$(ns_of "$1")" -br addr show dev "$(if_of "$1")" | grep -w "$2/[0-9]*" >/dev/null; }
wait_for() {
	local what=$1 i
	shift
	for ((i = 0; i < 150; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	die "$what did not happen within 30 s"
}
role() { ip netns exec "$(ns_of "$1")" curl -s -m 2 "http://127.0.0.1:$2/status" | jq -r .role 2>/dev/null || true; }
is_role() { [[ "$(role "$1" "$2")" == "$3" ]]; }

# lbhc pair NAME BIN VIP ADMINPORT PROBEPORT
lbhc_pair() {
	local name=$1 bin=$2 vip=$3 admin=$4 probe=$5 n
	for n in a b; do
		mkdir -p "$work/$name-$n"
		spawn "$name-$n" "$n" "$bin" run --election file --lease-file "$work/$name.lease" --node-id "$n" \
			--probe-port "$probe" --admin-address "127.0.0.1:$admin" --state-dir "$work/$name-$n" \
			--vip "$vip/32" --vip-interface "$(if_of "$n")" --log-format json
		[[ $n == b ]] || wait_for "$name a leading" is_role a "$admin" leader
	done
	wait_for "$name b following" is_role b "$admin" follower
	local metrics # not piped into grep -q: an early exit would fail curl under pipefail
	metrics=$(ip netns exec "$nsa" curl -s "http://127.0.0.1:$admin/metrics")
	grep -q '^lbhc_probe_kernel_fence 1' <<<"$metrics" || die "$name: kernel fence not loaded"
}
lbhc_pair lbhc "$work/lbhc" 10.231.0.10 9102 26001
rows=("lbhc a:leader" "lbhc b:follower")
if [[ -n ${BEFORE:-} ]]; then
	lbhc_pair lbhc-before "$work/lbhc-before" 10.231.0.11 9103 26002
	rows+=("lbhc-before a:leader" "lbhc-before b:follower")
fi

if [[ -n $KEEPALIVED ]]; then
	for n in a b; do
		self=10.231.0.1 peer=10.231.0.2 prio=150
		[[ $n == a ]] || { self=10.231.0.2 peer=10.231.0.1 prio=100; }
		cat >"$work/keepalived-$n.conf" <<EOF
global_defs {
	router_id bench-$n
}
vrrp_instance VI_BENCH {
	state BACKUP
	interface $(if_of "$n")
	virtual_router_id 52
	priority $prio
	advert_int 1
	unicast_src_ip $self
	unicast_peer {
		$peer
	}
	virtual_ipaddress {
		10.231.0.12/32 dev $(if_of "$n")
	}
}
EOF
		spawn "keepalived-$n" "$n" "$KEEPALIVED" --dont-fork --log-console --vrrp --use-file "$work/keepalived-$n.conf" \
			--pid "$work/keepalived-$n.pid" --vrrp_pid "$work/keepalived-$n.vrrp.pid"
	done
	wait_for "keepalived a holding its VIP" has_vip a 10.231.0.12
	for n in a b; do
		wait_for "keepalived $n VRRP child" test -s "$work/keepalived-$n.vrrp.pid"
		procs[keepalived-$n]="${procs[keepalived-$n]} $(cat "$work/keepalived-$n.vrrp.pid")"
	done
	rows+=("keepalived a:master" "keepalived b:backup")
fi

if [[ -n $VIP_MANAGER ]]; then
	command -v etcd >/dev/null || die "vip-manager needs etcd"
	ip netns exec "$nsa" etcd --name bench --data-dir "$work/etcd" \
		--listen-client-urls http://10.231.0.1:2379 --advertise-client-urls http://10.231.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster bench=http://127.0.0.1:2380 --logger zap --log-level warn >"$work/etcd.log" 2>&1 &
	pids+=("$!")
	etcd_up() { ip netns exec "$nsa" curl -s -m 1 http://10.231.0.1:2379/health | grep '"health":"true"' >/dev/null; }
	wait_for "etcd healthy" etcd_up
	# The leader key names node a (as Patroni would write it).
	ip netns exec "$nsa" curl -s -X POST http://10.231.0.1:2379/v3/kv/put \
		-d "{\"key\":\"$(printf /bench/leader | base64)\",\"value\":\"$(printf a | base64)\"}" >/dev/null
	for n in a b; do
		spawn "vip-manager-$n" "$n" "$VIP_MANAGER" --ip 10.231.0.13 --netmask 24 --interface "$(if_of "$n")" \
			--trigger-key /bench/leader --trigger-value "$n" --dcs-type etcd --dcs-endpoints http://10.231.0.1:2379
	done
	wait_for "vip-manager a holding its VIP" has_vip a 10.231.0.13
	rows+=("vip-manager a:leader" "vip-manager b:follower")
fi

# cpu_ns PIDS: CPU time in ns used so far, summed over PIDS and their threads
# (/proc/PID/task/TID/schedstat: nanoseconds, where /proc/PID/stat counts
# 10 ms ticks, too coarse for an idle daemon).
cpu_ns() {
	local p s=0 t
	for p in $1; do
		for t in /proc/"$p"/task/*/schedstat; do s=$((s + $(cut -d' ' -f1 "$t"))); done
	done
	echo "$s"
}
# mem PIDS: "RSS_KiB PSS_KiB threads", summed over PIDS.
mem() {
	local p r=0 s=0 th=0
	for p in $1; do
		r=$((r + $(awk '$1 == "VmRSS:" {print $2}' "/proc/$p/status")))
		s=$((s + $(awk '$1 == "Pss:" {print $2}' "/proc/$p/smaps_rollup")))
		th=$((th + $(awk '$1 == "Threads:" {print $2}' "/proc/$p/status")))
	done
	echo "$r $s $th"
}
log "all running; settling ${SETTLE}s"
sleep "$SETTLE"
declare -A m0 t0
for r in "${rows[@]}"; do
	label=${r%%:*} label=${label// /-}
	m0[$label]=$(mem "${procs[$label]}")
	t0[$label]=$(cpu_ns "${procs[$label]}")
done
log "idling for ${IDLE}s"
sleep "$IDLE"
is_role a 9102 leader && is_role b 9102 follower || die "lbhc roles changed during the idle window"

echo "| process | role | RSS MiB at ${SETTLE} s | RSS MiB at end | PSS MiB at end | threads | CPU-s per minute |"
echo "|---|---|---:|---:|---:|---:|---:|"
declare -A rss pss cpu
for r in "${rows[@]}"; do
	label=${r%%:*} role=${r#*:}
	key=${label// /-}
	read -r r0 _ _ <<<"${m0[$key]}"
	read -r r1 p1 th <<<"$(mem "${procs[$key]}")"
	dt=$(($(cpu_ns "${procs[$key]}") - t0[$key]))
	c=$(bc -l <<<"$dt / 1000000000 * 60 / $IDLE")
	rss[$key]=$r1 pss[$key]=$p1 cpu[$key]=$c
	printf '| %s | %s | %.1f | %.1f | %.1f | %s | %.4f |\n' "$label" "$role" "$(bc -l <<<"$r0/1024")" \
		"$(bc -l <<<"$r1/1024")" "$(bc -l <<<"$p1/1024")" "$th" "$c"
done
echo
# Ratios of lbhc to each peer, per node, from this run.
ratio() { [[ $(bc <<<"$2 == 0") == 1 ]] && echo "n/a" || printf '%.2f' "$(bc -l <<<"$1 / $2")"; }
echo "| lbhc / peer (same run) | node | RSS | PSS | CPU |"
echo "|---|---|---:|---:|---:|"
for peer in lbhc-before keepalived vip-manager; do
	for n in a b; do
		[[ -n ${rss[$peer-$n]:-} ]] || continue
		printf '| lbhc / %s | %s | %s | %s | %s |\n' "$peer" "$n" "$(ratio "${rss[lbhc-$n]}" "${rss[$peer-$n]}")" \
			"$(ratio "${pss[lbhc-$n]}" "${pss[$peer-$n]}")" "$(ratio "${cpu[lbhc-$n]}" "${cpu[$peer-$n]}")"
	done
done
echo
echo "machine: $(nproc) CPUs, $(uname -r), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
