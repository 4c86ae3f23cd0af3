# Seeds for fuzz_noise_sync, written into the directory $1: a registration line (first byte even)
# and a list of a recording's traces (first byte odd), as src/noise/rendezvous.c writes them.
set -eu
dir=$1
mkdir -p "$dir"
printf '\000zepto-noise-sync 1 rank=1 host=zn2 boot=76c1eae8-e7f4 cpus=1,3-5 t=1796373756017581600\n' \
    >"$dir/register"
printf '\001zepto-noise-nodes 1 job=slurm-5.0 tasks=3\nzn1.znt\nvm.r1.znt\nvm.r2.znt\n' >"$dir/nodes"
