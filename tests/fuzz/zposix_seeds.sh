# Seeds for fuzz_zposix: valid calls of the posix plugin (zposix.h), laid out as docs/FORMATS.md
# says ("Arguments of generated stubs"), one call a file and a whole session in one.
# Usage: SCRIPT DIR
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
i32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
i64() { i32 "$1"; i32 $(( $1 < 0 ? -1 : 0 )); }
len() { i32 $((${#1} + 1)); }
str() { len "$1"; printf '%s\\x00' "$1"; }
root=$(i32 -100)
session="$(i32 1)$(i32 16)"
create="${root}$(i32 66)$(i32 420)$(str f)"          # O_RDWR|O_CREAT, 0644
write="$(i32 0)$(i64 5)$(i64 0)hello"
read="$(i32 0)$(i64 5)$(i64 0)"
mkdir="${root}$(i32 493)$(str d)"
opendir="${root}$(i32 65536)$(i32 0)$(str d)"        # O_DIRECTORY
dents="$(i32 1)$(i64 512)"
stat="${root}$(i32 0)$(str f)"
symlink="${root}$(len f)$(len l)f\\x00l\\x00"
rename="${root}${root}$(i32 0)$(len l)$(len m)l\\x00m\\x00"
unlink="${root}$(i32 0)$(str m)"
call 0 "$session" >"$dir/session"
call 2 "$create" >"$dir/create"
{
    call 0 "$session"
    call 2 "$create"
    call 6 "$write"
    call 5 "$read"
    call 21 "$mkdir"
    call 2 "$opendir"
    call 14 "$dents"
    call 16 "$stat"
    call 25 "$symlink"
    call 23 "$rename"
    call 20 "$unlink"
    call 3 "$(i32 0)"
} >"$dir/all"
