# Seeds for fuzz_zfuse_check (the first byte picks the check): a zp_getdents reply of honest
# records (".", "..", "x"), one with '/' in a name, a "." that claims to be a file; counts within
# and beyond what was asked; SEEK_DATA before its offset; a directory's and a file's stat; a lock.
set -eu
d=$1
rec() { # rec INO RECLEN TYPE NAME: a linux_dirent64 record, the name NUL-padded to RECLEN
    printf "$(printf '\\x%02x' "$1")\\0\\0\\0\\0\\0\\0\\0\\x01\\0\\0\\0\\0\\0\\0\\0$(printf '\\x%02x' "$2")\\0$(printf '\\x%02x' "$3")"
    printf '%s' "$4"
    head -c $(($2 - 19 - ${#4})) /dev/zero
}
{ printf '\0'; rec 1 24 4 .; rec 2 24 4 ..; rec 3 24 8 x; } >"$d/dirents-honest"
{ printf '\0'; rec 4 24 8 a/b; } >"$d/dirents-slash"
{ printf '\0'; rec 5 24 8 .; } >"$d/dirents-dot-file"
printf '\x01\x10\0\0\0\0\0\0\0\x00\x10' >"$d/count-ok"
printf '\x01\x00\x20\0\0\0\0\0\0\x00\x10' >"$d/count-beyond"
printf '\x02\x00\x01\0\0\0\0\0\0\x00\x02\0\0\0\0\0\0\x00\x10\0\0\0\0\0\0\x03' >"$d/seek-data-before"
# struct stat (x86_64): dev, ino, nlink, mode (S_IFDIR|0755), uid, gid, pad, rdev, size ...
{ printf '\x03\x01'; head -c 24 /dev/zero; printf '\xed\x41\0\0'; head -c 20 /dev/zero
  printf '\x00\x10\0\0\0\0\0\0'; head -c 88 /dev/zero; } >"$d/stat-dir"
{ printf '\x03\x02'; head -c 24 /dev/zero; printf '\xa4\x81\0\0'; head -c 20 /dev/zero
  printf '\xff\xff\xff\xff\xff\xff\xff\xff'; head -c 88 /dev/zero; } >"$d/stat-negative-size"
printf '\x04\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x10\0\0\0\0\0\0\0' >"$d/flock"
# zp_getdents_stat: "x", a regular file, its record 24 + 144 bytes (168) with its struct stat; the same
# claiming a directory's stat for a file's record.
stat_of() { # stat_of MODE_BYTES: a struct stat (144 bytes) with st_nlink 1 and that mode
    head -c 16 /dev/zero; printf '\x01\0\0\0\0\0\0\0'; printf "$1"; head -c 116 /dev/zero
}
{ printf '\x05'; rec 3 168 8 x | head -c 24; stat_of '\xa4\x81\0\0'; } >"$d/dirents-stat-honest"
{ printf '\x05'; rec 3 168 8 x | head -c 24; stat_of '\xed\x41\0\0'; } >"$d/dirents-stat-type"
