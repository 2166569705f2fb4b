#!/bin/sh
# The ALLOCMARK_TRACK=1 report under a malloc library must point at the leak: a C program built
# with -g -rdynamic that leaks three 5000-byte blocks from one function, and python3 leaking one
# 12345-byte block through ctypes among its interpreter blocks. Also a double free names where
# the block was allocated and first freed. Layer: allocators/shim tests (CTest label e2e).
# usage: leak_report_test.sh LIB BACKEND CC [PYTHON3]
set -eu
lib=$1 backend=$2 cc=$3 python=${4:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/amk-leak.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL ($backend): $*" >&2; exit 1; }

cat > "$work/leak.c" <<'EOF'
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void* leaky_function(size_t n) {
  void* p = malloc(n);
  memset(p, 1, n);
  return p;
}

__attribute__((noinline)) void* make_block(void) { return malloc(48); }
__attribute__((noinline)) void release_block(void* p) { free(p); }
__attribute__((noinline)) void release_again(void* p) { free(p); }

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "double-free") == 0) {
    void* p = make_block();
    release_block(p);
    release_again(p);
    return 0;
  }
  for (int i = 0; i < 3; ++i) leaky_function(5000);  /* the pointers are dropped */
  void* kept = malloc(100);
  free(kept);
  return 0;
}
EOF
"$cc" -g -O0 -rdynamic -o "$work/leak" "$work/leak.c" || fail "cannot build the leak program"

# Site lines are indented under their section header; the lost section comes first.
sites() { grep '^allocmark tracking:   [0-9]* bytes in ' "$1" || true; }

# 1. C: the first site line is the leak, in the lost section, named after its function.
ALLOCMARK_TRACK=1 LD_PRELOAD="$lib" "$work/leak" 2> "$work/c.err" || fail "leak program failed"
first=$(sites "$work/c.err" | head -1)
case $first in
  *"15000 bytes in 3 blocks from leaky_function"*) ;;
  *) echo "--- report:" >&2; cat "$work/c.err" >&2; fail "first site line is not the leak: $first" ;;
esac
header=$(grep -m1 ': lost ' "$work/c.err" || true)
case $header in
  *"15000 bytes in 3 blocks from 1 call site"*) ;;
  *) cat "$work/c.err" >&2; fail "lost header does not hold exactly the leak: $header" ;;
esac
echo "ok: C leak: $first"

# 2. Double free: the error line names the second free, the allocation and the first free.
ALLOCMARK_TRACK=1 LD_PRELOAD="$lib" "$work/leak" double-free 2> "$work/df.err" ||
  fail "double-free program failed"
grep -q 'double free of .* at release_again' "$work/df.err" &&
  grep -q '  allocated at make_block' "$work/df.err" &&
  grep -q '  first freed at release_block' "$work/df.err" ||
  { cat "$work/df.err" >&2; fail "double-free lines do not name the three sites"; }
echo "ok: double free: $(grep -m1 'double free of' "$work/df.err")"

# 3. python3 (its own pymalloc on, as people run it): the ctypes leak among the first 5 sites.
if [ -n "$python" ]; then
  ALLOCMARK_TRACK=1 LD_PRELOAD="$lib" "$python" -c \
    'import ctypes; ctypes.CDLL(None).malloc(12345)' 2> "$work/py.err" || fail "python3 failed"
  top=$(sites "$work/py.err" | head -5)
  case $top in
    *"12345 bytes in 1 block from "*) ;;
    *) head -30 "$work/py.err" >&2; fail "python3: the 12345-byte leak is not in the first 5 sites" ;;
  esac
  echo "ok: python3 leak: $(echo "$top" | grep -m1 '12345 bytes' | cut -c1-160)"
fi
