# COUNT writes of 4 KiB at random pages of FILE (created if absent) among its first PAGES, then,
# with --fsync, an fsync, then close; prints the errno the first failing call met (0: none), for
# the tests of errors that forwarded writes meet late (a full export, a daemon that lies).
# usage: python3 random_writes.py FILE COUNT PAGES [--fsync]
import os
import random
import sys

path, count, pages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd, err = os.open(path, os.O_RDWR | os.O_CREAT, 0o644), 0
try:
    for _ in range(count):
        os.pwrite(fd, b"z" * 4096, random.randrange(pages) * 4096)
    if "--fsync" in sys.argv[4:]:
        os.fsync(fd)
except OSError as e:
    err = e.errno
try:
    os.close(fd)
except OSError as e:
    err = err or e.errno
print(err)
