# Real programs through the interposer on a forwarded tree: cp -a in and back with identical
# checksums, modes, symbolic links and times; tar create and extract; find, ls -l, du, mv, rm -r;
# sed -i and awk (stdio, mkostemp, rename); shell redirections into the mount from a forwarded
# working directory, across fork and exec.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

start_daemon

# A tree with data, modes, a symbolic link, an absolute link, an empty directory and a name
# that is not UTF-8.
src="$WORK/src"
mkdir -p "$src/sub/deep" "$src/empty"
head -c 3000000 /dev/urandom >"$src/big"
for i in $(seq 20); do head -c $((i * 997)) /dev/urandom >"$src/sub/f$i"; done
echo hi >"$src/sub/deep/x"
printf 'latin1' >"$src/$(printf 'caf\xe9')"
ln -s big "$src/link"
ln -s /etc/hostname "$src/abslink"
chmod 0750 "$src/sub"
chmod 0604 "$src/sub/f3"
chmod 0755 "$src/sub/f4"
touch -d '2001-02-03 04:05:06' "$src/sub/f5"
sums "$src" >"$WORK/src.sum"

# cp -a into the mount and back.
expect_ok zrun cp -a "$src" "$MNT/copy"
sums "$EXPORT/copy" | diff -q "$WORK/src.sum" - >/dev/null || fail "cp -a in: checksums differ"
[ "$(readlink "$EXPORT/copy/link")" = big ] || fail "cp -a in: link target"
[ "$(readlink "$EXPORT/copy/abslink")" = /etc/hostname ] || fail "cp -a in: absolute link"
[ "$(stat -c %a "$EXPORT/copy/sub")" = 750 ] || fail "cp -a in: directory mode"
[ "$(stat -c %a "$EXPORT/copy/sub/f3")" = 604 ] || fail "cp -a in: file mode"
[ "$(stat -c %Y "$EXPORT/copy/sub/f5")" = "$(stat -c %Y "$src/sub/f5")" ] ||
    fail "cp -a in: mtime not kept"
[ -d "$EXPORT/copy/empty" ] || fail "cp -a in: empty directory"
expect_ok zrun cp -a "$MNT/copy" "$WORK/back"
sums "$WORK/back" | diff -q "$WORK/src.sum" - >/dev/null || fail "cp -a back: checksums differ"
[ "$(stat -c %a "$WORK/back/sub/f4")" = 755 ] || fail "cp -a back: mode"
[ "$(stat -c %Y "$WORK/back/sub/f5")" = "$(stat -c %Y "$src/sub/f5")" ] ||
    fail "cp -a back: mtime not kept"
[ "$(readlink "$WORK/back/link")" = big ] || fail "cp -a back: link"

# tar: create in the mount from a local tree, extract in the mount, list through a pipe.
expect_ok zrun tar -C "$WORK" -cf "$MNT/t.tar" src
expect_ok zrun mkdir "$MNT/untar"
expect_ok zrun tar -C "$MNT/untar" -xf "$MNT/t.tar"
sums "$EXPORT/untar/src" | diff -q "$WORK/src.sum" - >/dev/null || fail "tar x: checksums differ"
[ "$(tar -tf "$EXPORT/t.tar" | wc -l)" -eq "$(cd "$WORK" && find src | wc -l)" ] ||
    fail "tar c: wrong entry count"
expect_ok zrun tar -C "$MNT/copy" -czf - .
tar -tzf "$WORK/stdout" >/dev/null || fail "tar czf - of a forwarded tree is not a tar"

# find, ls -l, du against the same commands on the export.
expect_ok zrun find "$MNT/copy" -type f -name 'f1*'
[ "$(sed "s|$MNT|E|" "$WORK/stdout" | sort)" = "$(find "$EXPORT/copy" -type f -name 'f1*' |
    sed "s|$EXPORT|E|" | sort)" ] || fail "find differs: $(cat "$WORK/stdout")"
