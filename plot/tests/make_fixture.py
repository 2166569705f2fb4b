#!/usr/bin/env python3
"""Writes synthetic but realistic allocmark run directories for tests and timing.
Layer: plot/tests helper; standard library only. Not a benchmark: numbers are made up.

The result lines and meta.json are synthetic; summary.json is not: `$ALLOCMARK_BIN summarize`
writes it, exactly as at the end of a real run, so the tests see the one statistics engine.

    make_fixture.py OUT [--workloads 20] [--allocators 8] [--reps 5] [--threads 1,4] [--aa]
"""
import argparse
import json
import math
import os
import random
import subprocess
from pathlib import Path

ALLOCATORS = ["glibc", "mimalloc", "tcmalloc", "jemalloc", "bump", "arena", "pool", "null",
              "tbbmalloc", "custom"]
# allocator -> (ns per event, fragmentation, keeps freed memory, scales with threads)
PROFILE = {
    "glibc": (38.0, 1.35, False, 0.55), "mimalloc": (21.0, 1.15, False, 0.9),
    "tcmalloc": (24.0, 1.45, True, 0.85), "jemalloc": (27.0, 1.2, False, 0.85),
    "bump": (6.0, 3.2, True, 0.95), "arena": (11.0, 1.9, True, 0.9),
    "pool": (9.0, 1.6, False, 0.9), "null": (3.0, 0.02, False, 1.0),
    "tbbmalloc": (26.0, 1.5, False, 0.8), "custom": (30.0, 1.3, False, 0.7),
}
WORKLOADS = ["churn", "larson", "systemui", "xmalloc", "cache-scratch", "cache-thrash",
             "glibc-bench", "mstress", "rptest", "alloc-test", "sh6bench", "sh8bench", "cfrac",
             "espresso", "barnes", "leanN", "redis", "lua", "gs", "z3"]
MIB = 1 << 20


def _same_as(alloc):
    """An A/A copy ("glibc-aa") behaves as what it copies."""
    return alloc[:-3] if alloc.endswith("-aa") else alloc


def _profile(alloc):
    return PROFILE.get(_same_as(alloc), (30.0, 1.3, False, 0.7))


def _shape(n, kind):
    """Live-bytes shape in [0, 1] over n samples."""
    out = []
    for i in range(n):
        x = i / (n - 1)
        if kind == 0:      # ramp, plateau with churn, release
            v = min(1.0, x * 3) * (1.0 if x < 0.85 else (1 - x) / 0.15)
            v *= 0.93 + 0.07 * math.sin(x * 60)
        elif kind == 1:    # sawtooth
            v = (x * 5) % 1.0
        else:              # steady growth
            v = x
        out.append(max(0.0, min(1.0, v)))
    return out


