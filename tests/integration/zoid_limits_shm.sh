#!/usr/bin/env bash
# The connection limits of zoid_limits.sh (per uid, in total, out of descriptors) on the shm:
# transport. The other cases drive the wire with zoid_abuse's raw unix-socket frames.
ZOID_TEST_TRANSPORT=shm ZOID_LIMITS_CASES=${ZOID_LIMITS_CASES:-conns emfile} \
    exec bash "$(dirname "$0")/zoid_limits.sh" "$@"
