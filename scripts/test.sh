#!/usr/bin/env bash
# scripts/test.sh — install what lbhc's tests need, start the backend servers
# on free loopback ports, and run every check and test.
#
#   scripts/test.sh              full run: gofmt, vet (linux + windows), windows
#                                build, go.mod tidiness, go test ./..., then
#                                scripts/test_packaging.sh and scripts/e2e/test_*.sh
#   scripts/test.sh CMD [ARG...] install + start the servers, run CMD with the
#                                LBHC_TEST_* variables set, stop the servers,
#                                exit with CMD's status; e.g.
#                                scripts/test.sh go test -count=1 -run Conformance ./election/...
#
# Environment:
#   LBHC_REQUIRE_INTEGRATION=1  a prerequisite that cannot be installed or started
#                               fails the run (CI); otherwise it is a warning and the
#                               tests that need it skip with a message
#   LBHC_TOOLS_DIR              where the npm servers and fake-gcs-server are installed (default
#                               /var/tmp/lbhc-tools; outside the repo, kept across runs)
#   LBHC_GO_TEST_FLAGS          extra flags for go test in a full run (e.g. -race)
#   LBHC_SCRIPT_TIMEOUT         seconds each packaging/e2e script may run (default 600)
#   LBHC_FUZZ_TIME              how long each Go fuzz target runs (default 5s)
#
# Exported to tests (see package itest): LBHC_TEST_AZURITE_CONNECTION_STRING,
# LBHC_TEST_AZURITE_CMD, LBHC_TEST_DYNAMODB_ENDPOINT, LBHC_TEST_DYNALITE_CMD,
# LBHC_TEST_GCS_ENDPOINT, LBHC_TEST_FAKE_GCS_CMD, LBHC_TEST_ETCD_ENDPOINTS, LBHC_TEST_ETCD_BIN, LBHC_TEST_HAPROXY,
# LBHC_TEST_KEEPALIVED, LBHC_TEST_SOCAT.
#
# Convention for end-to-end scripts: scripts/e2e/test_*.sh run from the repo
# root with the variables above set; exit 0 = passed, 77 = skipped (a failure
# under LBHC_REQUIRE_INTEGRATION=1), anything else = failed (124: killed at
# LBHC_SCRIPT_TIMEOUT). Scripts and steps get /dev/null as stdin.
#
# The last line is "N passed, N failed" counting the checks, the go test
# packages and the scripts; the exit status is non-zero when anything failed.
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LBHC_SCRIPT_NAME=test.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/install.sh
source scripts/lib/install.sh
# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh
# shellcheck source=scripts/lib/phases.sh
source scripts/lib/phases.sh

export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lbhc-test.XXXXXX")
FAILED_ANY=0
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	phase_summary # no-op when the full run already printed it
	services_stop
	if ((rc != 0 || FAILED_ANY != 0)); then
		services_tail_logs
		log "logs kept in $RUN_DIR"
	else
		rm -rf "$RUN_DIR"
	fi
	exit "$rc"
}
# Steps of the full run go through step(): each runs in its own process group
# (job control on just for the fork), and the script waits for it with the
# wait builtin, which a signal interrupts at once. So a SIGTERM to this script
# alone (a CI timeout) or a Ctrl-C stops the step's whole group — go test and
# its test binaries — and then the servers, without waiting for the step.
STEP_PGID=
# With STEP_OUT set, the step's output goes to that file (the trap's own
# messages still reach the terminal).
step() {
	set -m
	if [[ -n ${STEP_OUT:-} ]]; then
		"$@" </dev/null >"$STEP_OUT" 2>&1 &
	else
		"$@" </dev/null &
	fi
	STEP_PGID=$!
	set +m
	local rc=0
	wait "$STEP_PGID" || rc=$?
	STEP_PGID=
	return "$rc"
}
on_signal() { # on_signal NAME EXIT_STATUS
	log "$1: stopping"
	if [[ -n $STEP_PGID ]]; then
		kill -"$1" -- "-$STEP_PGID" 2>/dev/null || true
		local i
		for ((i = 0; i < 100; i++)); do # up to 10 s for a clean exit
			kill -0 -- "-$STEP_PGID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$STEP_PGID" 2>/dev/null || true
	fi
	exit "$2"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

# --- 1. prerequisites ---
phase prerequisites
apt_install "${LBHC_APT_PACKAGES[@]}"
npm_tools_install "$REPO"
go_tools_install

# --- 2. servers ---
phase servers
services_init "$RUN_DIR/services"
start_azurite
start_dynalite
start_fake_gcs
start_etcd
export_binaries

if (($# > 0)); then
	phase "command: $*"
	rc=0
	"$@" || rc=$?
	exit "$rc"
fi

# --- 3. checks and tests ---
LBHC_SCRIPT_TIMEOUT=${LBHC_SCRIPT_TIMEOUT:-600}
PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()

record() { # record NAME STATUS(pass|fail|skip)
	case $2 in
	pass) PASSED=$((PASSED + 1)) ;;
	skip) SKIPPED=$((SKIPPED + 1)) ;;
	*)
		FAILED=$((FAILED + 1))
		FAILED_ANY=1
		FAILED_NAMES+=("$1")
		;;
	esac
}