expect_ok zrun ls -l "$MNT/copy/sub"
[ "$(cat "$WORK/stdout")" = "$(ls -l "$EXPORT/copy/sub")" ] || fail "ls -l differs"
expect_ok zrun ls -la "$MNT/copy/link"
grep -q -- '-> big$' "$WORK/stdout" || fail "ls -l of a link: $(cat "$WORK/stdout")"
expect_ok zrun du -sb "$MNT/copy"
[ "$(cut -f1 "$WORK/stdout")" = "$(du -sb "$EXPORT/copy" | cut -f1)" ] || fail "du differs"

# mv within the mount (rename), out of it (copy + unlink), rm -r.
expect_ok zrun mv "$MNT/copy" "$MNT/moved"
[ -d "$EXPORT/moved" ] && [ ! -e "$EXPORT/copy" ] || fail "mv within the mount"
expect_ok zrun mv "$MNT/moved/big" "$WORK/big.out"
cmp -s "$WORK/big.out" "$src/big" && [ ! -e "$EXPORT/moved/big" ] || fail "mv out of the mount"
expect_ok zrun mv "$WORK/big.out" "$MNT/big.in"
cmp -s "$EXPORT/big.in" "$src/big" || fail "mv into the mount"
expect_ok zrun rm -r "$MNT/moved" "$MNT/untar"
[ ! -e "$EXPORT/moved" ] && [ ! -e "$EXPORT/untar" ] || fail "rm -r left something"

# stdio programs: sed -i (mkostemp, fdopen, rename), awk writing a file.
printf 'a 1\nb 2\nc 3\n' >"$EXPORT/in.txt"
expect_ok zrun sed -i 's/b/B/' "$MNT/in.txt"
[ "$(cat "$EXPORT/in.txt")" = "$(printf 'a 1\nB 2\nc 3')" ] || fail "sed -i: $(cat "$EXPORT/in.txt")"
expect_ok zrun awk '{ s += $2; print $1 > "'"$MNT"'/awk.out" } END { print s }' "$MNT/in.txt"
[ "$(cat "$WORK/stdout")" = 6 ] && [ "$(cat "$EXPORT/awk.out")" = "$(printf 'a\nB\nc')" ] ||
    fail "awk: $(cat "$WORK/stdout")"

# Shells: a forwarded working directory, redirections (dup2 onto 0/1 and 3), a subshell (fork)
# and a child shell (exec) writing through an inherited descriptor and into the cwd.
expect_ok zrun bash -c 'cd '"$MNT"' && exec 3>fd3.txt && echo parent >&3 && (echo sub >&3) &&
    bash -c "echo exec >&3; echo child > child.txt" && echo end >&3 && exec 3>&- &&
    seq 5 > seq.txt && sort -r < seq.txt > rev.txt && pwd && cat child.txt'
[ "$(cat "$EXPORT/fd3.txt")" = "$(printf 'parent\nsub\nexec\nend')" ] ||
    fail "shell fd 3: $(cat "$EXPORT/fd3.txt")"
[ "$(cat "$EXPORT/rev.txt")" = "$(seq 5 | sort -r)" ] || fail "shell redirections"
[ "$(cat "$WORK/stdout")" = "$(printf '%s\nchild' "$MNT")" ] ||
    fail "shell cwd and exec: $(cat "$WORK/stdout")"
expect_ok zrun sh -c 'cd '"$MNT"' && sh -c "cat ../'"${MNT#/}"'/seq.txt | wc -l"'
[ "$(cat "$WORK/stdout")" = 5 ] || fail "dash: cwd across exec: $(cat "$WORK/stdout")"

# Nothing outside the mount is forwarded.
expect_ok zrun cp "$src/sub/f1" "$WORK/local-copy"
cmp -s "$src/sub/f1" "$WORK/local-copy" || fail "a local copy under the interposer"

stop_daemon
finish
