# shellcheck shell=bash
# Starts and stops the backend servers of the integration tests on free
# loopback ports: Azurite (blob), dynalite (DynamoDB), fake-gcs-server
# (Cloud Storage), etcd. Needs common.sh
# and install.sh (for LBHC_TOOLS_DIR). Each start_* function exports the
# LBHC_TEST_* variables that package itest documents, or reports the server
# missing (fatal under LBHC_REQUIRE_INTEGRATION=1).
#
# Call services_init LOGDIR first and services_stop from an EXIT trap.

# Azurite's fixed development account and its published key.
LBHC_AZURITE_ACCOUNT=devstoreaccount1
LBHC_AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

# Bounds, in seconds: how long a server may take to answer after start, and
# how long it gets to exit after SIGTERM before SIGKILL.
LBHC_SERVICE_START_TIMEOUT=${LBHC_SERVICE_START_TIMEOUT:-30}
LBHC_SERVICE_STOP_TIMEOUT=5

SERVICE_NAMES=()
SERVICE_PIDS=()
SERVICE_LOGDIR=

services_init() {
	SERVICE_LOGDIR=$1
	mkdir -p "$SERVICE_LOGDIR"
}

# service_spawn NAME LOG CMD...: start CMD in the background with its output
# in LOG; sets SPAWNED_PID. stdin is /dev/null so nothing waits on a terminal.
service_spawn() {
	local name=$1 logf=$2
	shift 2
	"$@" </dev/null >"$logf" 2>&1 &
	SPAWNED_PID=$!
	SERVICE_NAMES+=("$name")
	SERVICE_PIDS+=("$SPAWNED_PID")
}

