#!/usr/bin/env bash
# pool against the best general allocator, per workload, from one run (issue 13): runs the
# standard suite with null, glibc, mimalloc, tcmalloc, jemalloc, pool, bump and arena (cells
# interleaved, so the ratios are same-run ratios) and prints, per workload and thread count, the
# best general allocator's median, pool's, pool ÷ best, pool's fragmentation (memory median ÷
# peak live bytes, as the report's chart), then the geometric means of every allocator ÷ best.
# With --suite programs it compares pool-malloc (the drop-in library) on the real programs.
#
# Usage: bench/pool_vs_best.sh [BUILD_DIR] [--suite standard|programs] [--from RUN_DIR]
#                              [-- extra allocmark run flags, e.g. --reps 5 --budget 300]
# --from reads an existing run directory instead of running (no new measurement).
# Cost: the standard suite with 8 allocators, ~3-6 minutes on 2 cores (the default --budget of
# `run` bounds the precision rounds); the programs suite ~5-10 minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/../build/release"
suite=standard
from=""
extra=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build="$1"
  shift
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) suite="$2"; shift 2 ;;
    --from) from="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "pool_vs_best: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

general="glibc,mimalloc,tcmalloc,jemalloc"
if [ "$suite" = programs ]; then
  candidate=pool-malloc
  allocators="$general,pool-malloc"
else
  candidate=pool
  allocators="null,$general,pool,bump,arena"
fi

run_dir="$from"
if [ -z "$run_dir" ]; then
  run_dir="$(mktemp -d /tmp/pool_vs_best.XXXXXX)/run"
  "$build/harness/allocmark" run --suite "$suite" --allocators "$allocators" --no-report \
    --quiet --out "$run_dir" "${extra[@]}" >/dev/null
fi
echo "run: $run_dir"

/usr/bin/python3 - "$run_dir" "$general" "$candidate" <<'EOF'
import json, math, statistics, sys
from collections import defaultdict

run_dir, general, candidate = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
summary = json.load(open(f"{run_dir}/summary.json"))
live = {}  # (workload, threads) -> the trace's peak live bytes (the same in every line)
for line in open(f"{run_dir}/results.jsonl"):
    r = json.loads(line)
    if r.get("status") == "ok" and r.get("peak_live_bytes"):
        live[(r["workload"], r.get("threads", 1))] = r["peak_live_bytes"]

# The metric a cell ranks on (time, or in-call time for threaded replays with more trace
# threads than cores; summary.json's rank_metric), per group and allocator.
cells = defaultdict(dict)
memory = {}
for c in summary["cells"]:
    metric = c.get("rank_metric") or "time"
    m = c.get(metric) or {}
    if c.get("n", 0) > 0 and m.get("median"):
        key = (c["workload"], c["threads"])
        cells[key][c["allocator"]] = m["median"]
        memory[(key, c["allocator"])] = (c.get("memory") or {}).get("median")

def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")

ratios = defaultdict(list)
others = sorted({a for g in cells.values() for a in g} - set(general) - {"null", "glibc-aa"})
print(f"{'workload':22} {'thr':>3} {'best':>9} {'best/ev':>9} {candidate + '/ev':>11} "
      f"{candidate + '/best':>10} {'frag':>6}")
for key in sorted(cells):
    g = cells[key]
    have = [a for a in general if a in g]
    if not have:
        continue
    best = min(have, key=lambda a: g[a])
    for a in have + others:
        if a in g:
            ratios[a].append(g[a] / g[best])
    if candidate not in g:
        print(f"{key[0]:22} {key[1]:>3} {best:>9} {g[best]:9.2f} {'-':>11}")
        continue
    mem, pl = memory.get((key, candidate)), live.get(key)
    frag = f"{mem / pl:6.2f}" if mem is not None and pl else f"{'-':>6}"
    print(f"{key[0]:22} {key[1]:>3} {best:>9} {g[best]:9.2f} {g[candidate]:11.2f} "
          f"{g[candidate] / g[best]:10.3f} {frag}")
print()
print("geometric mean of each allocator ÷ the best general allocator, per cell:")
for a in general + others:
    if ratios[a]:
        print(f"  {a:12} {geomean(ratios[a]):.3f}  ({len(ratios[a])} cells)")
EOF
