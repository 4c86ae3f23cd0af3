# Seeds for fuzz_signatures (the format is in fuzz_signatures.c): a 1 ms tick with an 8 us
# detour every 3 ms, and random gaps. Usage: bash signature_seeds.sh DIR
set -eu
python3 - "$1" <<'PY'
import random, struct, sys
d = sys.argv[1]
def write(name, span_ms, detours):
    with open(f"{d}/{name}", "wb") as f:
        f.write(struct.pack("<I", span_ms))
        last = 0
        for start, length in detours:
            f.write(struct.pack("<IH", start - last, length))
            last = start
tick = [(t * 1000000 + 150000, 5000) for t in range(2000)]
inj = [(t * 3000000 + 570000, 8000) for t in range(666)]
write("tick_and_3ms", 2000, sorted(tick + inj))
random.seed(1)
t, rnd = 0, []
while len(rnd) < 3000:
    t += int(random.expovariate(1 / 500000)) + 1
    rnd.append((t, random.randint(1000, 4000)))
write("poisson", 1600, rnd)
PY
