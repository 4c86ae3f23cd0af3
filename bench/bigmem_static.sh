#!/bin/bash
# Static data and code in huge pages (issue 17), paired rounds in one run: the Fortran program of
# tests/helpers/bigmem_static_common.f90 (512 MiB COMMON block + module array) plain / bigmem
# heap only / heap + --static / libhugetlbfs `hugectl --heap`; and a generated switch-dispatch
# program (large text) with and without --text. Medians and min-max of wall time and page faults.
# hugectl: Debian's libhugetlbfs0 ships only libhugetlbfs.so.0 (the unversioned name hugectl
# preloads is in -dev), so it is preloaded by that name; before the rounds, a 256 MiB malloc is
# run plain and under hugectl --heap with HUGETLB_VERBOSE=3, and what libhugetlbfs said and the
# heap's smaps are printed: with glibc >= 2.34 there is no __morecore, and it does nothing.
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
if command -v hugectl >/dev/null && ldconfig -p | grep -q libhugetlbfs.so.0; then hc=hugectl; else
    echo "note: hugectl / libhugetlbfs0 not installed: its --heap column is left out"; fi
if [ -n "$hc" ]; then
    cat >"$T/heap.c" <<'EOF2'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
int main(void)
{
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    char *p = malloc(256 << 20);
    memset(p, 1, 256 << 20);
    getrusage(RUSAGE_SELF, &b);
    FILE *f = fopen("/proc/self/smaps", "r");
    char l[512];
    long h = 0, ah = 0, v;
    while (fgets(l, sizeof l, f)) {
        if (sscanf(l, "Private_Hugetlb: %ld", &v) == 1) h += v;
        if (sscanf(l, "AnonHugePages: %ld", &v) == 1) ah += v;
    }
    printf("256 MiB malloc: faults %ld, hugetlb %ld kB, AnonHugePages %ld kB\n",
           b.ru_minflt - a.ru_minflt, h, ah);
    return p[12345] - 1;
}
EOF2
    gcc -O2 -o "$T/heap" "$T/heap.c" || exit 1
    echo "glibc: $(ldd --version | head -1)"
    echo "plain:            $("$T/heap")"
    echo "hugectl --heap:   $(LD_PRELOAD=libhugetlbfs.so.0 HUGETLB_VERBOSE=3 hugectl --heap "$T/heap" 2>"$T/hc.err")"
    echo "what hugectl and libhugetlbfs printed (HUGETLB_VERBOSE=3), the lines that matter:"
    grep -E "morecore|MORECORE|LD_PRELOAD|remapping|ERROR" "$T/hc.err" | sed 's/^/    /'
    echo "zepto bigmem run: $("$Z" bigmem run --pages 2M --size 320M -- "$T/heap")"
fi
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
        hugectl) o=$(one env LD_PRELOAD=libhugetlbfs.so.0 hugectl --heap "$T/common") ;;
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
