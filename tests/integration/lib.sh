# Shared helpers of the shell integration tests. Sourced; expects $ZEPTO and $WORK.
set -u
: "${ZEPTO:?ZEPTO must name the zepto binary}"
: "${WORK:?WORK must name a scratch directory}"
rm -rf "$WORK"
mkdir -p "$WORK"
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect_status CODE PATTERN CMD...: CMD exits with CODE and prints exactly one line on stderr,
# matching the extended regex PATTERN.
expect_status() {
    local code=$1 pattern=$2
    shift 2
    local err="$WORK/stderr" status=0
    "$@" >"$WORK/stdout" 2>"$err" || status=$?
    local lines
    lines=$(wc -l <"$err")
    if [ "$status" -ne "$code" ]; then
        fail "'$*' exited $status, expected $code; stderr: $(cat "$err")"
    elif [ "$lines" -ne 1 ]; then
        fail "'$*' printed $lines lines on stderr, expected one: $(cat "$err")"
    elif ! grep -Eq -- "$pattern" "$err"; then
        fail "'$*' stderr '$(cat "$err")' does not match /$pattern/"
    fi
}

# expect_ok CMD...: CMD exits 0.
expect_ok() {
    local status=0
    "$@" >"$WORK/stdout" 2>"$WORK/stderr" || status=$?
    [ "$status" -eq 0 ] || fail "'$*' exited $status: $(cat "$WORK/stderr")"
}

# schema_check NAME FILE...: each FILE validates against docs/schema/NAME.vN.json (the output
# contracts). Debian's python3-jsonschema, under /usr/bin/python3 (not a pyenv shim); without
# it the check is reported as skipped, once, on stdout.
schema_check() {
    local name=$1 py=/usr/bin/python3 out
    shift
    [ -x "$py" ] || py=python3
    if ! "$py" -c 'import jsonschema' 2>/dev/null; then
        echo "note: python3-jsonschema is missing: $name outputs not validated (scripts/deps.sh)"
        return 0
    fi
    out=$("$py" "$(dirname "${BASH_SOURCE[0]}")/json_schema.py" validate \
        "$(dirname "${BASH_SOURCE[0]}")/../../docs/schema" "$name" "$@" 2>&1) ||
        fail "output does not follow schema $name: $out"
}

finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
    fi
    echo ok
    exit 0
}
