#!/bin/sh
# Unhealthy: the last output line is the reason lbhc reports.
echo "checking database"
echo "database down: connection refused" >&2
exit 3
