#!/usr/bin/env bash
# test_opskit.sh — the operations kit against the real binary (scripts/test.sh
# runs it as root, like CI; exit 0 passed, 77 skipped, else failed):
#
#  1. packaging/prometheus/lbhc-rules.yaml: `promtool check rules` and the
#     rule unit tests `promtool test rules lbhc-rules.test.yaml`.
#  2. The container image: scripts/image.sh builds packaging/Dockerfile with
#     buildah into a private store; the image's entrypoint, command, user,
#     labels, exposed port, stop signal, file list and size are checked; its
#     root filesystem is mounted (buildah from + mount, no container runtime)
#     read-only and lbhc runs from it under chroot: `version`, then `run
#     --election none` answering its probe port on loopback and stopping on
#     SIGTERM.
#  3. e2e TestOpsKitScrape: lbhc with every part enabled (VIP in a network
#     namespace, check, hook, AWS actions against cloud/cloudtest, peer
#     channel with failsafe on the namespace's loopback) is scraped.
#  4. tools/opscheck (its own Go module): every PromQL expression in the
#     dashboard and the rules parses with Prometheus's parser and names only
#     metrics (and matcher labels) in that scrape; every alert's runbook
#     anchor exists in README.md; every flag and LBHC_* variable in the shipped
#     files exists in the image's binary; the bash completion works.
#
# Prints the image and binary sizes (BENCHMARKS.md "Container image").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

fail() {
	echo "test_opskit: FAIL: $*" >&2
	exit 1
}
skip() {
	echo "test_opskit: SKIP: $*" >&2
	exit 77
}
ok() { echo "ok   $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, image store, chroot); run: sudo $0"
for tool in promtool buildah curl ss; do
	command -v "$tool" >/dev/null || skip "$tool not found (Debian: apt-get install prometheus buildah curl iproute2; scripts/test.sh installs them)"
done

work=$(mktemp -d /var/tmp/lbhc-opskit.XXXXXX)
store=(--root "$work/store" --runroot "$work/run" --storage-driver vfs)
ctr= ro=
cleanup() {
	[ -n "$ro" ] && { umount "$ro/var/lib/lbhc" 2>/dev/null; umount "$ro" 2>/dev/null; }
	[ -n "$ctr" ] && buildah "${store[@]}" rm "$ctr" >/dev/null 2>&1
	buildah "${store[@]}" rmi --all --force >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# --- 1. alert and recording rules ----------------------------------------------------
(cd packaging/prometheus && promtool check rules lbhc-rules.yaml) >"$work/promtool.log" 2>&1 ||
	{ cat "$work/promtool.log" >&2; fail "promtool check rules"; }
(cd packaging/prometheus && promtool test rules lbhc-rules.test.yaml) >"$work/promtool.log" 2>&1 ||
	{ cat "$work/promtool.log" >&2; fail "promtool test rules"; }
ok "promtool check rules + test rules ($(grep -c 'alert:' packaging/prometheus/lbhc-rules.yaml) alerts, $(grep -c 'record:' packaging/prometheus/lbhc-rules.yaml) recording rules)"

# --- 2. container image ------------------------------------------------------------
# shellcheck source=scripts/lib/stamp.sh
source scripts/lib/stamp.sh
img=localhost/lbhc-opskit:test
LBHC_IMAGE_BUILDER=buildah LBHC_BUILDAH_OPTS="${store[*]}" scripts/image.sh "$img" >"$work/build.log" 2>&1 ||
	{ tail -30 "$work/build.log" >&2; fail "scripts/image.sh"; }
inspect() { buildah "${store[@]}" inspect --type image --format "$1" "$img"; }
# (buildah's --format is a Go template without "json": slices print as [a b].)
[ "$(inspect '{{.OCIv1.Config.Entrypoint}}')" = '[/usr/bin/lbhc]' ] || fail "entrypoint $(inspect '{{.OCIv1.Config.Entrypoint}}')"
[ "$(inspect '{{.OCIv1.Config.Cmd}}')" = '[run]' ] || fail "cmd $(inspect '{{.OCIv1.Config.Cmd}}')"
# Root on purpose (capabilities; see packaging/Dockerfile): explicit, not a default.
[ "$(inspect '{{.OCIv1.Config.User}}')" = 0:0 ] || fail "user $(inspect '{{.OCIv1.Config.User}}'), want the documented 0:0"
[ "$(inspect '{{.OCIv1.Config.StopSignal}}')" = SIGTERM ] || fail "stop signal"
inspect '{{.OCIv1.Config.ExposedPorts}}' | grep -q '26001/tcp' || fail "26001/tcp not exposed"
label() { inspect "{{index .OCIv1.Config.Labels \"org.opencontainers.image.$1\"}}"; }
[ "$(label version)" = "$VERSION" ] || fail "label version $(label version), want $VERSION"
[ "$(label revision)" = "$COMMIT" ] || fail "label revision $(label revision), want $COMMIT"
[ "$(label title)" = lbhc ] && [ -n "$(label source)" ] && [ -n "$(label licenses)" ] || fail "labels $(inspect '{{.OCIv1.Config.Labels}}')"
ok "image: entrypoint /usr/bin/lbhc, cmd run, user 0:0, SIGTERM, 26001/tcp, OCI labels version=$VERSION"

ctr=$(buildah "${store[@]}" from "$img")
mnt=$(buildah "${store[@]}" mount "$ctr")
files=$(cd "$mnt" && find . -type f -o -type l | sort | tr '\n' ' ')
[ "$files" = "./etc/ssl/certs/ca-certificates.crt ./usr/bin/lbhc " ] || fail "image files: $files"
cmp -s "$mnt/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt || fail "CA bundle differs from the host's"
[ -d "$mnt/var/lib/lbhc" ] || fail "no /var/lib/lbhc (default --state-dir)"
bin_size=$(stat -c %s "$mnt/usr/bin/lbhc")
rootfs_size=$(du -sb "$mnt" | cut -f1)
buildah "${store[@]}" push --quiet "$img" "oci-archive:$work/image.tar" >/dev/null
layer_gz=$(tar -xOf "$work/image.tar" --wildcards 'blobs/sha256/*' | wc -c)
# Nothing but the binary and the bundle: at most 1 MiB over their sum.
((rootfs_size < bin_size + 219597 * 2 + 1048576)) || fail "root filesystem $rootfs_size bytes, binary $bin_size"
ok "image size: root filesystem $rootfs_size bytes (binary $bin_size), OCI archive blobs (gzip layer, config, manifest) $layer_gz bytes"

# Run from the image's filesystem, read-only as in the DaemonSet
# (readOnlyRootFilesystem), in a chroot: no container runtime.
# The state directory is a writable volume, as in compose.yaml and the
# DaemonSet.
ro=$work/ro
state=$work/state
mkdir "$ro" "$state"
mount --bind "$mnt" "$ro"
mount -o remount,bind,ro "$ro"
mount --bind "$state" "$ro/var/lib/lbhc"
out=$(chroot "$ro" /usr/bin/lbhc version)
case $out in "lbhc $VERSION (commit $COMMIT,"*) ;; *) fail "lbhc version from the image: $out" ;; esac
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((40000 + RANDOM % 20000))
		ss -Htln "sport = :$p" | grep -q . || {
			echo "$p"
			return
		}
	done
	fail "no free port"
}
probe=$(free_port)
admin=$(free_port)
chroot "$ro" /usr/bin/lbhc run --election none --node-id image-test --probe-port "$probe" \
	--admin-address "127.0.0.1:$admin" >"$work/run.log" 2>&1 &