def record(workload, alloc, threads, rep, rng, *, wl_index=0, timeline=True, latency=True,
           wall_ns=None):
    ns, frag, keeps, scale = _profile(alloc)
    events = 200_000 + 150_000 * (wl_index % 7)
    live_peak = int((2 + 13 * (wl_index % 5)) * MIB)
    wl_factor = 0.6 + 0.15 * (wl_index % 6)
    # Each allocator has good and bad workloads: a stable per-(workload, allocator) factor.
    cell_rng = random.Random(f"{workload}/{_same_as(alloc)}")
    affinity = 1.0 if _same_as(alloc) == "glibc" else math.exp(cell_rng.gauss(0, 0.45))
    if alloc == "bump":
        frag *= 1 + 4 * (wl_index % 4 == 3)  # never frees: some traces blow up
    speedup = 1 + (threads - 1) * scale
    noise = math.exp(rng.gauss(0, 0.02 + 0.06 * (wl_index % 9 == 4)))
    if wall_ns is None:
        wall_ns = int(events * ns * affinity * wl_factor / speedup * noise)
    base_rss = 8 * MIB + 4096 * (wl_index % 3)
    peak_rss = base_rss + int(live_peak * frag * math.exp(rng.gauss(0, 0.005)))
    rec = {
        "workload": workload, "trace": f"traces/{workload}.amt", "allocator": alloc,
        "allocator_kind": "native" if alloc in ("bump", "arena", "pool") else "preload",
        "threads": threads, "rep": rep, "status": "ok", "replay_mode": "threads",
        "events": events, "wall_ns": wall_ns, "ops_per_sec": events / (wall_ns / 1e9),
        "ns_per_op": wall_ns / events, "user_ns": int(wall_ns * 0.95),
        "sys_ns": int(wall_ns * 0.04), "baseline_rss_bytes": base_rss,
        "peak_rss_bytes": peak_rss, "final_rss_bytes": peak_rss if keeps else base_rss + MIB,
        "drained_rss_bytes": peak_rss if keeps else base_rss, "peak_live_bytes": live_peak,
        "final_live_bytes": 0, "fragmentation": (peak_rss - base_rss) / live_peak,
        "utilisation": live_peak / (peak_rss - base_rss), "minor_faults": peak_rss // 4096,
        "major_faults": 0, "voluntary_switches": 3, "involuntary_switches": 1,
        "options": {},
    }
    if latency:
        p50 = ns * 0.7
        rec["latency"] = {
            "malloc": {"samples": events // 2, "p50": p50, "p90": p50 * 1.7, "p99": p50 * 4.5,
                       "p999": p50 * 14, "max": p50 * 300},
            "free": {"samples": events // 2, "p50": p50 * 0.6, "p90": p50, "p99": p50 * 3,
                     "p999": p50 * 9, "max": p50 * 150},
        }
    if timeline:
        n = 240
        shape = _shape(n, wl_index % 3)
        rss, high = [], 0.0
        for v in shape:
            high = max(high, v)
            held = high if keeps else v
            rss.append(base_rss + int(live_peak * frag * held))
        rec["timeline"] = {
            "t_ns": [int(wall_ns * i / (n - 1)) for i in range(n)],
            "rss": rss,
            "live": [int(live_peak * v) for v in shape],
        }
    return rec


def meta(allocators, workloads, threads, reps, seed=1, aa=None, precision=None, max_reps=None):
    """meta.json as `allocmark run` writes it (schema 2: plan.baseline, aa, precision)."""
    base = "glibc" if "glibc" in allocators else allocators[0]
    table = {a: {"kind": "native" if a in ("bump", "arena", "pool") else "preload",
                 "path": f"/usr/lib/x86_64-linux-gnu/lib{_same_as(a)}.so", "version": "1.0"}
             for a in allocators}
    if aa:
        table[aa]["aa_of"] = _same_as(aa)
    return {
        "schema_version": 2, "allocmark_version": "0.1.0", "git_revision": "0123abcd",
        "command_line": ["allocmark", "run", "--reps", str(reps)],
        "started": "2024-06-01T10:00:00Z", "finished": "2024-06-01T10:07:12Z",
        "machine": {"hostname": "bench-1", "cpu_model": "AMD EPYC 7B13", "cores": 16,
                    "governor": "performance", "thp": "madvise", "aslr": 2,
                    "kernel": "6.1.0-18-amd64", "memory_bytes": 64 * 1024 ** 3},
        "build": {"compiler": "g++ 12.2.0", "flags": "-O2 -g -DNDEBUG",
                  "build_type": "RelWithDebInfo"},
        "allocators": table,
        "harness_cost": 3.1,
        "plan": {"allocators": allocators, "workloads": workloads, "threads": threads,
                 "reps": reps, "seed": seed, "baseline": base, "aa": aa,
                 "precision": precision, "max_reps": max_reps or reps},
    }


class FixtureError(Exception):
    """The fixture cannot be written as asked (e.g. no allocmark binary to summarize with)."""


