#!/usr/bin/env bash
# vip.sh — how fast the VIP follows leadership, seen from a peer.
#
# Needs root. Builds, in network namespaces it creates and deletes again
# (all named lbb*): a switch namespace lbbsw with bridge lbbbr0, two node
# namespaces lbbn1 (10.251.77.1/24) and lbbn2 (.2), and a peer namespace
# lbbc (.10). VIP 10.251.77.100/32 on the node's NIC (lbbe1 / lbbe2, nic
# mode, default gratuitous ARP). Each node also runs a plain TCP listener on
# :7000 (probeload serve), so a connect to VIP:7000 succeeds exactly while
# the VIP is on a node. The peer runs `probeload watch`, which starts a
# connect to VIP:7000 every INTERVAL (timeout 200 ms) and records when the
# VIP became reachable or unreachable. All times are this host's clock (one
# machine, so lbhc's log timestamps and the watcher's agree).
#
# Scenario "none" (CYCLES times): lbhc --election none on lbbn1, cold peer
# ARP cache (flushed before each cycle); grant = the "role changed" to
# leader line's time minus its "promoted in" duration; then SIGTERM
# (demote + remove VIP + exit).
#   grant -> VIP usable: first completed connect from the peer.
#   SIGTERM -> VIP gone:  start of the first failed connect after the last success.
# Scenario "switchover" (CYCLES times, alternating): lbbn1 and lbbn2 on one
# file lease (3s/2s/500ms), POST /switchover to the leader; the VIP moves to
# the other node's MAC (its gratuitous ARP updates the peer).
#   peer outage: start of the last successful connect before the move to the
#   first completed connect after it; and the steps in between.
#
# Usage: sudo scripts/bench/vip.sh    Env: CYCLES (default 10), INTERVAL (default 2ms), OUT
set -euo pipefail
export LBHC_SCRIPT_NAME=bench/vip
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
for t in jq curl go; do command -v "$t" >/dev/null || die "needs $t"; done

CYCLES=${CYCLES:-10}
INTERVAL=${INTERVAL:-2ms}
[[ $(id -u) == 0 ]] || die "needs root (network namespaces): sudo $0"
command -v ip >/dev/null || die "needs iproute2 (ip)"
work=$(mktemp -d /tmp/lbhc-bench-vip.XXXXXX)
OUT=${OUT:-$work/out}
mkdir -p "$OUT"

VIP=10.251.77.100
nss=(lbbsw lbbn1 lbbn2 lbbc)
pids=()
cleanup() {
	local p n
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "${work:?}/bin" "${work:?}/state"
	rmdir "$work" 2>/dev/null || true # empty unless OUT is inside it
}
trap cleanup EXIT

for n in "${nss[@]}"; do
	ip netns list | grep -qw "^$n" && die "namespace $n exists (an earlier run?); delete it: ip netns del $n"
done

log "building lbhc (scripts/build.sh) and probeload"
"$root/scripts/build.sh" linux "$(go env GOARCH)" "$work/bin/lbhc" >/dev/null
(cd "$root" && go build -o "$work/bin/probeload" ./scripts/bench/probeload)
lbhc=$work/bin/lbhc load=$work/bin/probeload

# Topology.
for n in "${nss[@]}"; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip -n lbbsw link add lbbbr0 type bridge
ip -n lbbsw link set lbbbr0 up
# attach NS IFACE SWPORT ADDR
attach() {
	ip link add "$2" netns "$1" type veth peer name "$3" netns lbbsw
	ip -n lbbsw link set "$3" master lbbbr0 up
	ip -n "$1" addr add "$4/24" dev "$2"
	ip -n "$1" link set "$2" up
}
attach lbbn1 lbbe1 lbbs1 10.251.77.1
attach lbbn2 lbbe2 lbbs2 10.251.77.2
attach lbbc lbbec lbbsc 10.251.77.10
for n in lbbn1 lbbn2; do
	ip netns exec "$n" "$load" serve -addr :7000 -for 30m &
	pids+=($!)
done
# Wait until both nodes' own addresses answer from the peer (bridge up).
for a in 10.251.77.1 10.251.77.2; do
	ip netns exec lbbc "$load" watch -addr "$a:7000" -want up -for 10s >/dev/null ||
		die "peer cannot reach $a: topology broken"
