# Seeds for fuzz_zpl_dirents: a zp_getdents reply of two honest records (".", "x"), one whose
# name has no NUL, one with '/' in its name, and one whose record is shorter than its header.
set -eu
d=$1
rec() { # rec INO RECLEN NAME: a linux_dirent64 record, the name NUL-padded to RECLEN
    printf "$(printf '\\x%02x' "$1")\\0\\0\\0\\0\\0\\0\\0\\x01\\0\\0\\0\\0\\0\\0\\0$(printf '\\x%02x' "$2")\\0\\x08"
    printf '%s' "$3"
    head -c $(($2 - 19 - ${#3})) /dev/zero
}
{ rec 1 24 .; rec 2 24 x; } >"$d/honest"
rec 3 24 ABCDE >"$d/no-slash-ok"
{ printf '\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x18\0\x08'; printf 'ABCDE'; } >"$d/no-nul"
rec 4 24 a/b >"$d/slash"
printf '\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x08\0\x08' >"$d/short"