# service_kill PID: SIGTERM, then SIGKILL after the stop timeout.
service_kill() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < LBHC_SERVICE_STOP_TIMEOUT * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# services_stop stops every server this shell started (by its pid only).
services_stop() {
	local i
	for ((i = ${#SERVICE_PIDS[@]} - 1; i >= 0; i--)); do
		service_kill "${SERVICE_PIDS[i]}"
	done
	SERVICE_PIDS=()
	SERVICE_NAMES=()
}

# services_tail_logs prints the end of every server log (after a failure).
services_tail_logs() {
	local f
	[[ -n $SERVICE_LOGDIR ]] || return 0
	for f in "$SERVICE_LOGDIR"/*.log; do
		[[ -s $f ]] || continue
		printf '==> %s (last 30 lines) <==\n' "$f" >&2
		tail -n 30 "$f" >&2
	done
}

# try_start NAME READY_FN START_FN: pick a free port (two for etcd), start the
# server, and wait until READY_FN PORT PID succeeds. Retries up to 3 times with
# new ports when the server dies or never answers (another process may have
# taken the port in between). Sets STARTED_PORT.
try_start() {
	local name=$1 ready=$2 start=$3 attempt port
	for attempt in 1 2 3; do
		port=$(pick_port) || break
		SPAWNED_PID=
		"$start" "$port" "$SERVICE_LOGDIR/$name.log" || true
		[[ -n $SPAWNED_PID ]] || continue
		if "$ready" "$port" "$SPAWNED_PID"; then
			STARTED_PORT=$port
			log "$name ready on 127.0.0.1:$port (pid $SPAWNED_PID, log $SERVICE_LOGDIR/$name.log)"
			return 0
		fi
		warn "$name did not come up on port $port (attempt $attempt):"
		tail -n 5 "$SERVICE_LOGDIR/$name.log" >&2 || true
		service_kill "$SPAWNED_PID"
	done
	return 1
}

# --- Azurite (blob service only) ---

azurite_bin() { echo "$LBHC_TOOLS_DIR/npm/node_modules/.bin/azurite-blob"; }

azurite_start() {
	# --skipApiVersionCheck: the Go SDK speaks a newer API version than Azurite.
	service_spawn azurite "$2" "$(azurite_bin)" --blobHost 127.0.0.1 --blobPort "$1" \
		--inMemoryPersistence --skipApiVersionCheck --disableTelemetry --silent
}

# Azurite answers an anonymous List Containers with 403 once it serves.
azurite_ready() {
	wait_tcp 127.0.0.1 "$1" "$LBHC_SERVICE_START_TIMEOUT" "$2" &&
		[[ "$(http_status "http://127.0.0.1:$1/$LBHC_AZURITE_ACCOUNT?comp=list")" != 000 ]]
}

start_azurite() {
	if [[ ! -x "$(azurite_bin)" ]]; then
		missing_prereq "Azurite not installed ($(azurite_bin))"
		return 0
	fi
	if ! try_start azurite azurite_ready azurite_start; then
		missing_prereq "Azurite failed to start (log: $SERVICE_LOGDIR/azurite.log)"
		return 0
	fi
	export LBHC_TEST_AZURITE_CMD LBHC_TEST_AZURITE_CONNECTION_STRING
	LBHC_TEST_AZURITE_CMD=$(azurite_bin)
	LBHC_TEST_AZURITE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$LBHC_AZURITE_ACCOUNT;AccountKey=$LBHC_AZURITE_KEY;BlobEndpoint=http://127.0.0.1:$STARTED_PORT/$LBHC_AZURITE_ACCOUNT;"
}

# --- dynalite (DynamoDB, in memory) ---

dynalite_bin() { echo "$LBHC_TOOLS_DIR/npm/node_modules/.bin/dynalite"; }

dynalite_start() {
	service_spawn dynalite "$2" "$(dynalite_bin)" --host 127.0.0.1 --port "$1"
}

dynalite_ready() {
	wait_tcp 127.0.0.1 "$1" "$LBHC_SERVICE_START_TIMEOUT" "$2" &&
		[[ "$(http_status "http://127.0.0.1:$1/")" != 000 ]]
}

start_dynalite() {
	if [[ ! -x "$(dynalite_bin)" ]]; then
		missing_prereq "dynalite not installed ($(dynalite_bin))"
		return 0
	fi
	if ! try_start dynalite dynalite_ready dynalite_start; then
		missing_prereq "dynalite failed to start (log: $SERVICE_LOGDIR/dynalite.log)"
		return 0
	fi
	export LBHC_TEST_DYNALITE_CMD LBHC_TEST_DYNAMODB_ENDPOINT
	LBHC_TEST_DYNALITE_CMD=$(dynalite_bin)
	LBHC_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
}

# --- fake-gcs-server (Cloud Storage JSON API, in memory) ---

fake_gcs_start() {
	service_spawn fake-gcs "$2" "$(fake_gcs_bin)" -scheme http -host 127.0.0.1 -port "$1" \
		-backend memory -log-level warn
}

# It answers the bucket list once it serves.
fake_gcs_ready() {
	wait_tcp 127.0.0.1 "$1" "$LBHC_SERVICE_START_TIMEOUT" "$2" &&
		[[ "$(http_status "http://127.0.0.1:$1/storage/v1/b")" == 200 ]]
}

start_fake_gcs() {
	if [[ ! -x "$(fake_gcs_bin)" ]]; then
		missing_prereq "fake-gcs-server not installed ($(fake_gcs_bin))"
		return 0
	fi
	if ! try_start fake-gcs fake_gcs_ready fake_gcs_start; then
		missing_prereq "fake-gcs-server failed to start (log: $SERVICE_LOGDIR/fake-gcs.log)"
		return 0
	fi
	export LBHC_TEST_FAKE_GCS_CMD LBHC_TEST_GCS_ENDPOINT
	LBHC_TEST_FAKE_GCS_CMD=$(fake_gcs_bin)
	LBHC_TEST_GCS_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
}

# --- etcd (single member, data in the run's temp dir) ---

etcd_start() {
	local client=$1 peer
	peer=$(pick_port) || return 1
	# The peer port is bound too; a collision on it shows up as a failed start
	# and is retried like one on the client port.
	service_spawn etcd "$2" "$(command -v etcd)" --name lbhc-test \
		--data-dir "$SERVICE_LOGDIR/etcd-data-$client" \
		--listen-client-urls "http://127.0.0.1:$client" \
		--advertise-client-urls "http://127.0.0.1:$client" \
		--listen-peer-urls "http://127.0.0.1:$peer" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "lbhc-test=http://127.0.0.1:$peer" \
		--logger zap --log-level warn
}

# etcd serves /health with {"health":"true"} once it has a leader.
etcd_ready() {
	local deadline=$((SECONDS + LBHC_SERVICE_START_TIMEOUT))
	wait_tcp 127.0.0.1 "$1" "$LBHC_SERVICE_START_TIMEOUT" "$2" || return 1
	while ((SECONDS < deadline)); do
		kill -0 "$2" 2>/dev/null || return 1
		if curl -s -m 2 "http://127.0.0.1:$1/health" 2>/dev/null | grep -q '"health":"true"'; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

start_etcd() {
	if ! command -v etcd >/dev/null; then
		missing_prereq "etcd not found (Debian package etcd-server)"
		return 0
	fi
	if ! try_start etcd etcd_ready etcd_start; then
		missing_prereq "etcd failed to start (log: $SERVICE_LOGDIR/etcd.log)"
		return 0
	fi
	export LBHC_TEST_ETCD_BIN LBHC_TEST_ETCD_ENDPOINTS
	LBHC_TEST_ETCD_BIN=$(command -v etcd)
	LBHC_TEST_ETCD_ENDPOINTS="http://127.0.0.1:$STARTED_PORT"
}

# export_binaries exports the paths of the Debian tools that tests run
# themselves; a missing one is reported like a missing server.
export_binaries() {
	local var bin path
	for var in LBHC_TEST_HAPROXY:haproxy LBHC_TEST_KEEPALIVED:keepalived LBHC_TEST_SOCAT:socat; do
		bin=${var#*:}
		var=${var%%:*}
		if path=$(command -v "$bin" 2>/dev/null) || path=$(PATH=/usr/sbin:/sbin:$PATH command -v "$bin" 2>/dev/null); then
			export "$var=$path"
		else
			missing_prereq "$bin not found"
		fi
	done
}
