#!/bin/sh
# Builds the libFuzzer targets of workloads/ with clang (ASan + UBSan) into build/fuzz and runs
# each for SECONDS (default 10). Usage: workloads/fuzz/run.sh [SECONDS] [TARGET...]
# Exit status: 0 all clean, 1 a target crashed (input under build/fuzz/artifacts/), 2 no clang.
# ALLOCMARK_FUZZ_OUT overrides the output folder (CTest puts it in its build tree).
# ALLOCMARK_FUZZ_FLAGS adds libFuzzer flags, e.g. "-runs=10000000" for the long runs of README.md
# (the run stops at whichever of -runs and SECONDS comes first).
# Needs clang (Debian package clang), libzstd-dev, libxxhash-dev, zlib1g-dev.
set -eu
seconds=${1:-10}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${ALLOCMARK_FUZZ_OUT:-"$root/build/fuzz"}
cxx=${CLANGXX:-clang++}
command -v "$cxx" >/dev/null 2>&1 || { echo "run.sh: $cxx not found (apt install clang)" >&2; exit 2; }
targets=${*:-"trace_reader trace_payload android text malloclab mtrace valgrind"}
flags="-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=undefined -I$root"
libs=$(pkg-config --libs libzstd libxxhash zlib)
mkdir -p "$out/obj" "$out/artifacts"

# The library part the targets need, compiled once with coverage instrumentation; a source is
# rebuilt when it or any workloads or base header is newer than its object.
newest_header=$(ls -t "$root"/workloads/*.h "$root"/workloads/importers/*.h "$root"/base/*.h |
                head -n 1)
objs=""
for src in "$root"/base/atomic_file.cc \
           "$root"/workloads/trace.cc "$root"/workloads/trace_builder.cc \
           "$root"/workloads/trace_check.cc "$root"/workloads/trace_file.cc \
           "$root"/workloads/trace_order.cc "$root"/workloads/trace_stream.cc \
           "$root"/workloads/importers.cc "$root"/workloads/importers/*.cc; do
  case "$src" in *_test.cc) continue ;; esac
  obj="$out/obj/$(echo "${src#$root/}" | tr / _).o"
  if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
    echo "compile ${src#$root/}"
    # shellcheck disable=SC2086
    "$cxx" $flags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  objs="$objs $obj"
done

status=0
for t in $targets; do
  case "$t" in
    trace_reader | trace_payload) src="$root/workloads/fuzz/${t}_fuzz.cc"; defs="" ;;
    *) src="$root/workloads/fuzz/importer_fuzz.cc"; defs="-DALLOCMARK_FUZZ_IMPORTER=\"$t\"" ;;
  esac
  echo "build fuzz_$t"
  # shellcheck disable=SC2086
  "$cxx" $flags -fsanitize=fuzzer $defs "$src" $objs $libs -o "$out/fuzz_$t"
  work="$out/work/$t"  # new inputs land here, never in the seed corpus under version control
  mkdir -p "$work"
  dict="$root/workloads/fuzz/dict/$t.dict"
  dict_flag=""
  [ -e "$dict" ] && dict_flag="-dict=$dict"
  echo "run fuzz_$t for ${seconds}s"
  # shellcheck disable=SC2086
  if ! "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=2048 -artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 \
      ${ALLOCMARK_FUZZ_FLAGS:-} $dict_flag "$work" "$root/workloads/fuzz/corpus/$t" \
      > "$out/$t.log" 2>&1; then
    echo "fuzz_$t FAILED: see $out/$t.log and $out/artifacts/" >&2
    tail -n 40 "$out/$t.log" >&2
    status=1
  else
    grep -E "^stat::number_of_executed_units|^Done" "$out/$t.log" | tr '\n' ' '
    echo
  fi
done
exit $status
