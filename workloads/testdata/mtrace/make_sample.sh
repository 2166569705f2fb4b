#!/bin/sh
# Regenerates sample.log (the mtrace importer's test data) from sample.c on Debian 12 (glibc 2.36).
# Since glibc 2.34 mtrace() only logs when libc_malloc_debug.so is preloaded.
set -eu
cd "$(dirname "$0")"
debug_lib=/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0
[ -e "$debug_lib" ] || { echo "make_sample.sh: $debug_lib not found (package libc6)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O0 -g -o "$tmp/sample" sample.c
LD_PRELOAD="$debug_lib" MALLOC_TRACE="$tmp/sample.log" "$tmp/sample"
# The caller field names the binary by its temporary path: make it stable.
sed "s|$tmp/sample|./sample|g" "$tmp/sample.log" > sample.log
echo "wrote $(pwd)/sample.log ($(wc -l < sample.log) lines)"
