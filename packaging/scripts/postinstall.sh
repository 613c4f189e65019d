#!/bin/sh
# lbhc post-install (deb: "configure" [old-version]; rpm: $1 = 1 install,
# 2 upgrade). Creates the system user and the state directory, reloads
# systemd. Never enables, starts or restarts lbhc: starting a failover agent
# (or restarting the leader) is the operator's decision, so an upgrade keeps
# the old process running until `systemctl restart lbhc`.
set -e

case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;;
esac

if ! getent group lbhc >/dev/null 2>&1; then
	groupadd --system lbhc
fi
if ! getent passwd lbhc >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --gid lbhc --home-dir /var/lib/lbhc --no-create-home \
		--shell "$nologin" --comment "lbhc daemon" lbhc
fi

# systemd also creates it (StateDirectory=lbhc); this covers running
# `lbhc run` by hand or under another supervisor.
install -d -m 0750 -o lbhc -g lbhc /var/lib/lbhc

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
	if systemctl is-active --quiet lbhc.service; then
		echo "lbhc: still running the previous version; run 'systemctl restart lbhc' when a failover is acceptable" >&2
	fi
fi
exit 0
