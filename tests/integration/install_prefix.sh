# The install (issue 18): `cmake --install` into a temporary prefix, moved elsewhere afterwards
# (relocatable: nothing points back at the build tree or the first prefix); from there the
# zoid-plugin example built with pkg-config and with find_package(Zepto) and served by the
# installed zepto, the ktau example built and profiled, every subcommand's --help, a few real
# runs (noise record, bigmem run, report --quick), and the Lmod modulefile with Debian's lmod.
. "$(dirname "$0")/lib.sh"
: "${BIN:?BIN must name the bin directory of the build tree}"
build=$(cd "$BIN/.." && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }

# Install, then move: the prefix the files were installed for no longer exists.
if ! cmake --install "$build" --prefix "$WORK/first" >"$WORK/install.log" 2>&1; then
    echo "FAIL: cmake --install: $(tail -5 "$WORK/install.log")" >&2
    exit 1
fi
mv "$WORK/first" "$WORK/prefix"
P=$WORK/prefix
pc=$(find "$P" -name zoid.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no zoid.pc in the install" >&2; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
export PATH="$P/bin:$PATH" PKG_CONFIG_PATH="$libdir/pkgconfig" CMAKE_PREFIX_PATH="$P"
unset ZEPTO_BIGMEM_LIB ZEPTO_KTAU_LIB ZOID_PRELOAD_LIB
[ "$(command -v zepto)" = "$P/bin/zepto" ] || fail "zepto is not the installed one"

# What a user builds against, with versioned libraries.
for f in include/zepto/zoid.h include/zepto/zoid_plugin.h include/zepto/zoid_codec.h \
    include/zepto/ktau.h include/zepto/noise.h include/zepto/zepto.h bin/zepto; do
    [ -e "$P/$f" ] || fail "the install has no $f"
done
for f in zepto-ktau.pc zoid.pc; do
    [ -f "$libdir/pkgconfig/$f" ] || fail "the install has no $f"
done
for f in ZeptoConfig.cmake ZeptoConfigVersion.cmake ZeptoTargets.cmake; do
    [ -f "$libdir/cmake/Zepto/$f" ] || fail "the install has no cmake/Zepto/$f"
done
for lib in libzoid libktau; do
    readelf -d "$libdir/$lib.so" 2>/dev/null | grep -q "SONAME.*\[$lib\.so\.1\]" ||
        fail "$lib.so has no SONAME $lib.so.1"
done
for lib in libzoid-preload.so libzepto-bigmem.so; do
    [ -f "$libdir/$lib" ] || fail "the install has no $lib"
done
# No build-tree or first-prefix path: in the text files, in RPATH/RUNPATH, in read-only data.
for f in $(find "$P" -type f); do
    if file -b "$f" | grep -q ELF; then
        text=$(readelf -d "$f" 2>/dev/null | grep -E 'RPATH|RUNPATH'; readelf -p .rodata "$f" 2>/dev/null)
    else
        text=$(cat "$f")
    fi
    case "$text" in
    *"$build"* | *"$WORK/first"*) fail "$f names the build tree or the install-time prefix" ;;
    esac
done
# incdir: the -I directory of pkg-config --cflags zoid, resolved (the .pc is relative to itself).
incdir() { (cd "$(pkg-config --cflags-only-I zoid | sed 's/^-I//; s/ *$//')" 2>/dev/null && pwd); }
[ "$(incdir)" = "$P/include" ] || fail "pkg-config --cflags zoid: $(pkg-config --cflags zoid)"

# Every subcommand's --help, from the installed zepto.
cmds=$(zepto --help | sed -n '/^commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p')
[ "$(echo "$cmds" | wc -w)" -ge 6 ] || fail "zepto --help lists too few commands: $cmds"
for c in $cmds; do
    expect_ok zepto "$c" --help
    subs=$(zepto "$c" --help 2>/dev/null | sed -n '/^commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p')
    for s in $subs; do
        expect_ok zepto "$c" "$s" --help
    done
done

# The zoid-plugin example, built with pkg-config: `zepto zoid gen` from the install, the plugin
# with --cflags only, the client library over -lzoid.
ex=$src/examples/zoid-plugin
k=$WORK/kv-pc
mkdir -p "$k/plugins"
expect_ok zepto zoid gen "$ex/kv.h" -o "$k/gen"
expect_ok cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags zoid) -I"$ex" -I"$k/gen" \
    "$k/gen/kv_server.c" "$ex/kv_impl.c" -o "$k/plugins/libkv_zoid.so" -pthread
expect_ok cc -shared -fPIC $(pkg-config --cflags zoid) -I"$ex" -I"$k/gen" "$k/gen/kv_client.c" \
    -o "$k/libkv.so" $(pkg-config --libs zoid) -Wl,-rpath,"$libdir"
expect_ok cc -I"$ex" "$ex/kv_demo.c" -o "$k/kv_demo" -L"$k" -lkv -Wl,-rpath,"$k" -pthread

