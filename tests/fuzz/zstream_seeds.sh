# Seeds for fuzz_zstream: valid calls of the stream plugin (src/zoid/stream/zstream_wire.h), one
# sequence a file: open (create), push two records, read, stat, delete; and a producer known from
# its open (flag 16, rank 1 of a reduced stream) that never pushes; a reservation (function 5)
# and a push that waits in line (flag 2); a push of one 2 KiB record (kept in the request's
# memory: the fuzz build lowers ZS_ADOPT_MIN to 1 KiB) read twice; numbered reads, ahead and out
# of their turn (flags 4 and 6, "Reading ahead"). Usage: SCRIPT DIR
set -eu
dir=$1
call() { # FN HEX-PAYLOAD
    local n=$((${#2} / 2))
    printf "\\x$(printf %02x "$1")\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8)))"
    printf "$(echo "$2" | sed 's/../\\x&/g')"
}
name=02007331 # "s1"
open=0100000002000000000000000000000001000000${name}
push=00000000${name}0000000000000000000000000400000061626364010000000000000001000000040000006566676
push=${push}8
read=000000000000000000000000000010000000000000000000${name}
{ call 0 "$open"; call 1 "$push"; call 2 "$read"; call 3 "$name"; call 4 "$name"; } >"$dir/all"
{ call 0 "$open"; call 1 "$push"; call 1 "$push"; call 2 "$read"; } >"$dir/reduce"
pname=02007332 # "s2"
popen=1100000002000000000000000000000001000100${pname}
{ call 0 "$popen"; call 3 "$pname"; } >"$dir/producer"
reserve=010000000800000000000000${name}
wpush=02000000${push#00000000}
{ call 0 "$open"; call 5 "$reserve"; call 1 "$wpush"; call 5 "$reserve"; call 2 "$read"; call 3 "$name"; } >"$dir/reserve"
big=$(head -c 2048 /dev/zero | od -An -v -tx1 | tr -d ' \n')
bpush=00000000${name}00000000000000000000000000080000${big}
plain=0100000000000000000000000000000000000000${name} # create, no reduction
{ call 0 "$plain"; call 1 "$bpush"; call 2 "$read"; call 2 "$read"; call 4 "$name"; } >"$dir/adopt"
nread() { echo "0${1}000000000000000000000000000010000000000000000000${name}0${2}000000"; }
{ call 0 "$plain"; call 1 "$push"; call 2 "$(nread 4 1)"; call 2 "$(nread 6 3)"; call 2 "$(nread 6 2)"; call 2 "$(nread 6 4)"; call 2 "$(nread 4 5)"; call 4 "$name"; } >"$dir/ahead"
