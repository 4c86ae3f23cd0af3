#!/bin/bash
# Static data and code in huge pages (issue 17), paired rounds in one run: the Fortran program of
# tests/helpers/bigmem_static_common.f90 (512 MiB COMMON block + module array) plain / bigmem
# heap only / heap + --static / libhugetlbfs `hugectl --heap`; and a generated switch-dispatch
# program (large text) with and without --text. Medians and min-max of wall time and page faults.
# usage: bench/bigmem_static.sh [BUILD_DIR] [ROUNDS]   (root: raises the 2M pool, restored)
set -u
B=${1:-build}
R=${2:-5}
Z=$B/bin/zepto
H=$(dirname "$0")/../tests/helpers
T=$(mktemp -d)
pool=/proc/sys/vm/nr_hugepages
old=$(cat $pool)
exec 9>/run/lock/zepto-report-hugepages.lock
flock -w 150 9 || echo "note: pool lock held by another; going on"
trap 'echo "$old" >$pool; rm -rf "$T"' EXIT
echo $((old + 340)) >$pool 2>/dev/null
gfortran -O2 -J "$T" -o "$T/common" "$H/bigmem_static_common.f90" "$H/bigmem_static_minflt.c" || exit 1
# The text-heavy program: 1500 functions of a switch over 64 cases each, called in a random
# (but fixed) order: several MiB of code, touched all over.
awk 'BEGIN{srand(7); print "#include <stdio.h>\n#include <stdlib.h>";
  for(f=0;f<1500;f++){ printf "static unsigned long f%d(unsigned long x){switch(x&63){",f;
    for(c=0;c<64;c++) printf "case %d: x=x*%d+%d; x^=x>>%d; break;",c,int(rand()*1e6)*2+1,int(rand()*1e6),1+c%13;
    print "}return x;}"}
  printf "typedef unsigned long (*fn)(unsigned long);\nstatic fn t[1500]={"; for(f=0;f<1500;f++) printf "f%d,",f; print "};";
  print "int main(void){unsigned long x=1,s=0;for(long i=0;i<20000000;i++){x=x*6364136223846793005ul+1442695040888963407ul;s+=t[(x>>33)%1500](s+i);}printf(\"%lu\\n\",s);return 0;}"}' >"$T/sw.c"
gcc -O0 -o "$T/sw" "$T/sw.c" || exit 1
echo "text of the switch program: $(size "$T/sw" | awk 'NR==2{print $1}') bytes; load: $(uptime)"
hc=""
if command -v hugectl >/dev/null; then hc=hugectl; else
    echo "note: hugectl (libhugetlbfs-bin) not installed: its --heap column is left out"; fi
# one CMD...: prints "seconds faults" of one run
one() {
    /usr/bin/time -f "%e %R" -o "$T/t" "$@" >/dev/null 2>"$T/err" || { echo "FAIL"; return; }
    cat "$T/t"
}
declare -A W F
kinds="plain heap heap+static"
[ -n "$hc" ] && kinds="$kinds hugectl"
tkinds="text-plain text-thp text-2M"
for r in $(seq "$R"); do
    for k in $kinds; do
        case $k in
        plain) o=$(one "$T/common") ;;
        heap) o=$(one "$Z" bigmem run --pages 2M --size 64M -- "$T/common") ;;
        heap+static) o=$(one "$Z" bigmem run --pages 2M --size 64M --static -- "$T/common") ;;
        hugectl) o=$(one hugectl --heap "$T/common") ;;
        esac
        W[$k]+="${o% *} " F[$k]+="${o#* } "
    done
    for k in $tkinds; do
        case $k in
        text-plain) o=$(one "$T/sw") ;;
        text-thp) o=$(one "$Z" bigmem run --pages thp --size 64M --text -- "$T/sw") ;;
        text-2M) o=$(one "$Z" bigmem run --pages 2M --size 64M --text -- "$T/sw") ;;
        esac
        W[$k]+="${o% *} " F[$k]+="${o#* } "
    done
done
stat() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{printf "%s (%s-%s)", a[int((NR+1)/2)], a[1], a[NR]}'; }
printf "%-12s %-28s %s\n" kind "wall s median (min-max)" "page faults median (min-max)"
for k in $kinds $tkinds; do
    printf "%-12s %-28s %s\n" "$k" "$(echo "${W[$k]}" | stat)" "$(echo "${F[$k]}" | stat)"
done
