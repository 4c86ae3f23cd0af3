# Seeds for fuzz_zoid_lend, written into the directory $1: the tag asked for (8 bytes, little
# endian), then messages (a kind byte: descriptors attached in bits 0-1, a directory in bit 2; a
# length byte; the bytes): a daemon lending well (one message of the tag with one descriptor), one
# that lends another tag first, and one that sends a short message with two descriptors.
set -eu
dir=$1
mkdir -p "$dir"
tag='\001\002\003\004\005\006\007\010'
printf "${tag}\001\010${tag}" >"$dir/good"
printf "${tag}\001\010\011\011\011\011\011\011\011\011\001\010${tag}" >"$dir/stale-first"
printf "${tag}\003\003abc\005\010${tag}" >"$dir/short-two"
