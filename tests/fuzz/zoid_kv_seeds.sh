# Seeds for fuzz_zoid_kv: valid calls of the example kv plugin, laid out as docs/FORMATS.md says
# ("Arguments of generated stubs"), one call a file and all of them in one. Usage: SCRIPT DIR
set -eu
dir=$1
# call FN PAYLOAD-AS-PRINTF-ESCAPES: one record [fn][u16 length][payload].
call() {
    local fn=$1 body
    body=$(printf "$2" | od -An -v -tx1 | tr -d ' \n')
    local n=$((${#body} / 2))
    printf "\\x$(printf %02x "$fn")\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8)))"
    printf "$2"
}
size5='\x05\x00\x00\x00\x00\x00\x00\x00'
key_a='\x02\x00\x00\x00a\x00'
put=$(printf '%s' "${size5}${key_a}hello")
get=$(printf '%s' '\x08\x00\x00\x00\x00\x00\x00\x00'"${key_a}")
del=$(printf '%s' '\x01'"${key_a}")
one='\x00\x00\x00\x00\x00\x00\xf0\x3f'
two='\x00\x00\x00\x00\x00\x00\x00\x40'
matvec=$(printf '%s' '\x02\x00\x00\x00\x02\x00\x00\x00'"${one}${two}${two}${one}${one}${two}")
call 0 "$put" >"$dir/put"
call 1 "$get" >"$dir/get"
call 2 "$del" >"$dir/del"
call 3 '' >"$dir/count"
call 4 "$matvec" >"$dir/matvec"
call 5 '' >"$dir/stats"
{
    call 0 "$put"
    call 1 "$get"
    call 3 ''
    call 5 ''
    call 2 "$del"
    call 4 "$matvec"
} >"$dir/session"
