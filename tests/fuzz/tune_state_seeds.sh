# Seeds for fuzz_tune_state, written into the directory $1: a state file as `zepto tune apply`
# writes it, made on a fake tree (tests/integration/tune_tree.py) with the zepto given as $ZEPTO.
set -eu
dir=$1
mkdir -p "$dir"
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d)
python3 "$here/../integration/tune_tree.py" make "$t/root" >/dev/null
ZEPTO_SYSROOT=$t/root ZEPTO_TUNE_STATE=$t/s "$ZEPTO" tune apply --cpus 2-3 >/dev/null 2>&1
cp "$t/s" "$dir/state"
rm -rf "$t"
