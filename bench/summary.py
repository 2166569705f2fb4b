#!/usr/bin/env python3
"""Summarise allocmark micro-benchmark JSON: ns per operation and ratios to mimalloc.

Layer: bench. Standard library only. Usage: summary.py allocators.json [tcmalloc.json ...]
Reads Google Benchmark JSON (plain runs or the median aggregate of repetitions), groups by
(kind, size, threads), and prints each allocator's CPU ns per operation per thread (cpu_time /
batch: robust on a shared machine), its ratio to mimalloc in the same run, and the 2-thread /
1-thread throughput scaling from wall-clock items_per_second (needs otherwise idle cores).
Exit status 2 on unreadable input.
"""
import json
import re
import sys

NAME = re.compile(r"BM_(?P<kind>Allocate|Pair)_(?P<alloc>\w+?)/(?P<size>\d+)/real_time/threads:(?P<threads>\d+)")
IN_HOUSE = ("bump", "arena", "pool")
ORDER = ("bump", "arena", "pool", "null", "glibc", "mimalloc", "tcmalloc")


def load(paths):
    """Returns {(kind, alloc, size, threads): (cpu ns/op, items_per_second)} and contexts."""
    rows, contexts = {}, []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"summary.py: {path}: {e}", file=sys.stderr)
            sys.exit(2)
        contexts.append((path, doc.get("context", {})))
        for b in doc.get("benchmarks", []):
            if b.get("error_occurred"):
                m = NAME.match(b.get("run_name", b["name"]))
                if m:
                    rows[(m["kind"], m["alloc"], int(m["size"]), int(m["threads"]))] = None
                continue
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            m = NAME.match(b.get("run_name", b["name"]))
            if not m or "items_per_second" not in b or not b.get("batch"):
                continue
            scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            ns = b["cpu_time"] * scale / b["batch"]
            rows[(m["kind"], m["alloc"], int(m["size"]), int(m["threads"]))] = (
                ns, b["items_per_second"])
    return rows, contexts


def ns_per_op(row):
    return None if row is None else row[0]


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    rows, contexts = load(argv[1:])
    for path, ctx in contexts:
        print(f"# {path}: {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} cpus, "
              f"{ctx.get('mhz_per_cpu', '?')} MHz, {ctx.get('date', '')}")
    allocs = [a for a in ORDER if any(k[1] == a for k in rows)]
    allocs += sorted({k[1] for k in rows} - set(allocs))
    for kind in ("Allocate", "Pair"):
        keys = sorted({(k[2], k[3]) for k in rows if k[0] == kind})
        if not keys:
            continue
        print(f"\n{kind}: CPU ns per operation per thread (x = ratio to mimalloc, same run)")
        print("size thr " + "".join(f"{a:>16}" for a in allocs))
        for size, threads in keys:
            mi = ns_per_op(rows.get((kind, "mimalloc", size, threads)))
            cells = []
            for a in allocs:
                if (kind, a, size, threads) not in rows:
                    cells.append(f"{'-':>16}")
                    continue
                ns = ns_per_op(rows[(kind, a, size, threads)])
                if ns is None:
                    cells.append(f"{'skipped':>16}")
                elif a in IN_HOUSE and mi:
                    cells.append(f"{ns:8.2f} {ns / mi:5.2f}x ")
                else:
                    cells.append(f"{ns:15.2f} ")
            print(f"{size:>4} {threads:>3} " + "".join(cells))
        print(f"{kind}: wall-clock throughput scaling, 2 threads / 1 thread")
        for a in allocs:
            ratios = []
            for size in sorted({k[2] for k in rows if k[0] == kind and k[1] == a}):
                one, two = rows.get((kind, a, size, 1)), rows.get((kind, a, size, 2))
                if one and two:
                    ratios.append(f"{size}:{two[1] / one[1]:.2f}")
            if ratios:
                print(f"  {a:>9}: " + "  ".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
