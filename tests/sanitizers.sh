#!/usr/bin/env bash
# Sanitizer run: builds the asan (ASan+UBSan) and tsan presets of the allocator and replay unit
# tests only, runs them, prints one summary line per preset. Layer: tests (CTest `sanitizers`).
#
# Usage: tests/sanitizers.sh [asan] [tsan]        (default: both)
# Env:   ALLOCMARK_CMAKE, ALLOCMARK_CTEST  cmake/ctest to use (default: from PATH)
#        ALLOCMARK_SANITIZER_JOBS          parallel build and test jobs (default: nproc)
# Build dirs are the presets' own: build/asan, build/tsan (reused: a second run only rebuilds
# what changed). Exit status 0 only when every preset configured, built and passed.
set -u

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmake="${ALLOCMARK_CMAKE:-cmake}"
ctest="${ALLOCMARK_CTEST:-ctest}"
jobs="${ALLOCMARK_SANITIZER_JOBS:-$(nproc)}"
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(asan tsan)

# Only what the sanitizers are for: the in-house allocators (bump_embedded_test is not built
# under sanitizers: it interposes mmap) and the replay engine's own test binary (replay_test links
# the replay library only, not the parent: that keeps the asan build to about 2 minutes).
targets=(bump_test arena_test pool_test tracking_test null_allocator_test options_test replay_test)
tests='^(Bump|Arena|Pool|Tracking|NullAllocator|Options|Replay|BlockChecker)\.'

# Sanitizer reports fail the test instead of scrolling past; TSan's second-deadlock detector and
# ASan's leak check stay on (the allocators must not leak their own metadata).
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"

summary=()
status=0
for preset in "${presets[@]}"; do
  build="$root/build/$preset"
  log="$build.sanitizers.log"
  start=$SECONDS
  mkdir -p "$root/build"
  echo "== $preset: configure + build (${targets[*]}), log: $log"
  if ! { "$cmake" -S "$root" --preset "$preset" -DALLOCMARK_SANITIZER_TESTS=OFF &&
         "$cmake" --build "$build" -j "$jobs" --target "${targets[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log"
    summary+=("$preset: BUILD FAILED after $((SECONDS - start)) s (see $log)")
    status=1
    continue
  fi
  built=$((SECONDS - start))
  echo "== $preset: run"
  # A high-entropy ASLR layout can make TSan refuse to start ("unexpected memory mapping"):
  # retry once without randomisation when setarch is there.
  run=("$ctest" --test-dir "$build" -L unit -R "$tests" -j "$jobs" --output-on-failure
       --no-tests=error)
  out="$("${run[@]}" 2>&1)"
  rc=$?
  if [ $rc -ne 0 ] && [ "$preset" = tsan ] && grep -q "unexpected memory mapping" <<<"$out" &&
     command -v setarch >/dev/null; then
    out="$(setarch "$(uname -m)" -R "${run[@]}" 2>&1)"
    rc=$?
  fi
  echo "$out" | tail -n 60
  line="$(grep -E 'tests passed' <<<"$out" | tail -n 1)"
  if [ $rc -eq 0 ]; then
    summary+=("$preset: ok, ${line:-no count} (build ${built} s, total $((SECONDS - start)) s)")
  else
    summary+=("$preset: FAILED, ${line:-no count} (build ${built} s, total $((SECONDS - start)) s)")
    status=1
  fi
done

echo "== sanitizers summary"
printf '  %s\n' "${summary[@]}"
exit $status
