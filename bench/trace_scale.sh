#!/usr/bin/env bash
# Traces of any length (issue 13 item 5): generates a churn trace of 2 x STEPS events, then
# checks it (`trace info`) and replays it under glibc, printing events per second and the peak
# RSS of each step and the replay's baseline RSS (its harness memory before the first
# allocation) and heap growth. Layer: bench (a measurement; it asserts nothing).
#
# Usage: bench/trace_scale.sh [STEPS] [DIR]
#   STEPS  churn steps (default 500000000: 10^9 events, ~1.2 GB on disk, a few minutes)
#   DIR    where the trace and the run go (default: a temporary folder, removed at the end)
#   ALLOCMARK_BIN  the allocmark binary (default build/release/harness/allocmark)
set -euo pipefail

STEPS=${1:-500000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ALLOCMARK=${ALLOCMARK_BIN:-$ROOT/build/release/harness/allocmark}
[[ -x $ALLOCMARK ]] || { echo "trace_scale: $ALLOCMARK is not built (set ALLOCMARK_BIN)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "trace_scale: /usr/bin/time missing (apt-get install -y time)" >&2; exit 2; }
if [[ -n ${2:-} ]]; then
  WORK=$2
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/trace-scale.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
PY=$(command -v /usr/bin/python3 || command -v python3)

step() {  # NAME COMMAND...: runs it under /usr/bin/time, prints seconds and peak RSS
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || {
    echo "trace_scale: $name failed:" >&2
    tail -5 "$WORK/$name.err" >&2
    exit 1
  }
  read -r secs kib < "$WORK/time"
  echo "$secs $kib"
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r gen_s gen_kib < <(step gen "$ALLOCMARK" trace gen churn --param "steps=$STEPS" -o "$WORK/churn.amt")
events=$("$ALLOCMARK" trace info --json "$WORK/churn.amt" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["events"])')
read -r info_s info_kib < <(step info "$ALLOCMARK" trace info "$WORK/churn.amt")
read -r run_s run_kib < <(step run "$ALLOCMARK" run --trace "$WORK/churn.amt" --allocators glibc \
  --reps 1 --warmup 0 --no-aa --precision off --no-report --quiet --out "$WORK/run")
"$PY" - "$WORK/run/results.jsonl" "$events" "$gen_s" "$gen_kib" "$info_s" "$info_kib" "$run_s" "$run_kib" <<'PYEOF'
import json, sys
path, events = sys.argv[1], int(sys.argv[2])
gen_s, gen_kib, info_s, info_kib, run_s, run_kib = map(float, sys.argv[3:])
line = json.loads(open(path).readline())
mib = lambda b: b / 2**20
print(f"events                  {events:,}")
print(f"trace gen               {gen_s:.1f} s, {events / gen_s / 1e6:.1f} M events/s, peak RSS {gen_kib / 1024:.0f} MiB")
print(f"trace info (check)      {info_s:.1f} s, {events / info_s / 1e6:.1f} M events/s, peak RSS {info_kib / 1024:.0f} MiB")
print(f"run (check + replay)    {run_s:.1f} s, largest process peak RSS {run_kib / 1024:.0f} MiB")
print(f"replay                  {line['status']}, {line['ns_per_op']:.2f} ns/event, "
      f"baseline RSS {mib(line['baseline_rss_bytes']):.1f} MiB, "
      f"heap (peak - baseline) {mib(line['peak_rss_bytes'] - line['baseline_rss_bytes']):.1f} MiB")
PYEOF
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
