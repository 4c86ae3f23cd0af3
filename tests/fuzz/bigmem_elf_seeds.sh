# Seeds for fuzz_bigmem_elf, written into the directory $1: the first 8 KiB of a dynamic and
# (when a static libc is installed) a static executable, and of a script.
set -eu
dir=$1
mkdir -p "$dir"
head -c 8192 /bin/sh >"$dir/dynamic"
printf '#!/bin/sh\necho hi\n' >"$dir/script"
t=$(mktemp -d)
printf 'int main(void){return 0;}\n' >"$t/m.c"
if cc -static -o "$t/m" "$t/m.c" 2>/dev/null; then head -c 8192 "$t/m" >"$dir/static"; fi
rm -rf "$t"
