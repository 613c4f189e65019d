#!/bin/sh
# Healthy, but leaves a background child holding stdout open for a while.
sleep 3 &
exit 0
