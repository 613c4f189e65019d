#!/usr/bin/env bash
# scripts/mutation.sh — mutation testing of lbhc's safety core with
# go-gremlins/gremlins (pinned below), one package at a time.
#
#   scripts/mutation.sh              election, probe and agent (about 30–60 min on 2 busy cores)
#   scripts/mutation.sh election     one or more of: election probe agent
#
# Each mutant (a flipped comparison, a changed operator, ...) is applied to a
# copy of the module, and the package's own tests run against it: a failing
# test KILLS the mutant, a passing run means it LIVED (a rule no test defends),
# a run longer than the coverage run x the timeout coefficient TIMED OUT (the
# mutant made the code hang: counted as caught, not as efficacy). Efficacy =
# killed / (killed + lived). Results and the survivors, each with why it is
# equivalent, are in BENCHMARKS.md ("Mutation testing of the safety core").
#
# Scope, per package (files outside it are excluded with -E):
#   election  engine, CAS algorithm, memory and file stores, none backend, config
#             (not the SDK stores azblob/dynamodb/etcd, which need servers, and
#             not electiontest, the suite itself)
#   probe     accept path, kernel fence, listener (not the HTTP answer format)
#   agent     lifecycle (promote/demote/self-fence) and the control loop (not
#             the admin API or metrics)
#
# Not part of scripts/test.sh's default run: each mutant reruns a package's
# tests (election: ~17 s), so a full run takes tens of minutes.
#
# Environment:
#   LBHC_TOOLS_DIR                 gremlins is installed into $LBHC_TOOLS_DIR/go/bin
#                                  (default /var/tmp/lbhc-tools), not into go.mod
#   LBHC_MUTATION_WORKERS          parallel mutants (default 1: the tests are timing-bound)
#   LBHC_MUTATION_TIMEOUT_COEFF    gremlins --timeout-coefficient (default 4)
#   LBHC_MUTATION_OUT              directory for the logs and JSON results
#                                  (default a new directory under ${TMPDIR:-/tmp})
#   LBHC_MUTATION_THRESHOLD        minimum efficacy in percent (default 90); below it
#                                  the script exits 1
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LBHC_SCRIPT_NAME=mutation.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

GREMLINS_VERSION=v0.6.0
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"

TOOLS=${LBHC_TOOLS_DIR:-/var/tmp/lbhc-tools}/go/bin
WORKERS=${LBHC_MUTATION_WORKERS:-1}
COEFF=${LBHC_MUTATION_TIMEOUT_COEFF:-4}
THRESHOLD=${LBHC_MUTATION_THRESHOLD:-90}
OUT=${LBHC_MUTATION_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/lbhc-mutation.XXXXXX")}
mkdir -p "$OUT" "$TOOLS"

gremlins=$TOOLS/gremlins
# go install leaves the version string "dev": read the module version instead.
if ! go version -m "$gremlins" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+github.com/go-gremlins/gremlins[[:space:]]+$GREMLINS_VERSION[[:space:]]"; then
	log "installing gremlins $GREMLINS_VERSION into $TOOLS"
	GOBIN=$TOOLS GOFLAGS= go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION" ||
		die "go install gremlins@$GREMLINS_VERSION failed"
fi

# excludes PKG prints the -E arguments (file path regexps) for a package.
excludes() {
	case $1 in
	election) printf -- '-E\n%s\n' 'azblob' 'dynamodb' 'etcd' 'electiontest' 'lock_windows' ;;
	probe) printf -- '-E\n%s\n' 'http\.go' 'listen_other' ;;
	agent) printf -- '-E\n%s\n' 'admin\.go' 'metrics\.go' ;;
	*) die "unknown package $1 (want election, probe or agent)" ;;
	esac
}

pkgs=("$@")
((${#pkgs[@]})) || pkgs=(election probe agent)
killed=0 lived=0 timedout=0 notcovered=0 rc=0
for p in "${pkgs[@]}"; do
	mapfile -t ex < <(excludes "$p")
	log "$p: gremlins unleash (workers $WORKERS, timeout coefficient $COEFF); log in $OUT/$p.log"
	# gremlins exits non-zero only for its own thresholds, which are applied
	# below over all packages together.
	# Its first step is a coverage run of the package's tests; one retry
	# absorbs a timing-bound test that flaked on a busy machine.
	ok=0
	for try in 1 2; do
		if (cd "$p" && "$gremlins" unleash --workers "$WORKERS" --timeout-coefficient "$COEFF" \
			"${ex[@]}" -o "$OUT/$p.json") >"$OUT/$p.log" 2>&1; then
			ok=1
			break
		fi
		warn "$p: gremlins failed (try $try; a flaky test during its coverage run?); see $OUT/$p.log"
	done
	if ((!ok)); then
		rc=1
		continue
	fi
	sed -i 's/\x1b\[[0-9;]*m//g' "$OUT/$p.log" # colours, when a terminal was detected
	grep -E '^ *(LIVED|TIMED OUT)' "$OUT/$p.log" | sed "s/^ */$p: /" || true
	line=$(grep -E '^Killed: ' "$OUT/$p.log" || true)
	log "$p: $line"
	k=$(sed -nE 's/^Killed: ([0-9]+), Lived: ([0-9]+), Not covered: ([0-9]+).*/\1/p' <<<"$line")
	l=$(sed -nE 's/^Killed: ([0-9]+), Lived: ([0-9]+), Not covered: ([0-9]+).*/\2/p' <<<"$line")
	n=$(sed -nE 's/^Killed: ([0-9]+), Lived: ([0-9]+), Not covered: ([0-9]+).*/\3/p' <<<"$line")
	t=$(grep -oE 'Timed out: [0-9]+' "$OUT/$p.log" | grep -oE '[0-9]+' || echo 0)
	killed=$((killed + ${k:-0})) lived=$((lived + ${l:-0})) notcovered=$((notcovered + ${n:-0}))
	timedout=$((timedout + ${t:-0}))
done
total=$((killed + lived))
if ((total == 0)); then
	die "no mutant was tested (see the logs in $OUT)"
fi
eff=$((killed * 1000 / total))
log "all: killed $killed, lived $lived, timed out $timedout, not covered $notcovered; efficacy $((eff / 10)).$((eff % 10)) % (threshold $THRESHOLD %)"
if ((eff < THRESHOLD * 10)); then
	rc=1
fi
exit "$rc"
