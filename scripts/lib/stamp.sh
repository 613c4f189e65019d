# shellcheck shell=bash
# Sourced by release.sh and package.sh: the version, commit and build date
# stamped into lbhc, from the environment or the git checkout. The date is
# the commit time, so rebuilding the same commit gives identical bytes.
in_git() { git rev-parse --git-dir >/dev/null 2>&1; }
if [ -z "${VERSION:-}" ]; then
	VERSION=dev
	in_git && VERSION=$(git describe --tags --always --dirty)
fi
if [ -z "${COMMIT:-}" ]; then
	COMMIT=unknown
	in_git && COMMIT=$(git rev-parse HEAD)
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=0
	in_git && SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
fi
export VERSION COMMIT SOURCE_DATE_EPOCH
