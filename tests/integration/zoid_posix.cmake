# Tests of the posix plugin (the daemon side of POSIX forwarding).
