# Seeds for fuzz_zposix_client: [u8 which call][u8 remote error][reply]. A pread of 16 bytes
# answered honestly (16 + 8 + 4 + 16 bytes), one whose count says 1 MiB, a remote error, and an
# empty reply.
set -eu
d=$1
printf '\x78\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00AAAAAAAAAAAAAAAA' >"$d/pread-honest"
printf '\x78\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00AAAAAAAAAAAAAAAA' >"$d/pread-lie"
printf '\x79\x00\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x00\x00\x00' >"$d/getdents-huge"
printf '\x7a\x07' >"$d/remote-error"
printf '\x7b\x00' >"$d/empty"