done

mkdir -p "$work/state"
# State changes over TCP need the bearer token (only loopback callers may
# change state without it).
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf '%s\n' "$token" >"$work/admin.token")
# start_node NS NAME DIR [ARGS...]: start lbhc in NS, log to DIR/NAME.log; sets pid.
start_node() {
	local ns=$1 name=$2 dir=$3 iface
	shift 3
	iface=lbbe${ns#lbbn}
	ip netns exec "$ns" "$lbhc" run --node-id "$name" --vip "$VIP" --vip-interface "$iface" \
		--probe-port 26001 --admin-address 127.0.0.1:9102 --admin-token-file "$work/admin.token" --log-format json \
		--state-dir "$(mktemp -d "$work/state/XXXX")" "$@" 2>>"$dir/$name.log" &
	pid=$!
	pids+=("$pid")
}
role() { ip netns exec "$1" curl -s -m 1 http://127.0.0.1:9102/status 2>/dev/null | jq -r .role 2>/dev/null || true; }
wait_role() {
	local i
	for ((i = 0; i < 200; i++)); do
		[[ "$(role "$1")" == "$2" ]] && return 0
		sleep 0.05
	done
	die "$1 did not become $2"
}
# watch DIR FILE WANT: start the peer's watcher, return once it is probing.
watch() {
	rm -f "$1/ready"
	ip netns exec lbbc "$load" watch -addr "$VIP:7000" -want "$3" -interval "$INTERVAL" -for 15s \
		-ready "$1/ready" >"$1/$2" &
	wpid=$!
	pids+=("$wpid")
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -e "$1/ready" ]] && return 0
		sleep 0.01
	done
	die "watcher did not start"
}

log "scenario none: $CYCLES cycles"
for ((i = 1; i <= CYCLES; i++)); do
	dir=$OUT/none-$(printf %02d "$i")
	mkdir -p "$dir"
	echo none >"$dir/kind"
	ip -n lbbc neigh flush dev lbbec
	watch "$dir" up.json up
	start_node lbbn1 node "$dir" --election none
	npid=$pid
	wait "$wpid" || die "cycle $i: VIP never became reachable (see $dir)"
	watch "$dir" down.json down
	sleep 0.2 # the watcher must see the VIP up before it goes
	date +%s%N >"$dir/kill_ns"
	kill -TERM "$npid"
	wait "$wpid" || die "cycle $i: VIP never went away (see $dir)"
	wait "$npid" || true
done

log "scenario switchover: $CYCLES cycles"
sdir=$OUT/switch-logs
mkdir -p "$sdir"
lease=(--election file --lease-file "$work/state/group.lease" --lease-ttl 3s --renew-deadline 2s --retry-period 500ms)
start_node lbbn1 n1 "$sdir" "${lease[@]}"
wait_role lbbn1 leader
start_node lbbn2 n2 "$sdir" "${lease[@]}"
wait_role lbbn2 follower
cur=lbbn1 other=lbbn2
for ((i = 1; i <= CYCLES; i++)); do
	dir=$OUT/switch-$(printf %02d "$i")
	mkdir -p "$dir"
	watch "$dir" gap.json gap
	sleep 0.2
	date +%s%N >"$dir/switch_ns"
	ip netns exec "$cur" curl -s -m 5 -X POST -H "Authorization: Bearer $token" http://127.0.0.1:9102/switchover >"$dir/switchover.out"
	wait "$wpid" || die "cycle $i: no outage-and-back seen (see $dir)"
	wait_role "$other" leader
	cp "$sdir/n${cur#lbbn}.log" "$dir/from.log"
	cp "$sdir/n${other#lbbn}.log" "$dir/to.log"
	echo switchover >"$dir/kind"
	tmp=$cur cur=$other other=$tmp
	# The old leader sits out 2 x retry-period + 1 s before it campaigns
	# again; wait so the next switchover has a follower to move to.
	sleep 2.5
	wait_role "$other" follower
done

"$load" vipreport -dir "$OUT"
log "raw data: $OUT"
