# A mount run by root makes every call as root on the I/O node; the kernel checks each user's
# request on the attributes it has for the path. A user who changes what a path names behind the
# kernel's back (on the export: a link swapped in for their own directory, another user's file
# renamed over their own in a directory they may write, a file made where the mount saw none)
# must not read, write, chmod, truncate, touch, hard-link or take that file through the mount: the daemon
# follows no link in a mount's paths (zp_no_symlinks: ELOOP), and the mount checks an open or an
# attribute change on the file the daemon actually opened (zfuse_may.h: EACCES). Their own files
# still change as asked. Strict and relaxed mounts (relaxed keeps attributes and absent names
# cached, where the window is widest).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

require_fuse
[ "$(id -u)" -eq 0 ] || { echo "SKIP: a mount acting for other users needs root"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv is not installed"; exit 77; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

shared_dir
exp="$fuse_shared/export"
mkdir -p "$exp"
sock="$WORK/swap.sock"
"$ZEPTO" zoid serve --listen "unix:$sock" --export "$exp" 2>>"$WORK/daemon.log" &
daemon_pids+=($!)
wait_for 10 test -S "$sock" || { echo "FAIL: the daemon did not start" >&2; exit 1; }

# intact FILE CONTENT: root's file still holds CONTENT, mode 600, owned by root.
intact() {
    [ "$(cat "$1")" = "$2" ] && [ "$(stat -c %a:%u "$1")" = 600:0 ] ||
        fail "$mode: root's $(basename "$1") changed: $(stat -c %a:%u "$1") '$(head -c 40 "$1")'"
}

# refused WHAT CMD...: CMD, as user 65534, fails.
refused() {
    local what=$1
    shift
    if nobody "$@" >"$WORK/out" 2>&1; then
        fail "$mode: $what through the mount succeeded: $(head -c 80 "$WORK/out")"
    fi
    grep -q secret "$WORK/out" && fail "$mode: $what printed root's secret"
}

for mode in relaxed strict; do
    m="$fuse_shared/mnt-$mode" # user 65534 must reach it ($WORK may be root's alone)
    e="$exp/$mode"
    mkdir -p "$e/rootonly" "$e/pub" "$e/shared" "$e/shared4"
    chmod 700 "$e/rootonly"
    chmod 1777 "$e/pub"
    chmod 777 "$e/shared" "$e/shared4" # no sticky bit: its users may rename each other's files
    for f in "$e/rootonly/s.txt" "$e/shared/root2.txt"; do
        echo secret >"$f" && chmod 600 "$f"
    done
    mount_fg "$m" "unix:$sock" --consistency "$mode" || fail "$mode mount"
    v="$m/$mode"

    # 1. A link swapped in for the user's own directory, after the mount saw the directory.
    nobody sh -c "mkdir '$e/pub/a' && echo mine >'$e/pub/a/s.txt' && chmod 600 '$e/pub/a/s.txt'"
    nobody stat "$v/pub/a/s.txt" >/dev/null || fail "$mode: stat of the user's own file"
    nobody sh -c "mv '$e/pub/a' '$e/pub/a-old' && ln -s ../rootonly '$e/pub/a'"
    refused "a read through a swapped-in link" cat "$v/pub/a/s.txt"
    refused "an append through a swapped-in link" sh -c "echo pwned >>'$v/pub/a/s.txt'"
    refused "a chmod through a swapped-in link" chmod 666 "$v/pub/a/s.txt"
    intact "$e/rootonly/s.txt" secret

    # 2. Root's file renamed over the user's own, after the mount saw theirs (a file each, so
    # that no attempt shows the kernel the new attributes before the next).
    i=0
    for op in "cat" "tee -a" "tee" "chmod 666" "truncate -s 0" "touch -d @1"; do
        i=$((i + 1))
        echo secret >"$e/shared/root-$i" && chmod 600 "$e/shared/root-$i"
        nobody sh -c "echo mine >'$e/shared/m$i' && chmod 600 '$e/shared/m$i'"
        nobody stat "$v/shared/m$i" >/dev/null || fail "$mode: stat of the user's own file"
        nobody mv -f "$e/shared/root-$i" "$e/shared/m$i"
        # shellcheck disable=SC2086 # op is a command and its arguments
        refused "$op of a file renamed there" $op "$v/shared/m$i" </dev/null
        intact "$e/shared/m$i" secret
    done

    # 3. Root's file renamed where the mount saw no file, then created through the mount.
    nobody stat "$v/shared/new.txt" >/dev/null 2>&1 && fail "$mode: new.txt exists already"
    nobody mv -f "$e/shared/root2.txt" "$e/shared/new.txt"
    refused "a create over a file renamed there" sh -c "echo pwned >>'$v/shared/new.txt'"
    intact "$e/shared/new.txt" secret
    echo secret >"$e/shared/root3.txt" && chmod 600 "$e/shared/root3.txt"
    nobody stat "$v/shared/new3.txt" >/dev/null 2>&1 && fail "$mode: new3.txt exists already"
    nobody mv -f "$e/shared/root3.txt" "$e/shared/new3.txt"
    refused "a truncating create over a file renamed there" sh -c "echo pwned >'$v/shared/new3.txt'"
    intact "$e/shared/new3.txt" secret

    # 4. A hard link to the user's own file, root's renamed over it meanwhile: no link to root's.
    # (shared4: no listing of it is cached yet, so a relaxed mount sees what is made there)
    echo secret >"$e/shared4/root4.txt" && chmod 600 "$e/shared4/root4.txt"
    nobody sh -c "echo mine >'$e/shared4/lsrc' && chmod 600 '$e/shared4/lsrc'"
    nobody stat "$v/shared4/lsrc" >/dev/null || fail "$mode: stat of the user's own file"
    nobody mv -f "$e/shared4/root4.txt" "$e/shared4/lsrc"
    refused "a hard link of a file renamed there" ln "$v/shared4/lsrc" "$v/pub/lnk"
    [ -e "$e/pub/lnk" ] && fail "$mode: a hard link to root's file was made"
    intact "$e/shared4/lsrc" secret

    # What the kernel allows the user on others' files still works: running a program they may
    # execute but not read (0711), and touching (to now) a file they may write (0666); with the
    # write-back cache a relaxed mount's kernel sends that touch as given times.
    cp /bin/true "$e/pub/xonly" && chmod 711 "$e/pub/xonly"
    nobody "$v/pub/xonly" || fail "$mode: a 0711 program could not be run by another user"
    echo shared >"$e/pub/o666" && chmod 666 "$e/pub/o666"
    nobody touch "$v/pub/o666" || fail "$mode: touch of another user's 0666 file"
    nobody sh -c "echo more >>'$v/pub/o666'" || fail "$mode: append to another user's 0666 file"
    nobody ln "$v/pub/o666" "$v/pub/o666-link" || fail "$mode: a hard link of a 0666 file"
    [ "$(stat -c %h "$e/pub/o666")" = 2 ] || fail "$mode: the 0666 file's link count"

    # The user's own files change as asked.
    nobody sh -c "echo hello world >'$v/pub/own' && chmod 640 '$v/pub/own' &&
        truncate -s 5 '$v/pub/own' && touch -d @100 '$v/pub/own' && touch '$v/pub/own' &&
        chgrp 65534 '$v/pub/own' && echo more >>'$v/pub/own' && ln '$v/pub/own' '$v/pub/own2'" ||
        fail "$mode: the user's changes to their own file"
    [ "$(stat -c %a:%u:%g:%s "$e/pub/own")" = 640:65534:65534:10 ] ||
        fail "$mode: the user's own file: $(stat -c %a:%u:%g:%s "$e/pub/own")"
    fusermount3 -u "$m" || fail "$mode: fusermount3 -u"
done
rm -rf "${exp:?}" # the trap removes the (empty) shared directory
finish
