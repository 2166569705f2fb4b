#!/usr/bin/env bash
# Recorder overhead: one allocation-heavy real program (python3, PYTHONMALLOC=malloc) untraced,
# under `allocmark record` (end to end: the program run and the conversion to a .amt trace, the
# figure issue 13 bounds at 1.3x) and under heaptrack; prints median wall and CPU times side by
# side, the load average before and after, and the trace's peak live bytes.
# Layer: bench (a benchmark, not a test: it asserts nothing).
#
# Usage: bench/record_overhead.sh [RUNS] [N]
#   RUNS  runs per mode (default 5); N  work size of the python loop (default 300000, ~1.5 s)
#   ALLOCMARK_BIN  the allocmark binary (default build/release/harness/allocmark)
#   PYTHON         the python3 to record (default: the interpreter python3 on PATH resolves to)
#   BASE_BIN       optional: a second allocmark (e.g. an older build) timed in the same rounds
#   BASE_RECORD_LIB  its libamk_record.so when it cannot find its own
set -euo pipefail

RUNS=${1:-5}
N=${2:-300000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ALLOCMARK=${ALLOCMARK_BIN:-$ROOT/build/release/harness/allocmark}
[[ -x $ALLOCMARK ]] || { echo "record_overhead: $ALLOCMARK is not built (set ALLOCMARK_BIN)" >&2; exit 2; }
# The real interpreter, not a pyenv shim: a shim would be one more process under every tool.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
command -v heaptrack > /dev/null || { echo "record_overhead: heaptrack missing (apt-get install -y heaptrack)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "record_overhead: /usr/bin/time missing (apt-get install -y time)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/record-overhead.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# Every object through malloc: dicts, lists, tuples, strings, bytes; freed as the dict churns.
cat > "$WORK/work.py" <<'EOF'
import sys
n = int(sys.argv[1])
d = {}
total = 0
for i in range(n):
    s = str(i) * (1 + i % 7)
    d[s] = [i, s, (i, i + 1), {"k": i}]
    if i % 3 == 0:
        d.pop(str(i // 2) * (1 + (i // 2) % 7), None)
    total += len(s)
chunks = [bytes(i % 300) for i in range(n // 4)]
print(len(d), total, sum(len(c) for c in chunks))
EOF
export PYTHONMALLOC=malloc PYTHONHASHSEED=0

# One timed run: appends "wall cpu" (cpu = user + sys of the whole command) to $WORK/$1.
timed() {
  local mode=$1
  shift
  /usr/bin/time -f "%e %U %S" -o "$WORK/t" "$@" > /dev/null 2> "$WORK/err" || {
    echo "record_overhead: $mode failed:" >&2
    cat "$WORK/err" >&2
    exit 1
  }
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$WORK/t" >> "$WORK/$mode"
}

median() {  # median of column $2 of file $1
  sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "record_overhead: $PYTHON work.py $N (PYTHONMALLOC=malloc), $RUNS runs per mode, interleaved"
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "allocmark: $ALLOCMARK; $(heaptrack --version 2>&1 | head -1)"
# Peak live bytes of the trace just written, from the line allocmark record prints.
peak() { sed -n 's/.*py\.amt: .*peak live \([0-9]*\) bytes.*/\1/p' "$WORK/err"; }
for ((i = 0; i < RUNS; ++i)); do
  timed untraced "$PYTHON" "$WORK/work.py" "$N"
  timed record "$ALLOCMARK" record -o "$WORK/py.amt" -- "$PYTHON" "$WORK/work.py" "$N"
  # The program's own share, from the line allocmark record prints after the run.
  sed -n 's/.*program ran \([0-9.]*\) s (cpu \([0-9.]*\) s).*/\1 \2/p' "$WORK/err" >> "$WORK/record-program"
  # What is left after it exits: the last records, the end of the trace file, its metadata.
  sed -n 's/.*converted in \([0-9.]*\) s after it.*/\1/p' "$WORK/err" >> "$WORK/record-tail"
  echo "record $(peak)" >> "$WORK/peaks"
  if [[ -n ${BASE_BIN:-} ]]; then
    timed base env ${BASE_RECORD_LIB:+ALLOCMARK_RECORD_LIB=$BASE_RECORD_LIB} "$BASE_BIN" record \
      -o "$WORK/py.amt" -- "$PYTHON" "$WORK/work.py" "$N"
    echo "base $(peak)" >> "$WORK/peaks"
  fi
  timed heaptrack heaptrack -o "$WORK/ht" "$PYTHON" "$WORK/work.py" "$N"
  rm -f "$WORK"/ht*.zst "$WORK/py.amt"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "events recorded: $("$ALLOCMARK" record -o "$WORK/py.amt" -- "$PYTHON" "$WORK/work.py" "$N" 2>&1 >/dev/null | sed -n 's/.*: \([0-9]*\) events.*/\1/p')"

base_wall=$(median "$WORK/untraced" 1)
base_cpu=$(median "$WORK/untraced" 2)
printf '%-40s %9s %9s %9s %9s\n' mode "wall s" slowdown "cpu s" slowdown
row() {
  local name=$1 file=$2 wall cpu
  wall=$(median "$WORK/$file" 1)
  cpu=$(median "$WORK/$file" 2)
  printf '%-40s %9.3f %8.2fx %9.3f %8.2fx\n' "$name" "$wall" "$(echo "$wall / $base_wall" | bc -l)" \
    "$cpu" "$(echo "$cpu / $base_cpu" | bc -l)"
}
row "untraced" untraced
row "allocmark record: program run" record-program
row "allocmark record, end to end" record
[[ -z ${BASE_BIN:-} ]] || row "BASE_BIN record, end to end" base
printf '%-40s %9.3f\n' "allocmark record: after the program" "$(median "$WORK/record-tail" 1)"
row "heaptrack (incl. its interpreter)" heaptrack
# Peak live bytes differ by a few hundred bytes between runs (python3's start-up is not quite
# deterministic); the range per binary shows that they agree.
awk '{ if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2; if ($2 > hi[$1]) hi[$1] = $2 }
     END { for (b in lo) printf "peak live bytes (%s): %s .. %s\n", b, lo[b], hi[b] }' "$WORK/peaks"
