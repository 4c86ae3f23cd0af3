# `zepto zoid gen --prefix`: one header generated twice with two prefixes, client and server
# sides, compiles together without a duplicate symbol; every name the generated files define
# for the linker carries its prefix; without --prefix the output is the same as before.
. "$(dirname "$0")/lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
INC=${INC:-$SRC/include}
GEN=${GEN:-$BIN/zepto-zoid-gen}
CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler"
# The generated code is plugin API 2 (zoid_errno(), struct zoid_host).
grep -q zoid_errno "$INC/zepto/zoid.h" || skip "include/zepto/zoid.h is not plugin API 2 yet"
H="$SRC/tests/integration/zoid_gen_all.h"

for p in a_ b_; do
    "$GEN" "$H" -o "$WORK/$p" --prefix "$p" || fail "--prefix $p: generation failed"
done
"$GEN" "$H" -o "$WORK/plain" || fail "generation without --prefix failed"
"$GEN" "$H" -o "$WORK/plain2" --name zoid_gen_all || fail "generation with --name failed"
for f in client.c client.h server.c server.h; do
    cmp -s "$WORK/plain/zoid_gen_all_$f" "$WORK/plain2/zoid_gen_all_$f" ||
        fail "zoid_gen_all_$f differs"
done

objs=()
for d in a_ b_ plain; do
    for side in client server; do
        o="$WORK/$d-$side.o"
        "$CC" -std=c17 -Wall -Wextra -Werror -fPIC -c -I"$INC" -I"$SRC/tests/integration" \
            -I"$WORK/$d" -o "$o" "$WORK/$d/zoid_gen_all_$side.c" ||
            fail "$d: zoid_gen_all_$side.c does not compile"
        objs+=("$o")
    done
done
# Every global the objects define, once.
dups=$(nm -g --defined-only "${objs[@]}" | awk 'NF == 3 {print $3}' | sort | uniq -d)
[ -z "$dups" ] || fail "defined twice: $dups"
nm -g --defined-only "$WORK/a_-client.o" | grep -q ' a_all_echo_int$' || fail "no a_all_echo_int"
nm -g --defined-only "$WORK/b_-server.o" | grep -q ' b_zoid_plugin_register$' ||
    fail "no b_zoid_plugin_register"
nm -g --defined-only "$WORK/a_-client.o" "$WORK/a_-server.o" | awk 'NF == 3 {print $3}' |
    grep -v '^a_' && fail "a global without the prefix a_"
# The prefixed stubs are declared by the generated client header.
grep -q '^int a_zoid_gen_all_zoid_use(struct zoid_client \*c);' "$WORK/a_/zoid_gen_all_client.h" ||
    fail "client header: no a_zoid_gen_all_zoid_use"
# A bad prefix is a usage error.
expect_status 2 "zoid gen: --prefix '1x': not the start of a C identifier" \
    "$GEN" "$H" -o "$WORK/bad" --prefix 1x
finish
