#!/bin/sh
# lbhc pre-remove (deb: "remove" | "upgrade" | ...; rpm: $1 = 0 erase,
# 1 upgrade). On removal, stop every lbhc unit so the agent demotes, removes
# its VIPs and releases the lease before its binary goes away (the units'
# ExecStopPost runs `lbhc cleanup`), then remove what a killed lbhc left
# outside systemd. On upgrade, leave it running (see postinstall).
set -e

# lbhc_setting NAME FILE: the last NAME=value of an environment file,
# without quotes.
lbhc_setting() {
	sed -n "s/^[[:space:]]*$1=[\"']\{0,1\}\([^\"']*\)[\"']\{0,1\}[[:space:]]*\$/\1/p" "$2" | tail -n 1
}

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

# VIPs that a killed `lbhc run` (started by hand or by another supervisor)
# left: nothing would ever remove them once the binary is gone. Only the
# VIPs configured in /etc/default/lbhc[-NAME] are touched, and cleanup
# refuses while an lbhc with that state dir still runs.
if [ -x /usr/bin/lbhc ]; then
	for f in /etc/default/lbhc /etc/default/lbhc-*; do
		[ -r "$f" ] || continue
		vips=$(lbhc_setting LBHC_VIP "$f")
		[ -n "$vips" ] || continue
		state=/var/lib/lbhc
		case $f in */lbhc-*) state=/var/lib/lbhc/${f##*/lbhc-} ;; esac
		s=$(lbhc_setting LBHC_STATE_DIR "$f")
		[ -z "$s" ] || state=$s
		LBHC_VIP=$vips /usr/bin/lbhc cleanup --state-dir "$state" ||
			echo "lbhc: cleanup for $f did not finish; check for leftover VIPs ($vips)" >&2
	done
fi
exit 0