def summarize(out, allocmark=None):
    """Writes out/summary.json with the real statistics engine: `allocmark summarize OUT`."""
    allocmark = allocmark or os.environ.get("ALLOCMARK_BIN")
    if not allocmark:
        raise FixtureError("ALLOCMARK_BIN must name the built allocmark (ctest sets it): "
                           "summary.json comes from `allocmark summarize`, not from Python")
    res = subprocess.run([allocmark, "summarize", str(out), "--quiet"], capture_output=True,
                         text=True, timeout=120)
    if res.returncode != 0:
        raise FixtureError(f"{allocmark} summarize {out}: exit {res.returncode}: {res.stderr}")


def make_run(out, allocators=("glibc", "mimalloc", "jemalloc"), workloads=("churn", "larson"),
             reps=5, threads=(1,), seed=1, failures=None, timeline=True, latency=True,
             write_meta=True, wall_ns=None, aa=False, precision=0.05, max_reps=None,
             summary=True):
    """Writes out/meta.json, out/results.jsonl and out/summary.json; returns out as a Path.

    failures: {(workload, allocator, threads): [(rep or None for every rep, status, detail)]}
    wall_ns: optional f(workload, allocator, threads, rep) -> exact wall_ns, for known answers.
    aa: add the baseline's A/A copy ("glibc-aa"), as `allocmark run` does by default.
    precision, max_reps: the plan's precision target (None: off) and repetition cap.
    summary: run `$ALLOCMARK_BIN summarize` (raises FixtureError without the binary).
    """
    allocators = list(allocators)
    aa_name = None
    if aa:
        aa_name = ("glibc" if "glibc" in allocators else allocators[0]) + "-aa"
        allocators.append(aa_name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    failures = failures or {}
    lines = []
    for wi, w in enumerate(workloads):
        for t in threads:
            for a in allocators:
                for rep in range(reps):
                    fixed = wall_ns(w, a, t, rep) if wall_ns else None
                    rec = record(w, a, t, rep, rng, wl_index=wi, timeline=timeline,
                                 latency=latency, wall_ns=fixed)
                    for frep, status, detail in failures.get((w, a, t), []):
                        if frep is None or frep == rep:
                            rec = {k: rec[k] for k in ("workload", "trace", "allocator",
                                                       "allocator_kind", "threads", "rep")}
                            rec.update(status=status, detail=detail)
                    lines.append(json.dumps(rec))
    (out / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if write_meta:
        (out / "meta.json").write_text(
            json.dumps(meta(allocators, list(workloads), list(threads), reps, seed, aa_name,
                            precision, max_reps), indent=2), encoding="utf-8")
    if summary:
        summarize(out)
    return out


def downgrade_summary_to_schema_1(d):
    """Rewrites d/summary.json as allocmark wrote it before schema 2: no baseline, ratios,
    verdicts or precision (readers must still serve such runs)."""
    data = json.loads((Path(d) / "summary.json").read_text())
    data["schema_version"] = 1
    for k in ("baseline", "noise_floor", "precision"):
        data.pop(k)
    for c in data["cells"]:
        c.pop("vs_baseline")
        c.pop("precision")
    (Path(d) / "summary.json").write_text(json.dumps(data))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--workloads", type=int, default=20)
    p.add_argument("--allocators", type=int, default=8)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", default="1")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--aa", action="store_true", help="add the baseline's A/A copy")
    a = p.parse_args()
    wl = (WORKLOADS * 10)[:a.workloads]
    wl = [w if i < len(WORKLOADS) else f"{w}-{i}" for i, w in enumerate(wl)]
    have_bin = bool(os.environ.get("ALLOCMARK_BIN"))
    make_run(a.out, ALLOCATORS[:a.allocators], wl, a.reps,
             [int(t) for t in a.threads.split(",")], a.seed, aa=a.aa, summary=have_bin)
    print(a.out if have_bin else f"{a.out} (no summary.json: set ALLOCMARK_BIN to write it)")


if __name__ == "__main__":
    main()
