# shellcheck shell=bash
# Phase timing for long scripts (scripts/test.sh): `phase NAME` ends the
# phase before it — printing "phase NAME: N s" — and starts NAME;
# `phase_summary` ends the last one and prints every phase's time as a
# table, so a person waiting for a 15-minute run sees where it is and where
# the time went. Output goes to stderr through log() (common.sh). Times are
# whole seconds of bash's SECONDS counter.

PHASE_NAME=
PHASE_START=0
PHASE_NAMES=()
PHASE_SECS=()

# phase_end: end the current phase, if any, and print its time.
phase_end() {
	[[ -n $PHASE_NAME ]] || return 0
	local secs=$((SECONDS - PHASE_START))
	PHASE_NAMES+=("$PHASE_NAME")
	PHASE_SECS+=("$secs")
	log "phase $PHASE_NAME: $secs s"
	PHASE_NAME=
}

# phase NAME: end the current phase and start NAME.
phase() {
	phase_end
	PHASE_NAME=$1
	PHASE_START=$SECONDS
	log "phase $PHASE_NAME: started"
}

# phase_summary: end the current phase and print the table of all phases.
phase_summary() {
	phase_end
	((${#PHASE_NAMES[@]} > 0)) || return 0
	local i total=0
	log "phase times:"
	for i in "${!PHASE_NAMES[@]}"; do
		printf '  %6d s  %s\n' "${PHASE_SECS[$i]}" "${PHASE_NAMES[$i]}" >&2
		total=$((total + PHASE_SECS[i]))
	done
	printf '  %6d s  total\n' "$total" >&2
	PHASE_NAMES=()
	PHASE_SECS=()
}
