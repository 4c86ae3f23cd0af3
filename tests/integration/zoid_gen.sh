# `zepto zoid gen` on bad input: usage errors of the command line (exit 2, one line naming the
# input), and files that are wrong or cannot be read or written (exit 1, one line; for a header,
# "FILE:LINE: what"). A good header gives the four files and nothing on stderr; a bad one leaves
# no file behind.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/kv.h" <<'H'
/* zoid: plugin 7 kv */
#include <stddef.h>
int kv_put(const char *key /* string */, const void *v /* array(n) zerocopy */, size_t n);
int kv_get(const char *key /* string */, void *buf /* out array(cap) */, size_t cap,
           size_t *len /* out */);
H
cp "$WORK/kv.h" "$WORK/my-kv.h"

# Usage errors (exit 2).
expect_status 2 "zoid gen: missing HEADER" "$ZEPTO" zoid gen
expect_status 2 "zoid gen: missing HEADER" "$ZEPTO" zoid gen -o "$WORK/out"
expect_status 2 "zoid gen: missing -o DIR" "$ZEPTO" zoid gen "$WORK/kv.h"
expect_status 2 "zoid gen: unexpected argument 'b.h'" "$ZEPTO" zoid gen a.h b.h -o "$WORK/out"
expect_status 2 "zoid gen: option '-o' needs a value" "$ZEPTO" zoid gen "$WORK/kv.h" -o
expect_status 2 "zoid gen: unknown option '--frobnicate'" "$ZEPTO" zoid gen --frobnicate
expect_status 2 "zoid gen: -o: empty directory name" "$ZEPTO" zoid gen "$WORK/kv.h" -o ''
expect_status 2 "zoid gen: HEADER: empty file name" "$ZEPTO" zoid gen '' -o "$WORK/out"
expect_status 2 "zoid gen: --name '1kv': not a C identifier" \
    "$ZEPTO" zoid gen "$WORK/kv.h" -o "$WORK/out" --name 1kv
expect_status 2 "zoid gen: .*my-kv.h: 'my-kv' is not a C identifier \(give --name\)" \
    "$ZEPTO" zoid gen "$WORK/my-kv.h" -o "$WORK/out"
[ ! -e "$WORK/out" ] || fail "a usage error created the output directory"

# A header that cannot be read (exit 1).
expect_status 1 "zoid gen: $WORK/missing.h: No such file or directory" \
    "$ZEPTO" zoid gen "$WORK/missing.h" -o "$WORK/out"
expect_status 1 "zoid gen: $WORK: Is a directory" "$ZEPTO" zoid gen "$WORK" -o "$WORK/out" --name kv
if [ "$(id -u)" -ne 0 ]; then
    cp "$WORK/kv.h" "$WORK/secret.h"
    chmod 000 "$WORK/secret.h"
    expect_status 1 "zoid gen: $WORK/secret.h: Permission denied" \
        "$ZEPTO" zoid gen "$WORK/secret.h" -o "$WORK/out"
fi

# A directory that cannot be written (exit 1).
: >"$WORK/plain"
expect_status 1 "zoid gen: $WORK/plain: Not a directory" "$ZEPTO" zoid gen "$WORK/kv.h" -o "$WORK/plain"
expect_status 1 "zoid gen: $WORK/plain/gen: Not a directory" \
    "$ZEPTO" zoid gen "$WORK/kv.h" -o "$WORK/plain/gen"
expect_status 1 "zoid gen: $WORK/no/such/dir: No such file or directory" \
    "$ZEPTO" zoid gen "$WORK/kv.h" -o "$WORK/no/such/dir"
if [ "$(id -u)" -ne 0 ]; then
    mkdir "$WORK/locked"
    chmod 555 "$WORK/locked"
    expect_status 1 "zoid gen: $WORK/locked/kv_client.h: Permission denied" \
        "$ZEPTO" zoid gen "$WORK/kv.h" -o "$WORK/locked"
fi

# Headers that are wrong: FILE:LINE: what (exit 1), and nothing written.
# bad_header NAME LINE PATTERN: the header $WORK/NAME.h (from stdin) is refused so.
bad_header() {
    local name=$1 line=$2 pattern=$3
    cat >"$WORK/$name.h"
    expect_status 1 "zoid gen: $WORK/$name.h:$line: $pattern" \
        "$ZEPTO" zoid gen "$WORK/$name.h" -o "$WORK/bad-out"
    if [ -e "$WORK/bad-out/${name}_client.c" ] || [ -e "$WORK/bad-out/${name}_server.c" ]; then
        fail "$name.h: files were written for a bad header"
    fi
}
bad_header noplugin 1 "no '/\* zoid: plugin ID NAME \*/' annotation" <<'H'
int f(void);
H
bad_header badid 2 "plugin id '70000': a number from 1 to 65535" <<'H'

