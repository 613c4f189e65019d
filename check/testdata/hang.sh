#!/bin/sh
# Never answers: starts a child that would outlive a plain kill of this shell,
# records the child's pid in "$1", and waits for it.
sleep 60 &
echo $! > "$1"
wait
