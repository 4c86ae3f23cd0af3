# Seeds for fuzz_zoid_frame, written into the directory $1: well-formed streams for each reader
# (see the target's first comment for the first byte), so that the fuzzer starts past the magic,
# the handshake and the call ids.
set -eu
dir=$1
mkdir -p "$dir"

# le VALUE BYTES: VALUE little-endian.
le() {
    local i hex
    for ((i = 0; i < $2; i++)); do
        printf -v hex '\\x%02x' $((($1 >> (8 * i)) & 255))
        printf '%b' "$hex"
    done
}
# frame KIND PLUGIN FUNCTION ERROR CALL LENGTH: a header (docs/FORMATS.md); the payload follows.
frame() {
    printf 'ZOID'
    le 1 1
    le "$1" 1
    le 0 2
    le "$2" 2
    le "$3" 2
    le "$4" 4
    le "$5" 8
    le "$6" 4
    le 0 4
}
bytes() { head -c "$1" /dev/zero | tr '\0' "${2:-x}"; }

# The client's calls are null (id 1), echo of 16 bytes (2), source of 100 (3), null (4).
{
    printf '\x00'
    frame 2 0 0 0 1 0
    frame 3 7 1 0 0 5
    bytes 5 a
    frame 2 0 1 0 2 13
    bytes 13 e
    frame 2 0 3 0 3 100
    bytes 100
    frame 3 7 2 0 0 0 # what zoid_poll reads
    frame 2 0 0 2 4 0
} >"$dir/client-replies"
{
    printf '\x00'
    frame 2 0 1 0 2 40 # larger than the reply iovecs
    bytes 40
    frame 2 0 0 0 1 0
} >"$dir/client-out-of-order"

# The daemon reads AUTH, then calls: null, echo, sink, source, whoami, sleep, an unknown plugin.
calls() {
    frame 1 0 0 0 1 0
    frame 1 0 1 0 2 8
    bytes 8 e
    frame 1 0 2 0 3 16
    bytes 16 s
    frame 1 0 3 0 4 8
    le 100 8
    frame 1 0 4 0 5 0
    frame 1 0 5 0 6 8
    le 1000 8
    frame 1 9 0 0 7 0
}
{
    printf '\x01'
    frame 5 0 0 0 0 0
    calls
} >"$dir/daemon-calls"
{
    printf '\x03'
    frame 5 0 0 0 0 64 # handshake 2: the client's nonce and a (wrong) proof
    bytes 64
    calls
} >"$dir/daemon-token"

# A payload left in the socket (the target marks the sink so): a 64 KiB sink call whose bytes
# the daemon drops, the next call after it; and one cut short half way.
{
    printf '\x01'
    frame 5 0 0 0 0 0
    frame 1 0 2 0 3 65536
    bytes 65536 t
    frame 1 0 0 0 4 0
} >"$dir/daemon-tail"
{
    printf '\x01'
    frame 5 0 0 0 0 0
    frame 1 0 2 0 3 65536
    bytes 30000 t
} >"$dir/daemon-tail-cut"

# The client's handshake (first byte 8): a CHALLENGE wanting a token (version 2), a WELCOME with
# limits and a proof the client must refuse; then one without a token.
{
    printf '\x08'
    frame 4 0 0 0 0 36
    bytes 32 n
    printf '\x01\x02\x00\x00'
    frame 6 0 0 0 0 40
    le 65536 4
    le 4 4
    bytes 32 m
} >"$dir/client-handshake"
{
    printf '\x08'
    frame 4 0 0 0 0 36
    bytes 36 '\0'
    frame 6 0 0 0 0 8
    le 65536 4
    le 4 4
} >"$dir/client-handshake-open"