/* zoid: plugin 70000 kv */
int f(void);
H
bad_header badopt 1 "unknown plugin option 'start=go'" <<'H'
/* zoid: plugin 7 kv start=go */
int f(void);
H
bad_header unknown_annotation 3 "f: unknown annotation 'outt'" <<'H'
/* zoid: plugin 7 kv */
int f(int a,
      int *p /* outt */);
H
bad_header malformed_array 2 "f: 'array' needs the name of its length parameter" <<'H'
/* zoid: plugin 7 kv */
int f(int *p /* out array(n */, int n);
H
bad_header unknown_type 4 "f: parameter 'b': unknown type 'off_t'" <<'H'
/* zoid: plugin 7 kv */
#include <sys/types.h>
int f(int a,
      off_t b);
H
bad_header unknown_return 2 "g: unsupported return type 'char \*'" <<'H'
/* zoid: plugin 7 kv */
char *g(void);
H
bad_header missing_length 3 "f: array\(count...\): f has no parameter 'count'" <<'H'
/* zoid: plugin 7 kv */
#include <stddef.h>
int f(int *p /* out array(count) */, size_t n);
H
bad_header float_length 2 "f: length 'n' of 'p' must be an integer passed by value" <<'H'
/* zoid: plugin 7 kv */
int f(int *p /* out array(n) */, double n);
H
bad_header out_value 2 "f: 'x' is out but not a pointer" <<'H'
/* zoid: plugin 7 kv */
int f(int x /* out */);
H
bad_header no_direction 2 "f: 'p' is a pointer to non-const: say in, out or inout" <<'H'
/* zoid: plugin 7 kv */
int f(int *p);
H
bad_header not_const_string 2 "f: 's' is a string, so it must be const char \*" <<'H'
/* zoid: plugin 7 kv */
int f(char *s /* string */);
H
bad_header late_annotation 2 "annotations of a parameter go right after it" <<'H'
/* zoid: plugin 7 kv */
int f(int x, int *p); /* out */
H

# A good header: the four files, nothing on stderr; again over them.
for i in 1 2; do
    expect_ok "$ZEPTO" zoid gen "$WORK/kv.h" -o "$WORK/out"
    [ -s "$WORK/stderr" ] && fail "stderr on success: $(cat "$WORK/stderr")"
done
for f in kv_client.c kv_client.h kv_server.c kv_server.h; do
    [ -s "$WORK/out/$f" ] || fail "no $f"
done
grep -q '^int kv_get(const char \*key, void \*buf, size_t cap, size_t \*len)$' "$WORK/out/kv_client.c" ||
    fail "kv_client.c does not define kv_get with the header's prototype"
# Split-phase stubs for the functions without out parameters, unless the header already has a
# function of one of their names.
grep -q '^int kv_put_begin(struct kv_put_call \*zg_call, const char \*key, const void \*v, size_t n);$' \
    "$WORK/out/kv_client.h" || fail "kv_client.h does not declare kv_put_begin"
grep -q 'kv_get_begin' "$WORK/out/kv_client.h" && fail "kv_get (out parameters) got split-phase stubs"
cat >"$WORK/split.h" <<'H'
/* zoid: plugin 7 split */
int f(int a);
int f_end(int a);
int g(int a);
H
expect_ok "$ZEPTO" zoid gen "$WORK/split.h" -o "$WORK/out"
grep -q 'struct f_call' "$WORK/out/split_client.h" && fail "f got split-phase stubs beside f_end"
grep -q '^int g_begin(struct g_call \*zg_call, int a);$' "$WORK/out/split_client.h" ||
    fail "split_client.h does not declare g_begin"
expect_ok "$ZEPTO" zoid gen "$WORK/my-kv.h" -o "$WORK/out" --name mykv
[ -s "$WORK/out/mykv_server.c" ] || fail "--name mykv: no mykv_server.c"
grep -q '#include "my-kv.h"' "$WORK/out/mykv_server.c" || fail "mykv_server.c does not include my-kv.h"
expect_ok "$ZEPTO" zoid gen --help
grep -q "usage: zepto zoid gen HEADER -o DIR" "$WORK/stdout" || fail "--help: $(cat "$WORK/stdout")"
finish
