#!/usr/bin/env bash
# The daemon limits of zoid_limits.sh on the shm: transport, every case: zoid_abuse speaks the
# wire through the shared rings (sleeps, timeout, noread, big) as it does on the unix socket, and
# the well-behaved client beside it measures what other clients see while one abuses.
ZOID_TEST_TRANSPORT=shm exec bash "$(dirname "$0")/zoid_limits.sh" "$@"
