# shellcheck shell=bash
# Shared helpers for scripts/test.sh and the e2e/benchmark harnesses.
# Source it; it defines functions only and changes no state.

# log/warn/die print to stderr with the calling script's name, so lines from
# the harness stand out from go test output.
log() { printf '%s: %s\n' "${LBHC_SCRIPT_NAME:-lbhc}" "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "${LBHC_SCRIPT_NAME:-lbhc}" "$*" >&2; }
die() {
	printf '%s: FATAL: %s\n' "${LBHC_SCRIPT_NAME:-lbhc}" "$*" >&2
	exit 1
}

# strict is true when a missing prerequisite must fail the run (CI sets
# LBHC_REQUIRE_INTEGRATION=1) instead of making the tests that need it skip.
strict() { [[ "${LBHC_REQUIRE_INTEGRATION:-}" == 1 ]]; }

# missing_prereq reports a prerequisite that could not be installed or
# started: fatal in strict mode, a warning otherwise.
missing_prereq() {
	if strict; then
		die "$* (LBHC_REQUIRE_INTEGRATION=1: a missing prerequisite fails the run)"
	fi
	warn "$* — the tests that need it will skip"
}

# port_busy PORT: true when something on this host uses the TCP port in any
# state (listening, or as the local end of a connection).
port_busy() {
	[[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]]
}

# pick_port prints a TCP port that is free right now. It draws from
# 20000–32767, below Linux's default ephemeral range (32768–60999), so an
# outgoing connection cannot take it between the check and the bind. A
# collision with a concurrent run is still possible: callers retry.
pick_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		if ! port_busy "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_tcp HOST PORT TIMEOUT_SECONDS [PID]: wait until HOST:PORT accepts a TCP
# connection. Gives up after the timeout, or at once when PID (the server that
# should be listening) has exited. Polls every 100 ms.
wait_tcp() {
	local host=$1 port=$2 timeout=$3 pid=${4:-}
	local deadline=$((SECONDS + timeout))
	while ((SECONDS < deadline)); do
		if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# http_status URL: print the HTTP status code of a GET (000 when nothing
# answered). Each attempt is bounded to 2 s.
http_status() {
	curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}