pid=$!
opened=
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$probe") 2>/dev/null; then
		opened=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$opened" ] || {
	cat "$work/run.log" >&2
	kill "$pid" 2>/dev/null
	fail "probe port $probe never answered"
}
role=$(curl -sf "http://127.0.0.1:$admin/status" | sed -n 's/^ *"role": "\(.*\)",$/\1/p')
[ "$role" = leader ] || {
	kill "$pid"
	fail "/status role '$role'"
}
# The image's own client: standby writes its flag to the state volume.
chroot "$ro" /usr/bin/lbhc standby >"$work/standby.log" 2>&1 ||
	{ cat "$work/standby.log" >&2; kill "$pid"; fail "lbhc standby from the image"; }
[ -f "$state/standby" ] || { kill "$pid"; fail "standby flag not written to the state volume"; }
chroot "$ro" /usr/bin/lbhc resume >"$work/standby.log" 2>&1 ||
	{ cat "$work/standby.log" >&2; kill "$pid"; fail "lbhc resume from the image"; }
kill -TERM "$pid"
rc=0
timeout 20 tail --pid="$pid" -f /dev/null || fail "lbhc did not stop within 20 s of SIGTERM"
wait "$pid" || rc=$?
[ "$rc" = 0 ] || {
	cat "$work/run.log" >&2
	fail "lbhc exited $rc after SIGTERM"
}
if (exec 3<>"/dev/tcp/127.0.0.1/$probe") 2>/dev/null; then fail "probe port still open after exit"; fi
ok "from the image's read-only root: lbhc version; run --election none answered probe port $probe as leader, standby/resume through the state volume, exit 0 on SIGTERM"

# --- 3. a scrape of lbhc with every part -------------------------------------------
LBHC_OPSKIT_SCRAPE=$work/scrape.txt go test -count=1 -run '^TestOpsKitScrape$' ./e2e/ >"$work/scrape.log" 2>&1 ||
	{ tail -60 "$work/scrape.log" >&2; fail "e2e TestOpsKitScrape"; }
[ -s "$work/scrape.txt" ] || { cat "$work/scrape.log" >&2; fail "no scrape written"; }
ok "scraped lbhc with VIP, check, hook, route53/ec2-route/eip, peers/failsafe: $(grep -vc '^#' "$work/scrape.txt") samples"

# --- 4. dashboard/rules metric names, shipped flags --------------------------------
(cd tools/opscheck && go vet ./... && LBHC_REQUIRE_INTEGRATION=1 LBHC_OPSKIT_SCRAPE=$work/scrape.txt LBHC_OPSKIT_BIN=$ro/usr/bin/lbhc \
	go test -count=1 -v ./... >"$work/opscheck.log" 2>&1) ||
	{ grep -v '^=== RUN' "$work/opscheck.log" >&2; fail "tools/opscheck"; }
grep -E 'expressions|command lines' "$work/opscheck.log" | sed 's/^ */     /'
ok "tools/opscheck: dashboard + rules against the scrape, runbook anchors; shipped files against the image's binary"
echo "test_opskit: all checks passed"
