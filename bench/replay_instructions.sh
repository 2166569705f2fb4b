#!/usr/bin/env bash
# Instructions per replayed event, counted by callgrind (repeatable on this noisy machine, where
# perf counters are unavailable), compared with bench/replay_instructions.ref so a change that
# slows the replay loop shows. Usage: bench/replay_instructions.sh [BUILD_DIR] [--update]
# Cost: two small callgrind runs per allocator, about 10 s in all.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-$here/../build/release}"
update="${2:-}"
ref="$here/replay_instructions.ref"
bin="$build/harness/allocmark"
worker="$build/harness/allocmark-worker"
command -v valgrind >/dev/null || { echo "replay_instructions: valgrind is not installed" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The marginal count between two trace lengths cancels start-up, decoding and the final report:
# what is left is the replay loop's cost per event (serial, no memory touching).
"$bin" trace gen churn --param steps=100000 -o "$tmp/small.amt" >/dev/null
"$bin" trace gen churn --param steps=200000 -o "$tmp/large.amt" >/dev/null
events() { "$bin" trace info --json "$1" | sed -n 's/^  "events": \([0-9]*\),$/\1/p'; }
small_events="$(events "$tmp/small.amt")"
large_events="$(events "$tmp/large.amt")"

# allocator class, allocator name, trace, extra worker flags -> instructions inside
# Replayer<class>::run()
count() {
  # shellcheck disable=SC2086  # $4: flags, split on purpose
  valgrind --tool=callgrind --toggle-collect="allocmark::Replayer<$1>::run()" \
    --callgrind-out-file="$tmp/cg.out" "$worker" --trace "$3" --allocator "$2" --kind native \
    --mode serial --touch none --result-fd 1 $4 2>&1 >/dev/null |
    sed -n 's/^==[0-9]*== I *refs: *//p' | tr -d ,
}

status=0
printf '%-8s %12s %12s %8s\n' allocator "instr/event" reference change
new_ref=""
# label|allocator|class[|worker flags]. The default serial replay in-call times one call in 59;
# null-every times every call (the threaded default with more trace threads than cores),
# null-off none (harness/README.md, "Replay").
for entry in "null|null|allocmark::NullAllocator" "pool|pool|allocmark::Pool" \
  "bump|bump|allocmark::Bump" "null-every|null|allocmark::NullAllocator|--in-call-period 1" \
  "null-off|null|allocmark::NullAllocator|--in-call-period 0"; do
  IFS='|' read -r name alloc cls flags <<<"$entry"
  a="$(count "$cls" "$alloc" "$tmp/small.amt" "$flags")"
  b="$(count "$cls" "$alloc" "$tmp/large.amt" "$flags")"
  per="$(awk -v a="$a" -v b="$b" -v n="$small_events" -v m="$large_events" \
    'BEGIN { printf "%.1f", (b - a) / (m - n) }')"
  old="$(awk -v n="$name" '$1 == n { print $2 }' "$ref" 2>/dev/null || true)"
  change="-"
  if [ -n "$old" ]; then
    change="$(awk -v o="$old" -v p="$per" 'BEGIN { printf "%+.1f%%", (p - o) / o * 100 }')"
    # More than 5 % above the reference is a regression of the replay loop (or of the allocator).
    if awk -v o="$old" -v p="$per" 'BEGIN { exit !(p > o * 1.05) }'; then status=1; fi
  fi
  printf '%-8s %12s %12s %8s\n' "$name" "$per" "${old:--}" "$change"
  new_ref+="$name $per"$'\n'
done
if [ "$update" = "--update" ]; then
  { echo "# allocator instructions-per-event (bench/replay_instructions.sh, churn, serial, touch none)"
    printf '%s' "$new_ref"; } > "$ref"
  echo "reference updated: $ref"
elif [ "$status" -ne 0 ]; then
  echo "replay_instructions: more than 5 % above the reference (update with --update if intended)" >&2
fi
exit "$status"
