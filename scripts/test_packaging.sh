#!/usr/bin/env bash
# test_packaging.sh — test the shipped artefacts end to end (scripts/test.sh
# runs it; as root, like CI). Exits non-zero on the first failure.
#
#  1. scripts/release.sh: all release binaries, SHA256SUMS, `lbhc version`
#     stamp, static + trimpath build settings; then a second release build
#     from a copy of the tree at another path must be byte-identical.
#  2. scripts/package.sh: .deb and .rpm; exact file lists, modes, conffiles,
#     metadata; the packaged binary is the release binary; a second run from
#     the other path gives byte-identical packages.
#  3. Installs the .deb with dpkg into a throwaway Debian root (debootstrap
#     minbase + systemd, cached as a tarball in $LBHC_TOOLS_DIR), runs
#     `lbhc version` and the bash completion from it, verifies the installed
#     units with `systemd-analyze --root=... verify`, checks user, state
#     dir and that nothing was enabled; then remove (conffile kept) and
#     purge (all gone). The same for the .rpm with rpm --root.
#  4. Container and Kubernetes files: the Dockerfile is one stage FROM
#     scratch running lbhc (scripts/e2e/test_opskit.sh builds and runs the
#     image); YAML parses.
#
# Environment:
#   LBHC_REQUIRE_INTEGRATION=1  a missing prerequisite fails instead of skipping
#   LBHC_TOOLS_DIR              cache dir (default /var/tmp/lbhc-tools)
#   LBHC_DEBIAN_MIRROR          default http://deb.debian.org/debian
#   LBHC_RELEASE_TARGETS        default "linux/amd64 linux/arm64 windows/amd64"
#                               (must include linux/amd64)
#   LBHC_TEST_REPRO_FRESH_CACHE=1  second build with an empty GOCACHE too
#                                  (slow: recompiles every dependency)
#
# Network: only what is not already cached, and the script prints which at
# the start: apt for dpkg, rpm, debootstrap, systemd, git when missing; the
# Debian mirror for the debootstrap root (once; cached as a tarball in
# $LBHC_TOOLS_DIR); the Go module proxy for nfpm (scripts/package.sh runs it
# with `go run`) and any module of go.mod not in the module cache. With all
# of those cached it needs no network.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

fail() {
	echo "test_packaging: FAIL: $*" >&2
	exit 1
}
skip() {
	if [ "${LBHC_REQUIRE_INTEGRATION:-}" = 1 ]; then
		fail "$* (required: LBHC_REQUIRE_INTEGRATION=1)"
	fi
	echo "test_packaging: SKIP: $*" >&2
	exit 77 # test.sh counts 77 as skipped
}
ok() { echo "ok   $*"; }

