"""Opens of one file through a passthrough mount (zoid_fuse_passthrough.sh): a reader and a writer
at once, an appender (and a stat after each of its writes), mmap, ftruncate, a new writer after
every open closed; each result is checked through the mount and in the export. Prints "ok"."""
import os, mmap, sys
m, ex = sys.argv[1], sys.argv[2]
p = m + "/g"
# 1. reader then writer, both open at once
with open(p, "wb") as f: f.write(b"a" * 100000)
r = os.open(p, os.O_RDONLY); w = os.open(p, os.O_WRONLY)
os.pwrite(w, b"XYZ", 10)
assert os.pread(r, 5, 9) == b"aXYZa", os.pread(r, 5, 9)
# 2. append through a third open
a = os.open(p, os.O_WRONLY | os.O_APPEND); os.write(a, b"END"); os.close(a)
assert os.stat(p).st_size == 100003, os.stat(p).st_size
assert open(ex + "/g", "rb").read()[-3:] == b"END"
# 2b. a stat after each write through the backing sees it (the daemon does not answer with a
# lookup made before the write)
a = os.open(p, os.O_WRONLY | os.O_APPEND)
for i in range(1, 201):
    os.write(a, b"+")
    assert os.stat(p).st_size == 100003 + i, (i, os.stat(p).st_size)
os.close(a)
os.ftruncate(w, 100003)
# 3. mmap through the reader/writer
rw = os.open(p, os.O_RDWR)
mm = mmap.mmap(rw, 4096); mm[0:4] = b"MMAP"; mm.flush(); mm.close()
assert os.pread(r, 4, 0) == b"MMAP"
assert open(ex + "/g", "rb").read(4) == b"MMAP"
# 4. ftruncate on the passthrough open, seen by all
os.ftruncate(rw, 50); assert os.fstat(r).st_size == 50 and os.path.getsize(ex + "/g") == 50
assert os.read(r, 100) == b"MMAP" + b"a" * 6 + b"XYZ" + b"a" * 37
for fd in (r, w, rw): os.close(fd)
# 5. a new writer after all closed: written, position semantics
fd = os.open(p, os.O_RDWR | os.O_TRUNC); os.write(fd, b"hello"); os.lseek(fd, 0, 0)
assert os.read(fd, 10) == b"hello"; os.close(fd)
print("ok")
