#!/bin/sh
# Healthy only when called with exactly: "a b" "it's" '$HOME'
if [ "$#" -eq 3 ] && [ "$1" = "a b" ] && [ "$2" = "it's" ] && [ "$3" = '$HOME' ]; then
	exit 0
fi
echo "unexpected arguments ($#): $*"
exit 1