[ "$(id -u)" = 0 ] || skip "needs root for dpkg --root and chroot; run: sudo scripts/test_packaging.sh"
grep -q '^func main()' ./*.go 2>/dev/null || skip "package main has no func main() yet"

# --- prerequisites (installed once, quietly) ---------------------------------
need=()
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v rpm >/dev/null || need+=(rpm)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v git >/dev/null || need+=(git)
# Say up front what this run will fetch, so a run without network is not a
# surprise.
net=()
[ ${#need[@]} -gt 0 ] && net+=("apt (${need[*]})")
[ -s "${LBHC_TOOLS_DIR:-/var/tmp/lbhc-tools}/debootstrap-bookworm-minbase-systemd-$(dpkg --print-architecture 2>/dev/null || echo amd64).tar.gz" ] ||
	net+=("the Debian mirror ${LBHC_DEBIAN_MIRROR:-http://deb.debian.org/debian} (debootstrap, once)")
nfpm_mod=$(sed -n 's/^NFPM=\(.*\)\/cmd\/nfpm@\(.*\)$/\1@\2/p' scripts/package.sh)
[ -d "$(go env GOMODCACHE 2>/dev/null)/${nfpm_mod:-none}" ] || net+=("the Go module proxy $(go env GOPROXY 2>/dev/null) (${nfpm_mod:-nfpm} for scripts/package.sh)")
if [ ${#net[@]} -gt 0 ]; then
	printf 'test_packaging: needs from the network: %s\n' "$(IFS=';'; echo "${net[*]}" | sed 's/;/; /g')" >&2
else
	echo "test_packaging: needs nothing from the network (all cached)" >&2
fi
if [ ${#need[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || skip "missing ${need[*]} and no apt-get to install them"
	echo "test_packaging: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/tmp/lbhc-test-packaging-apt.log 2>&1 ||
		{
			tail -20 /tmp/lbhc-test-packaging-apt.log >&2
			skip "apt-get install ${need[*]} failed"
		}
fi

work=$(mktemp -d /var/tmp/lbhc-pkgtest.XXXXXX)
trap 'rm -rf "$work"' EXIT

# One stamp for every build in this run; the builds below run from
# snapshots of the tree (other people edit it meanwhile), without .git.
VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
export VERSION COMMIT SOURCE_DATE_EPOCH
stamp_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
want_version="lbhc $VERSION (commit $COMMIT, built $stamp_date)"

snap=$work/a/lbhc
mkdir -p "$snap" "$work/b/other/path"
tar -C "$root" --exclude=./.git --exclude=./dist --exclude=./.cache -cf - . | tar -C "$snap" -xf -
cp -a "$snap" "$work/b/other/path/lbhc-copy"
snap2=$work/b/other/path/lbhc-copy

# --- 1. release binaries, reproducibility ---------------------------------------
"$snap/scripts/release.sh" "$work/rel1" >"$work/rel1.log" 2>&1 || {
	tail -30 "$work/rel1.log" >&2
	fail "scripts/release.sh"
}
(cd "$work/rel1" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match the binaries"
targets=${LBHC_RELEASE_TARGETS:-"linux/amd64 linux/arm64 windows/amd64"}
case " $targets " in *" linux/amd64 "*) ;; *) fail "LBHC_RELEASE_TARGETS must include linux/amd64 (the packages and the install test use it)" ;; esac
export LBHC_RELEASE_TARGETS=$targets
for t in $targets; do
	t=${t/\//_}
	[ "${t%%_*}" = windows ] && t=$t.exe
	f=$work/rel1/lbhc_${VERSION}_$t
	[ -f "$f" ] || fail "release.sh did not build $(basename "$f")"
	grep -q " lbhc_${VERSION}_$t\$" "$work/rel1/SHA256SUMS" || fail "SHA256SUMS lacks $(basename "$f")"
	info=$(go version -m "$f")
	for want in "CGO_ENABLED=0" "-trimpath=true" "GOOS=${t%%_*}"; do
		grep -qF -- "$want" <<<"$info" || fail "$(basename "$f"): build info lacks '$want'"
	done
	[ -z "$(go tool buildid "$f")" ] || fail "$(basename "$f"): build ID not empty: $(go tool buildid "$f")"
	# -trimpath keeps -ldflags out of the build info: look for the stamp.
	for want in "$COMMIT" "$stamp_date"; do
		grep -qaF -- "$want" "$f" || fail "$(basename "$f"): '$want' not stamped in"
	done
done
ok "release.sh: $targets; SHA256SUMS verifies; CGO_ENABLED=0, -trimpath, empty build ID, stamp present"
bin=$work/rel1/lbhc_${VERSION}_linux_amd64
got=$("$bin" version)
[ "$got" = "$want_version" ] || fail "lbhc version: got '$got', want '$want_version'"
for f in "$work"/rel1/*.exe; do
	[ -e "$f" ] || continue
	[ "$(head -c2 "$f")" = MZ ] || fail "$(basename "$f") is not a PE file"
done
ok "lbhc version: $got"

repro_env=()
if [ "${LBHC_TEST_REPRO_FRESH_CACHE:-}" = 1 ]; then
	repro_env=(GOCACHE="$work/gocache")
fi
env "${repro_env[@]}" "$snap2/scripts/release.sh" "$work/rel2" >"$work/rel2.log" 2>&1 || {
	tail -30 "$work/rel2.log" >&2
	fail "second scripts/release.sh"
}
diff -u "$work/rel1/SHA256SUMS" "$work/rel2/SHA256SUMS" >&2 ||
	fail "release builds are not reproducible (second build from $snap2${repro_env:+, empty GOCACHE})"
ok "reproducible: second release build from another path${repro_env:+ with an empty GOCACHE} is byte-identical"

# --- 2. packages -------------------------------------------------------------------
LBHC_PKG_ARCHS=amd64 "$snap/scripts/package.sh" "$work/pkg" >"$work/pkg.log" 2>&1 || {
	tail -30 "$work/pkg.log" >&2
	fail "scripts/package.sh"
}
debs=("$work"/pkg/lbhc_*_amd64.deb)
rpms=("$work"/pkg/lbhc-*.x86_64.rpm)
if [ ${#debs[@]} != 1 ] || [ ! -f "${debs[0]}" ]; then
	fail "want one amd64 .deb in $work/pkg, have: $(ls "$work/pkg")"
fi
if [ ${#rpms[@]} != 1 ] || [ ! -f "${rpms[0]}" ]; then
	fail "want one x86_64 .rpm in $work/pkg, have: $(ls "$work/pkg")"
fi
deb=${debs[0]} rpmf=${rpms[0]}

pkgver=$(dpkg-deb -f "$deb" Version)
[ "$(dpkg-deb -f "$deb" Package)" = lbhc ] || fail "deb Package field"
[ "$(dpkg-deb -f "$deb" Architecture)" = amd64 ] || fail "deb Architecture field"
case $pkgver in [0-9]*-1) ;; *) fail "deb Version '$pkgver' is not <digit...>-1" ;; esac
[ -z "$(dpkg-deb -f "$deb" Depends)" ] || fail "static binary, but the deb has Depends: $(dpkg-deb -f "$deb" Depends)"

want_deb="-rw------- ./etc/default/lbhc
-rw-r--r-- ./usr/lib/systemd/system/lbhc.service
-rw-r--r-- ./usr/lib/systemd/system/lbhc@.service
-rw-r--r-- ./usr/share/bash-completion/completions/lbhc
-rw-r--r-- ./usr/share/doc/lbhc/SCENARIOS.md
-rw-r--r-- ./usr/share/doc/lbhc/copyright
-rw-r--r-- ./usr/share/doc/lbhc/lbhc.env.example
-rw-r--r-- ./usr/share/zsh/vendor-completions/_lbhc
-rwxr-xr-x ./usr/bin/lbhc"
got_deb=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $1, $6}' | sort)
[ "$got_deb" = "$(sort <<<"$want_deb")" ] || {
	diff -u <(sort <<<"$want_deb") <(echo "$got_deb") >&2 || true
	fail "deb file list differs"
}
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/default/lbhc ] || fail "deb conffiles: $(dpkg-deb -I "$deb" conffiles)"
for s in postinst prerm postrm; do
	dpkg-deb -I "$deb" "$s" >/dev/null || fail "deb has no $s script"
done
dpkg-deb -x "$deb" "$work/debx"
cmp -s "$work/debx/usr/bin/lbhc" "$bin" || fail "the deb's /usr/bin/lbhc is not the release binary"
cmp -s "$work/debx/usr/lib/systemd/system/lbhc.service" "$snap/systemd/lbhc.service" || fail "packaged lbhc.service differs from systemd/"
ok "deb $(basename "$deb"): files, modes, conffile, scripts; binary identical to the release build"

want_rpm="-rw------- /etc/default/lbhc
-rw-r--r-- /usr/lib/systemd/system/lbhc.service
-rw-r--r-- /usr/lib/systemd/system/lbhc@.service
-rw-r--r-- /usr/share/bash-completion/completions/lbhc
-rw-r--r-- /usr/share/doc/lbhc/SCENARIOS.md
-rw-r--r-- /usr/share/doc/lbhc/lbhc.env.example
-rw-r--r-- /usr/share/licenses/lbhc/LICENSE
-rw-r--r-- /usr/share/zsh/site-functions/_lbhc
-rwxr-xr-x /usr/bin/lbhc"
got_rpm=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpmf" 2>/dev/null | grep -v '^d' | sort)
[ "$got_rpm" = "$(sort <<<"$want_rpm")" ] || {
	diff -u <(sort <<<"$want_rpm") <(echo "$got_rpm") >&2 || true
	fail "rpm file list differs"
}
[ "$(rpm -qcp "$rpmf" 2>/dev/null)" = /etc/default/lbhc ] || fail "rpm config files: $(rpm -qcp "$rpmf")"
[ "$(rpm -qLp "$rpmf" 2>/dev/null)" = /usr/share/licenses/lbhc/LICENSE ] || fail "rpm %license: $(rpm -qLp "$rpmf")"
[ "$(rpm -qp --qf '%{NAME} %{ARCH} %{LICENSE}' "$rpmf" 2>/dev/null)" = "lbhc x86_64 Apache-2.0" ] || fail "rpm metadata: $(rpm -qp --qf '%{NAME} %{ARCH} %{LICENSE}' "$rpmf")"
rpm -qp --scripts "$rpmf" 2>/dev/null | grep -q 'useradd --system' || fail "rpm has no postinstall scriptlet"
ok "rpm $(basename "$rpmf"): files, modes, %config, %license, metadata, scriptlets"

LBHC_PKG_ARCHS=amd64 "$snap2/scripts/package.sh" "$work/pkg2" >"$work/pkg2.log" 2>&1 || {
	tail -30 "$work/pkg2.log" >&2
	fail "second scripts/package.sh"
}
for f in "$deb" "$rpmf"; do
	cmp -s "$f" "$work/pkg2/$(basename "$f")" || fail "$(basename "$f") is not reproducible (second package.sh from $snap2 differs)"
done
ok "reproducible: second package.sh from another path gives byte-identical .deb and .rpm"

# --- 3. install into a throwaway Debian root -----------------------------------------
tools=${LBHC_TOOLS_DIR:-/var/tmp/lbhc-tools}
arch=$(dpkg --print-architecture)
base=$tools/debootstrap-bookworm-minbase-systemd-$arch.tar.gz
mkdir -p "$tools"
# Concurrent runs (e.g. CI and a developer) build the cache once: the lock
# serialises them, the tarball appears atomically.
exec 9>"$tools/.debootstrap.lock"
flock -w 900 9 || fail "timed out waiting for $tools/.debootstrap.lock"
if [ ! -s "$base" ]; then
	echo "test_packaging: creating $base (debootstrap, once)" >&2
	debootstrap --variant=minbase --include=systemd bookworm "$work/dbs" "${LBHC_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 || {
		tail -20 "$work/debootstrap.log" >&2
		skip "debootstrap failed (network to the Debian mirror?)"
	}
	tmp=$(mktemp "$base.XXXXXX")
	tar -C "$work/dbs" -czf "$tmp" . && mv "$tmp" "$base"
	rm -rf "$work/dbs"
fi
exec 9>&-
chroot_dir=$work/root
mkdir -p "$chroot_dir"
tar -C "$chroot_dir" -xzf "$base"
in_root() { chroot "$chroot_dir" "$@"; }

dpkg --root="$chroot_dir" -i "$deb" >"$work/dpkg.log" 2>&1 || {
	cat "$work/dpkg.log" >&2
	fail "dpkg -i into the throwaway root"
}
[ "$(dpkg --root="$chroot_dir" -s lbhc | sed -n 's/^Status: //p')" = "install ok installed" ] || fail "dpkg status after install"
got=$(in_root /usr/bin/lbhc version)
[ "$got" = "$want_version" ] || fail "installed lbhc version: got '$got', want '$want_version'"
ok "dpkg -i into debootstrap root; lbhc version from it: $got"

check_installed() { # $1: package format, for messages
	grep -q '^lbhc:x:[0-9]*:[0-9]*:lbhc daemon:/var/lib/lbhc:/usr/sbin/nologin$' "$chroot_dir/etc/passwd" || fail "$1: system user lbhc missing or wrong"
	[ "$(in_root stat -c '%a %U:%G' /var/lib/lbhc)" = "750 lbhc:lbhc" ] || fail "$1: /var/lib/lbhc: $(in_root stat -c '%a %U:%G' /var/lib/lbhc)"
	[ "$(in_root stat -c '%a %U:%G' /etc/default/lbhc)" = "600 root:root" ] || fail "$1: /etc/default/lbhc: $(in_root stat -c '%a %U:%G' /etc/default/lbhc)"
	if compgen -G "$chroot_dir/etc/systemd/system/*.wants/lbhc*" >/dev/null; then
		fail "$1: installing enabled the service: $(ls "$chroot_dir"/etc/systemd/system/*.wants/lbhc*)"
	fi
}
check_installed deb
ok "deb: user lbhc, /var/lib/lbhc 0750 lbhc:lbhc, /etc/default/lbhc 0600, service not enabled"

# The installed units, against the installed binary and the root's systemd.
for u in lbhc.service lbhc@web.service; do
	out=$(systemd-analyze --root="$chroot_dir" verify "$u" 2>&1) || fail "systemd-analyze verify $u: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $u warns: $out"
done
exposure=$(systemd-analyze --root="$chroot_dir" security --offline=yes --no-pager lbhc.service 2>/dev/null | sed -n 's/.*Overall exposure level for lbhc.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }' || fail "lbhc.service exposure $exposure > 3.0: hardening regressed"
ok "systemd-analyze verify lbhc.service lbhc@web.service: clean; security exposure $exposure (<= 3.0)"

# Completion, as a shell in the installed system would run it.
# shellcheck disable=SC2016 # expanded by the bash inside the root
comp=$(in_root bash -c 'source /usr/share/bash-completion/completions/lbhc
COMP_WORDS=(lbhc ""); COMP_CWORD=1; _lbhc; printf "%s\n" "${COMPREPLY[@]}"; echo --
COMP_WORDS=(lbhc run --lease-t); COMP_CWORD=2; _lbhc; printf "%s\n" "${COMPREPLY[@]}"')
for w in run status switchover standby resume version --lease-ttl; do
	grep -qx -- "$w" <<<"$comp" || fail "bash completion lacks '$w'; got: $(tr '\n' ' ' <<<"$comp")"
done
ok "bash completion from the installed file: commands and --lease-ttl"

# Configuration errors exit 2 naming the flag, before touching anything.
set +e
out=$(in_root /usr/bin/lbhc run --election bogus 2>&1)
rc=$?
set -e
[ $rc = 2 ] || fail "lbhc run --election bogus: exit $rc, want 2 ($out)"
grep -q -- '--election' <<<"$out" || fail "lbhc run --election bogus: message does not name the flag: $out"
ok "installed lbhc run --election bogus: exit 2, '$out'"

# Reinstall (idempotent scripts), remove (conffile kept), purge (all gone).
dpkg --root="$chroot_dir" -i "$deb" >"$work/dpkg.log" 2>&1 || {
	cat "$work/dpkg.log" >&2
	fail "dpkg -i (reinstall)"
}
echo 'LBHC_NODE_ID=edited' >>"$chroot_dir/etc/default/lbhc"
dpkg --root="$chroot_dir" -r lbhc >"$work/dpkg.log" 2>&1 || {
	cat "$work/dpkg.log" >&2
	fail "dpkg -r"
}
[ ! -e "$chroot_dir/usr/bin/lbhc" ] || fail "dpkg -r left /usr/bin/lbhc"
grep -q '^LBHC_NODE_ID=edited$' "$chroot_dir/etc/default/lbhc" || fail "dpkg -r did not keep the edited /etc/default/lbhc"
dpkg --root="$chroot_dir" --purge lbhc >"$work/dpkg.log" 2>&1 || {
	cat "$work/dpkg.log" >&2
	fail "dpkg --purge"
}
for p in /etc/default/lbhc /var/lib/lbhc /usr/lib/systemd/system/lbhc.service; do
	[ ! -e "$chroot_dir$p" ] || fail "dpkg --purge left $p"
done
! grep -q '^lbhc:' "$chroot_dir/etc/passwd" || fail "dpkg --purge left the lbhc user"
ok "deb reinstall, remove (edited conffile kept), purge (conffile, state dir, user removed)"

# The rpm, with rpm --root into the same (now clean) root.
rpm --root="$chroot_dir" --initdb 2>/dev/null || true
rpm --root="$chroot_dir" -i --nodeps "$rpmf" >"$work/rpm.log" 2>&1 || {
	cat "$work/rpm.log" >&2
	fail "rpm -i into the throwaway root"
}
got=$(in_root /usr/bin/lbhc version)
[ "$got" = "$want_version" ] || fail "rpm-installed lbhc version: got '$got', want '$want_version'"
cmp -s "$chroot_dir/usr/bin/lbhc" "$bin" || fail "the rpm's /usr/bin/lbhc is not the release binary"
check_installed rpm
rpm --root="$chroot_dir" -e lbhc >"$work/rpm.log" 2>&1 || {
	cat "$work/rpm.log" >&2
	fail "rpm -e"
}
[ ! -e "$chroot_dir/usr/bin/lbhc" ] || fail "rpm -e left /usr/bin/lbhc"
ok "rpm -i into the root: lbhc version, user, state dir, modes; rpm -e removes it"

# --- 4. container and Kubernetes files ---------------------------------------------
df=$snap/packaging/Dockerfile
# The image itself is built, inspected and run by scripts/e2e/test_opskit.sh.
[ "$(grep -c '^FROM ' "$df")" = 1 ] && grep -q '^FROM scratch$' "$df" || fail "Dockerfile is not one stage FROM scratch"
grep -q '^ENTRYPOINT \["/usr/bin/lbhc"\]$' "$df" || fail "Dockerfile ENTRYPOINT is not /usr/bin/lbhc"
grep -q 'scripts/image.sh' "$df" || fail "Dockerfile does not point at scripts/image.sh"
if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$snap/packaging/compose.yaml" "$snap/packaging/kubernetes/daemonset.yaml" <<'EOF' || fail "container YAML"
import sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
svc = compose["services"]["lbhc"]
assert svc["network_mode"] == "host", "compose: network_mode"
assert set(svc["cap_add"]) >= {"NET_ADMIN", "NET_RAW"}, "compose: cap_add"
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
ds = [d for d in docs if d["kind"] == "DaemonSet"][0]["spec"]["template"]["spec"]
assert ds["hostNetwork"] is True, "daemonset: hostNetwork"
caps = ds["containers"][0]["securityContext"]["capabilities"]["add"]
assert {"NET_ADMIN", "NET_RAW"} <= set(caps), "daemonset: capabilities"
EOF
	ok "Dockerfile: FROM scratch, ENTRYPOINT lbhc; compose/DaemonSet: host network + NET_ADMIN/NET_RAW"
else
	ok "Dockerfile: FROM scratch, ENTRYPOINT lbhc (YAML not parsed: no python3-yaml)"
fi

echo "test_packaging: all checks passed"
