#!/bin/sh
# Regenerates the valgrind importer's test data (sample_c.log, sample_cxx.log) from sample_c.c and
# sample_cxx.cc with `valgrind --trace-malloc=yes` (Debian 12: valgrind 3.19, gcc 12).
set -eu
cd "$(dirname "$0")"
command -v valgrind >/dev/null || { echo "make_samples.sh: valgrind not installed" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O0 -g -o "$tmp/sample_c" sample_c.c
c++ -std=c++17 -O0 -g -o "$tmp/sample_cxx" sample_cxx.cc
# valgrind writes the trace to stderr; --log-file keeps the program's own output out of it.
valgrind --trace-malloc=yes --log-file=sample_c.log "$tmp/sample_c"
valgrind --trace-malloc=yes --log-file=sample_cxx.log "$tmp/sample_cxx"
# The command line names the temporary directory: make it stable.
sed -i "s|$tmp/|./|g" sample_c.log sample_cxx.log
wc -l sample_c.log sample_cxx.log
