#!/usr/bin/env python3
"""Split a callgrind --cache-sim=yes profile into the allocator's own cost and the rest.

Usage: cg_split.py CALLGRIND_OUT ALLOCATOR_LIB_SUBSTRING|glibc
Prints one JSON object: totals, the allocator's part (self cost of functions in the preloaded
library, or glibc's malloc functions in libc.so.6 when nothing is preloaded), the rest, and the
number of calls made to each malloc-family entry point (from any caller, libc's own included;
and from callers outside libc.so.6 alone).
Standard library only; reads callgrind's compressed-name format (bench/fidelity/README in
docs/fidelity.md, "Measured causes").
"""
import json
import re
import sys

GLIBC_MALLOC = re.compile(
    r"^(__libc_)?(malloc|free|calloc|realloc|memalign|posix_memalign|aligned_alloc|valloc|"
    r"pvalloc|cfree|reallocarray)$|^_int_|malloc_consolidate|sysmalloc|systrim|unlink_chunk|"
    r"tcache|ptmalloc|arena_get|_mid_memalign|^malloc_|^__malloc_")
ENTRY = {"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
         "memalign", "valloc", "pvalloc", "_Znwm", "_Znam", "_ZdlPv", "_ZdaPv", "_ZdlPvm",
         "_ZdaPvm", "_ZnwmRKSt9nothrow_t", "_ZnwmSt11align_val_t", "_ZdlPvSt11align_val_t",
         "_ZdlPvmSt11align_val_t", "strdup", "strndup"}


def parse(path):
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl",
               "cfl": "fl", "fn": "fn", "cfn": "fn"}
    events = []
    self_cost = {}  # (ob, fn) -> [costs]
    calls_to = {}   # (cob, cfn) -> count
    ob = fn = cob = cfn = None
    skip_next = False
    pending_calls = 0
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip_next:
                    skip_next = False
                    # (callee, whether the caller is outside libc): glibc's realloc(NULL, n)
                    # and the like call malloc inside libc; the recorder sees one call.
                    key = (cfn, not (ob and "libc.so" in ob))
                    calls_to[key] = calls_to.get(key, 0) + pending_calls
                    cob = None
                    continue
                parts = line.split()
                vals = [int(x) for x in parts[1:]]
                acc = self_cost.setdefault((ob, fn), [0] * len(events))
                for i, v in enumerate(vals):
                    acc[i] += v
                continue
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            if line.startswith("calls="):
                pending_calls = int(line[6:].split()[0])
                skip_next = True
                continue
            m = re.match(r"^(ob|fl|fi|fe|fn|cob|cfi|cfl|cfn)=(?:\((\d+)\))?\s*(.*)$", line)
            if m:
                key, ident, name = m.group(1), m.group(2), m.group(3)
                table = names[kind_of[key]]
                if ident is not None:
                    if name:
                        table[ident] = name
                    name = table.get(ident, name)
                if key == "ob":
                    ob = name
                elif key == "fn":
                    fn = name
                    cob = None
                elif key == "cob":
                    cob = name
                elif key == "cfn":
                    cfn = name
    return events, self_cost, calls_to


def main():
    path, lib = sys.argv[1], sys.argv[2]
    events, self_cost, calls_to = parse(path)
    idx = {e: i for i, e in enumerate(events)}

    def is_alloc(ob, fn):
        if lib == "glibc":
            return bool(ob and "libc.so" in ob and fn and GLIBC_MALLOC.search(fn))
        # tcmalloc_minimal's malloc and free fast paths show under the object "???" (valgrind
        # does not map them to the library): the entry points there are the allocator's too.
        return bool(ob and lib in ob) or (ob in (None, "???") and fn in ENTRY)

    tot = [0] * len(events)
    alloc = [0] * len(events)
    for (ob, fn), v in self_cost.items():
        for i, x in enumerate(v):
            tot[i] += x
            if is_alloc(ob, fn):
                alloc[i] += x

    def fig(v):
        g = lambda e: v[idx[e]] if e in idx else 0
        d1 = g("D1mr") + g("D1mw")
        lld = g("DLmr") + g("DLmw")
        return {"Ir": g("Ir"), "D1_misses": d1, "LLd_misses": lld, "I1_misses": g("I1mr"),
                "LLi_misses": g("ILmr"),
                # cachegrind's rough cycle estimate: Ir + 10 x L1 misses + 100 x LL misses
                "est_cycles": g("Ir") + 10 * (d1 + g("I1mr")) + 100 * (lld + g("ILmr"))}
    rest = [a - b for a, b in zip(tot, alloc)]
    calls, outside = {}, {}
    for (cfn, from_outside), n in calls_to.items():
        if cfn in ENTRY:
            calls[cfn] = calls.get(cfn, 0) + n
            if from_outside:
                outside[cfn] = outside.get(cfn, 0) + n
    print(json.dumps({"total": fig(tot), "allocator": fig(alloc), "rest": fig(rest),
                      "calls": calls, "calls_from_outside_libc": outside}))


if __name__ == "__main__":
    main()
