#!/usr/bin/env bash
# scripts/e2e/test_windows_wine.sh — run lbhc's Windows build under Wine.
#
# Installs Debian's Wine and mingw-w64 (if missing), builds the ProcessPrng
# shim tools/wine/bcryptprimitives.dll (Go's Windows runtime needs it; Wine 8
# has none), sets up a throw-away Wine prefix with it in system32, then runs
#   1. Windows unit tests under Wine: GOOS=windows go test -exec wine for
#      ./vip/ and the service wrapper's tests of package cmdline;
#   2. the smoke suite ./wine/ (build tag wine; real lbhc.exe processes: version, help, bad
#      input, VIP refusal, failover, control commands, the service cycle).
# Exit 0 = passed, 77 = skipped (prerequisites missing; a failure under
# LBHC_REQUIRE_INTEGRATION=1), anything else = failed.
#
# LBHC_WINE_SHIM=0 leaves the shim out of the prefix: the run must then fail
# with a message naming it (how the shim's necessity is checked).
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LBHC_SCRIPT_NAME=test_windows_wine.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/install.sh
source scripts/lib/install.sh
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

# wine: the wrapper; wine64: the 64-bit loader it runs; the win32-thread
# variant of mingw-w64 is enough for a DLL without threads.
apt_install wine wine64 gcc-mingw-w64-x86-64-win32
for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc; do
	if ! command -v "$tool" >/dev/null; then
		strict && die "$tool not found after installing Wine and mingw-w64"
		log "$tool not found: skipping the Windows tests"
		exit 77
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lbhc-wine.XXXXXX")
export WINEPREFIX=$WORK/prefix WINEDEBUG=-all WINEARCH=win64
# No Mono/Gecko installer prompts in a headless prefix.
export WINEDLLOVERRIDES="mscoree,mshtml="
KEEPER=
cleanup() {
	local rc=$?
	[[ -n $KEEPER ]] && kill "$KEEPER" 2>/dev/null
	wineserver -k 2>/dev/null || true
	if ((rc != 0)); then
		log "files kept in $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT

log "building the ProcessPrng shim (tools/wine/bcryptprimitives.c)"
x86_64-w64-mingw32-gcc -shared -O2 -s -Wall -Werror -o "$WORK/bcryptprimitives.dll" \
	tools/wine/bcryptprimitives.c tools/wine/bcryptprimitives.def -ladvapi32

log "creating the Wine prefix $WINEPREFIX"
wineboot -i </dev/null >"$WORK/wineboot.log" 2>&1 || {
	cat "$WORK/wineboot.log" >&2
	die "wineboot -i failed"
}
# wineboot returns before the prefix's first-start work is done; a service
# registered meanwhile can be lost. Wait (bounded) until Wine has stopped.
timeout 120 wineserver -w || die "Wine did not settle within 120 s of wineboot -i"
# A persistent wineserver, started with no pipes of ours, so that Wine's
# system processes do not hold the output of the first test command.
wineserver -p </dev/null >/dev/null 2>&1 || die "wineserver -p failed"
# One session for the whole run: Wine ends its system processes (services.exe
# among them) when the last user process exits and starts them again with the
# next one; a service created while an old services.exe shuts down is lost.
# cmd.exe waiting on a FIFO nobody writes is that user process.
mkfifo "$WORK/keeper"
wine cmd.exe <"$WORK/keeper" >/dev/null 2>&1 &
KEEPER=$!
exec 9>"$WORK/keeper" # opened after cmd.exe's read end, so neither blocks
if [[ ${LBHC_WINE_SHIM:-1} == 0 ]]; then
	log "LBHC_WINE_SHIM=0: leaving bcryptprimitives.dll out of the prefix"
else
	cp "$WORK/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
fi

export LBHC_TEST_WINE LBHC_TEST_WINEPREFIX=$WINEPREFIX
LBHC_TEST_WINE=$(command -v wine)
rc=0
# ./probe/ and ./check/ also build; their timing tests and Linux error
# wordings are not meant for Wine, so they run only cross-compiled.
log "Windows unit tests under Wine (vip, service wrapper)"
GOOS=windows GOARCH=amd64 go test -count=1 -timeout 5m -exec "$LBHC_TEST_WINE" ./vip/ || rc=1
GOOS=windows GOARCH=amd64 go test -count=1 -timeout 5m -exec "$LBHC_TEST_WINE" \
	-run 'ParseEnvFile|SlogLevel|Service|OptionalServiceConfig' ./cmdline/ || rc=1
log "smoke suite ./wine/ (lbhc.exe under Wine)"
go vet -tags wine ./wine/ || rc=1
go test -tags wine -count=1 -timeout 5m -v ./wine/ || rc=1
exit "$rc"
