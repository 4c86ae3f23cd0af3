# Seeds for fuzz_bigmem_smaps, written into the directory $1: this shell's smaps, and a
# hand-made one with a moved (hugetlb) data segment between its file-backed head and tail.
set -eu
dir=$1
mkdir -p "$dir"
head -c 65536 /proc/self/smaps >"$dir/self"
cat >"$dir/moved" <<'S'
55d0c0000000-55d0c0001000 r-xp 00000000 08:01 1234                       /tmp/prog
Size:                  4 kB
KernelPageSize:        4 kB
55d0c0200000-55d0c0201000 rw-p 00002000 08:01 1234                       /tmp/prog
Rss:                   4 kB
55d0c0201000-55d0c1200000 rw-p 00000000 00:0f 99                         /anon_hugepage (deleted)
Size:              16380 kB
KernelPageSize:     2048 kB
Private_Hugetlb:   16384 kB
55d0c1200000-55d0c1300000 rw-p 00000000 00:00 0 
AnonHugePages:      2048 kB
7f0000000000-7f0000001000 rw-p 00000000 00:00 0                          [heap]
S