# The same example with find_package(Zepto) (its CMakeLists.txt on its own).
if ! cmake -S "$ex" -B "$WORK/kv-cmake" -DCMAKE_BUILD_TYPE=Release >"$WORK/kv-cmake.log" 2>&1 ||
    ! cmake --build "$WORK/kv-cmake" -j2 >>"$WORK/kv-cmake.log" 2>&1; then
    fail "examples/zoid-plugin with find_package(Zepto): $(tail -5 "$WORK/kv-cmake.log")"
fi

# Both served by the installed daemon: the tour answers right through each client.
sock="$WORK/kv.sock"
mkdir -p "$WORK/export"
zepto zoid serve --listen "unix:$sock" --export "$WORK/export" --plugin-dir "$k/plugins" \
    2>"$WORK/daemon.log" &
daemon=$!
trap 'kill -9 $daemon 2>/dev/null' EXIT
for _ in $(seq 200); do
    [ -S "$sock" ] && break
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.05
done
[ -S "$sock" ] || fail "the installed daemon did not start: $(cat "$WORK/daemon.log")"
for demo in "$k/kv_demo" "$WORK/kv-cmake/kv_demo"; do
    [ -x "$demo" ] || continue
    ZOID_SERVER="unix:$sock" "$demo" run >"$WORK/stdout" 2>&1 ||
        fail "$demo run: $(cat "$WORK/stdout")"
    grep -q "^0 wrong" "$WORK/stdout" || fail "$demo run: $(cat "$WORK/stdout")"
done
[ -x "$WORK/kv-cmake/kv_demo" ] || fail "the find_package build made no kv_demo"
kill "$daemon"
wait "$daemon" 2>/dev/null
trap - EXIT

# The ktau example with pkg-config (its Makefile), and a find_package(Zepto) build of it.
mkdir -p "$WORK/ktau"
cp "$src/examples/ktau/jacobi.c" "$src/examples/ktau/Makefile" "$WORK/ktau/"
expect_ok make -C "$WORK/ktau" jacobi
mkdir -p "$WORK/ktau-cmake"
cp "$src/examples/ktau/jacobi.c" "$WORK/ktau-cmake/"
cat >"$WORK/ktau-cmake/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(jacobi C)
find_package(Zepto REQUIRED)
add_executable(jacobi jacobi.c)
target_link_libraries(jacobi PRIVATE Zepto::ktau m)
CM
if ! cmake -S "$WORK/ktau-cmake" -B "$WORK/ktau-cmake/b" >"$WORK/ktau-cmake.log" 2>&1 ||
    ! cmake --build "$WORK/ktau-cmake/b" >>"$WORK/ktau-cmake.log" 2>&1; then
    fail "jacobi with find_package(Zepto): $(tail -5 "$WORK/ktau-cmake.log")"
fi
nm "$WORK/ktau-cmake/b/jacobi" 2>/dev/null | grep -q __cyg_profile_func_enter ||
    fail "Zepto::ktau did not bring -finstrument-functions"
# Profiled by the installed zepto (libktau found next to it): the example's routines are there.
if [ -x "$WORK/ktau/jacobi" ]; then
    expect_ok zepto ktau run -o "$WORK/prof" -- "$WORK/ktau/jacobi"
    expect_ok zepto ktau show "$WORK/prof"
    grep -q init_rows "$WORK/stdout" || fail "ktau show: no init_rows routine: $(head -5 "$WORK/stdout")"
fi

# Real runs of the helpers found next to the installed zepto.
expect_ok zepto noise record -d 100ms -c 0 -o "$WORK/n.znt"
expect_ok zepto noise analyse "$WORK/n.znt"
expect_ok zepto bigmem run -- true
expect_ok zepto report --quick -o "$WORK/report"
[ -s "$WORK/report/report.json" ] || fail "report --quick wrote no report.json"

# The Lmod modulefile, found under the moved prefix.
lmod_init=/usr/share/lmod/lmod/init/bash
if [ -r "$lmod_init" ]; then
    out=$(env -i PATH=/usr/bin:/bin HOME="$WORK" bash -c "
        . $lmod_init >/dev/null 2>&1
        module use '$P/share/lmod/modulefiles' && module load zepto || exit 3
        command -v zepto; cd \"\$(pkg-config --cflags-only-I zoid | sed 's/^-I//; s/ *\$//')\" && pwd; echo \"\$CMAKE_PREFIX_PATH\"; echo \"\$MANPATH\"" 2>&1)
    echo "$out" | grep -qx "$P/bin/zepto" || fail "module load zepto: zepto not on PATH: $out"
    echo "$out" | grep -qx "$P/include" || fail "module load zepto: pkg-config: $out"
    echo "$out" | grep -q "$P/share/man" || fail "module load zepto: MANPATH: $out"
else
    fail "no Lmod ($lmod_init): run scripts/deps.sh"
fi
finish
