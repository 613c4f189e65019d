# shellcheck shell=bash
# Installs what lbhc's tests need, idempotently: Debian packages through apt,
# the npm-packaged servers (Azurite, dynalite) at the versions pinned in
# tools/package-lock.json, and the Go-built GCS emulator (fake-gcs-server, at
# LBHC_FAKE_GCS_VERSION) into $LBHC_TOOLS_DIR. Needs common.sh.

# Debian packages the tests use: etcd for the etcd backend, HAProxy as the real
# load balancer in end-to-end tests, keepalived as the benchmark peer, socat
# for the probe benchmark, iproute2 (ss, ip) for ports and namespaces,
# gnuplot for benchmark plots, curl for readiness checks; prometheus for
# promtool (rule checks and rule unit tests) and buildah (the container image,
# scripts/e2e/test_opskit.sh); Wine (wine, wine64) and mingw-w64 to run the
# Windows build (scripts/e2e/test_windows_wine.sh).
# shellcheck disable=SC2034 # used by scripts/test.sh
LBHC_APT_PACKAGES=(etcd-server etcd-client haproxy keepalived socat iproute2 gnuplot-nox curl)
LBHC_APT_PACKAGES+=(prometheus buildah)
LBHC_APT_PACKAGES+=(wine wine64 gcc-mingw-w64-x86-64-win32)

LBHC_TOOLS_DIR=${LBHC_TOOLS_DIR:-/var/tmp/lbhc-tools}

# apt_missing PKG...: print the packages that are not installed.
apt_missing() {
	local p
	for p in "$@"; do
		if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
			echo "$p"
		fi
	done
}

# apt_install PKG...: install the packages that are missing; apt-get update runs
# once, and only when something is missing. Service start-up by the packages'
# maintainer scripts is denied (a stray etcd on 2379 would outlive the run).
apt_install() {
	local missing
	mapfile -t missing < <(apt_missing "$@")
	((${#missing[@]} == 0)) && return 0
	if ((EUID != 0)); then
		missing_prereq "Debian packages missing (${missing[*]}) and not root: install them with apt-get"
		return 0
	fi
	log "installing Debian packages: ${missing[*]}"
	local policy=/usr/sbin/policy-rc.d made_policy=
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	local rc=0 out
	out=$(mktemp)
	# DPkg::Lock::Timeout waits (seconds) for a concurrent apt run instead of failing.
	{
		apt-get -o DPkg::Lock::Timeout=300 update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
				--no-install-recommends "${missing[@]}"
	} >"$out" 2>&1 || rc=$?
	[[ -n $made_policy ]] && rm -f "$policy"
	if ((rc != 0)); then
		tail -n 20 "$out" >&2
		rm -f "$out"
		missing_prereq "apt-get install ${missing[*]} failed (exit $rc)"
		return 0
	fi
	rm -f "$out"
	mapfile -t missing < <(apt_missing "$@")
	if ((${#missing[@]} > 0)); then
		missing_prereq "Debian packages still missing after install: ${missing[*]}"
	fi
}

# npm_tools_install: install tools/package.json's pinned servers into
# $LBHC_TOOLS_DIR/npm with npm ci. A stamp (lockfile hash + Node version,
# since dynalite's LevelDB binding is built for one Node ABI) makes later runs
# a no-op; npm's cache sits beside it, so a reinstall downloads nothing new.
# flock serialises concurrent runs on one machine.
npm_tools_install() {
	local repo=$1
	local lock=$repo/tools/package-lock.json dir=$LBHC_TOOLS_DIR/npm
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		apt_install nodejs
		command -v npm >/dev/null || apt_install npm
	fi
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		missing_prereq "node/npm not found: cannot install Azurite and dynalite"
		return 0
	fi
	mkdir -p "$dir"
	local stamp
	stamp="$(sha256sum "$lock" | cut -d' ' -f1) node-$(node --version)"
	(
		flock -w 600 9 || die "timed out waiting for $LBHC_TOOLS_DIR/.lock"
		if [[ -f $dir/.stamp && "$(cat "$dir/.stamp")" == "$stamp" &&
			-x $dir/node_modules/.bin/azurite-blob && -x $dir/node_modules/.bin/dynalite ]]; then
			exit 0
		fi
		log "installing Azurite and dynalite (pinned in tools/package-lock.json) into $dir"
		cp "$repo/tools/package.json" "$lock" "$dir/"
		rm -f "$dir/.stamp"
		local out
		out=$(mktemp)
		if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error \
			--cache "$LBHC_TOOLS_DIR/npm-cache") >"$out" 2>&1; then
			tail -n 20 "$out" >&2
			rm -f "$out"
			exit 1
		fi
		rm -f "$out"
		echo "$stamp" >"$dir/.stamp"
	) 9>"$LBHC_TOOLS_DIR/.lock" || missing_prereq "npm ci in $dir failed"
}

# The Cloud Storage emulator (github.com/fsouza/fake-gcs-server), a Go
# program: installed with go install into $LBHC_TOOLS_DIR/bin, never through
# lbhc's go.mod (its dependency tree is the official storage client's).
LBHC_FAKE_GCS_VERSION=v1.56.1

fake_gcs_bin() { echo "$LBHC_TOOLS_DIR/bin/fake-gcs-server"; }

# go_tools_install: go install fake-gcs-server at the pinned version. A stamp
# with the version makes later runs a no-op; flock serialises concurrent runs.
go_tools_install() {
	if ! command -v go >/dev/null; then
		missing_prereq "go not found: cannot install fake-gcs-server"
		return 0
	fi
	mkdir -p "$LBHC_TOOLS_DIR/bin"
	local stamp=$LBHC_TOOLS_DIR/bin/.fake-gcs-server.version
	(
		flock -w 600 9 || die "timed out waiting for $LBHC_TOOLS_DIR/.lock-go"
		if [[ -x $(fake_gcs_bin) && -f $stamp && "$(cat "$stamp")" == "$LBHC_FAKE_GCS_VERSION" ]]; then
			exit 0
		fi
		log "installing fake-gcs-server $LBHC_FAKE_GCS_VERSION into $LBHC_TOOLS_DIR/bin"
		local out
		out=$(mktemp)
		# Outside the repository and with GOFLAGS cleared, so lbhc's go.mod
		# and its flags play no part.
		if ! (cd / && GOFLAGS='' GOBIN="$LBHC_TOOLS_DIR/bin" \
			go install "github.com/fsouza/fake-gcs-server@$LBHC_FAKE_GCS_VERSION") >"$out" 2>&1; then
			tail -n 20 "$out" >&2
			rm -f "$out"
			exit 1
		fi
		rm -f "$out"
		echo "$LBHC_FAKE_GCS_VERSION" >"$stamp"
	) 9>"$LBHC_TOOLS_DIR/.lock-go" || missing_prereq "go install fake-gcs-server failed"
}
