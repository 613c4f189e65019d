#!/bin/sh
# lbhc pre-remove (deb: "remove" | "upgrade" | ...; rpm: $1 = 0 erase,
# 1 upgrade). On removal, stop every lbhc unit so the agent demotes, removes
# its VIPs and releases the lease before its binary goes away (the units'
# ExecStopPost runs `lbhc cleanup`), then remove what a killed lbhc left
# outside systemd. On upgrade, leave it running (see postinstall).
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

# Addresses carrying lbhc's mark that a killed `lbhc run` (started by hand
# or by another supervisor) left: nothing would ever remove them once the
# binary is gone. cleanup refuses while an lbhc with this state dir runs.
if [ -x /usr/bin/lbhc ]; then
	/usr/bin/lbhc cleanup --state-dir /var/lib/lbhc ||
		echo "lbhc: cleanup did not finish; check for leftover VIPs (ip -4 addr show label '*:lbhc')" >&2
fi
exit 0
