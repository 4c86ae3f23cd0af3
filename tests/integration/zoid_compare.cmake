# Differential tests of POSIX forwarding: the same operations locally, through the interposer and through the FUSE mount.
