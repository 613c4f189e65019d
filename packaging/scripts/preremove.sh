#!/bin/sh
# lbhc pre-remove (deb: "remove" | "upgrade" | ...; rpm: $1 = 0 erase,
# 1 upgrade). On removal, stop every lbhc unit so the agent demotes, removes
# its VIPs and releases the lease before its binary goes away. On upgrade,
# leave it running (see postinstall).
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	units=$(systemctl list-units --no-legend --plain --all 'lbhc.service' 'lbhc@*.service' 2>/dev/null | awk '{print $1}')
	for u in $units; do
		systemctl disable --now "$u" || true
	done
	systemctl disable lbhc.service >/dev/null 2>&1 || true
fi
exit 0