# check NAME CMD...: run a check quietly; on failure print its output.
check() {
	local name=$1 out=$RUN_DIR/check-${1//[^a-zA-Z0-9]/_}.log
	shift
	log "check: $name"
	if STEP_OUT=$out step "$@"; then
		record "$name" pass
	else
		cat "$out" >&2
		record "$name" fail
	fi
}

gofmt_check() {
	local files
	files=$(find . -name '*.go' -not -path './.git/*' -not -path './.cache/*' -print0 |
		xargs -0 -r gofmt -l)
	if [[ -n $files ]]; then
		echo "gofmt needed on:"
		echo "$files"
		return 1
	fi
}

phase checks
check "gofmt" gofmt_check
check "go vet" go vet ./...
check "go vet -tags bench (benchmark harnesses)" go vet -tags bench ./scripts/bench/...
check "GOOS=windows go vet" env GOOS=windows go vet ./...
check "GOOS=windows go build" env GOOS=windows go build ./...
if [[ -d internal/deps ]]; then
	log "check: go mod tidy -diff skipped (internal/deps pins dependencies until the lead removes it)"
else
	check "go mod tidy -diff" go mod tidy -diff
fi

# Native fuzz targets: every func Fuzz* in a _test.go file runs for
# LBHC_FUZZ_TIME (default 5s: twelve targets, about a minute and a half with
# their builds, inside the CI budget). A failing input is written to the package's
# testdata/fuzz/<Target>/ — commit it: plain go test runs it from then on as
# a regression input.
fuzz_check() {
	local f dir name rc=0
	while IFS= read -r f; do
		dir=$(dirname "$f")
		for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
			echo "fuzz $dir $name"
			go test -run '^$' -fuzz "^${name}\$" -fuzztime "${LBHC_FUZZ_TIME:-5s}" "$dir" || rc=1
		done
	done < <(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^\./\.git/' | sort)
	return $rc
}
check "go fuzz (bounded)" fuzz_check

# go test: one result per package. tools/testreport shows the usual
# non-verbose output plus every skipped test with its reason; if it cannot be
# built, plain go test output is parsed instead.
phase "go test"
log "go test -count=1 -timeout 15m ${LBHC_GO_TEST_FLAGS:-} ./... (e2e last, alone)"
gt_rc=0
gt_results=$RUN_DIR/go-test-results.txt
: >"$gt_results"
# The end-to-end package (real processes in network namespaces, failover
# bounds measured in wall time) runs after the others, alone, so it does not
# compete with them for the machine's cores.
unit_pkgs() { go list ./... | grep -v '/e2e$'; }
go_test_json() {
	local rc=0 pkgs t0=$SECONDS
	pkgs=$(unit_pkgs)
	# shellcheck disable=SC2086
	go test -json -count=1 -timeout 15m ${LBHC_GO_TEST_FLAGS:-} $pkgs 2>&1 |
		tee "$RUN_DIR/go-test.jsonl" | "$RUN_DIR/testreport" -results "$gt_results" || rc=$?
	log "go test: other packages took $((SECONDS - t0)) s; now ./e2e/ alone"
	# shellcheck disable=SC2086
	go test -json -count=1 -timeout 15m ${LBHC_GO_TEST_FLAGS:-} ./e2e/ 2>&1 |
		tee -a "$RUN_DIR/go-test.jsonl" | "$RUN_DIR/testreport" -results "$gt_results.e2e" || rc=$?
	cat "$gt_results.e2e" >>"$gt_results"
	return "$rc"
}
go_test_plain() {
	local rc=0 pkgs t0=$SECONDS
	pkgs=$(unit_pkgs)
	# shellcheck disable=SC2086
	go test -count=1 -timeout 15m ${LBHC_GO_TEST_FLAGS:-} $pkgs 2>&1 | tee "$RUN_DIR/go-test.log" || rc=$?
	log "go test: other packages took $((SECONDS - t0)) s; now ./e2e/ alone"
	# shellcheck disable=SC2086
	go test -count=1 -timeout 15m ${LBHC_GO_TEST_FLAGS:-} ./e2e/ 2>&1 | tee -a "$RUN_DIR/go-test.log" || rc=$?
	return "$rc"
}
if go build -o "$RUN_DIR/testreport" ./tools/testreport 2>"$RUN_DIR/testreport-build.log"; then
	step go_test_json || gt_rc=$?
else
	warn "tools/testreport does not build; reading plain go test output"
	step go_test_plain || gt_rc=$?
	{
		grep -E '^ok[[:space:]]' "$RUN_DIR/go-test.log" | awk '{print "pass", $2}'
		grep -E '^FAIL[[:space:]]+[^[:space:]]' "$RUN_DIR/go-test.log" | awk '{print "fail", $2}'
	} >"$gt_results" || true
fi
gt_failed=0
while read -r status pkg; do
	case $status in
	pass) record "go test $pkg" pass ;;
	fail)
		record "go test $pkg" fail
		gt_failed=$((gt_failed + 1))
		;;
	esac
done <"$gt_results"
if ((gt_rc != 0 && gt_failed == 0)); then
	record "go test (exit $gt_rc)" fail
fi

# Scripts: packaging test and end-to-end tests.
run_script() {
	local f=$1 rc=0
	phase "script $f"
	step timeout -k 10 "$LBHC_SCRIPT_TIMEOUT" bash "$f" || rc=$?
	case $rc in
	0) record "$f" pass ;;
	77)
		if strict; then
			log "$f skipped, which fails the run under LBHC_REQUIRE_INTEGRATION=1"
			record "$f (skipped)" fail
		else
			log "$f skipped"
			record "$f" skip
		fi
		;;
	*) record "$f (exit $rc)" fail ;;
	esac
}
if [[ -f scripts/test_packaging.sh ]]; then
	run_script scripts/test_packaging.sh
fi
shopt -s nullglob
for f in scripts/e2e/test_*.sh; do
	run_script "$f"
done
shopt -u nullglob

for n in "${FAILED_NAMES[@]}"; do
	log "FAILED: $n"
done
((SKIPPED > 0)) && log "$SKIPPED script(s) skipped"
phase_summary
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
