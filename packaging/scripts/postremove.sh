#!/bin/sh
# lbhc post-remove (deb: "remove" | "purge" | "upgrade" | ...; rpm: $1 = 0
# erase, 1 upgrade). Reloads systemd after removal. Purge (deb) also
# deletes the state directory and the lbhc user; rpm erase keeps both, as
# RPM convention has no purge.
set -e

case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl daemon-reload || true
	fi
	;;
esac

if [ "$1" = purge ]; then
	rm -rf /var/lib/lbhc
	if getent passwd lbhc >/dev/null 2>&1; then
		userdel lbhc || true
	fi
	if getent group lbhc >/dev/null 2>&1; then
		groupdel lbhc || true
	fi
fi
exit 0
