#!/usr/bin/env python3
"""Tables for bench/fidelity_probe.sh. Usage: report.py cg|startup|cpu|faults DIR. Standard library."""
import glob
import json
import os
import statistics
import sys

ALLOCS = ["glibc", "mimalloc", "tcmalloc", "jemalloc", "pool-malloc"]
PROGRAMS = ["python", "perl", "lua", "sqlite", "z3"]
GHZ = 2.6  # this machine's clock: estimated cycles -> ms


def load(path):
    with open(path) as f:
        return json.load(f)


def m(x):
    return f"{x / 1e6:.1f}"


def cg(d):
    print("callgrind --cache-sim=yes, D1 48 KiB as the host, LL simulated as the 2 MiB L2.")
    print("M = millions. alloc: self cost inside the allocator (the preloaded library, or glibc's")
    print("malloc functions in libc.so.6); rest: everything else (the program, or the replay loop")
    print("and its touching). est = Ir + 10 x L1 misses + 100 x LL misses (cachegrind's estimate).")
    for p in PROGRAMS:
        rows = {}
        for a in ALLOCS:
            try:
                rows[a] = (load(f"{d}/{p}.prog.{a}.json"), load(f"{d}/{p}.replay.{a}.json"))
            except (OSError, ValueError):
                pass
        if "glibc" not in rows:
            continue
        info = load(f"{d}/{p}.info.json")
        print(f"\n## {p}: {info['events']} recorded events")
        print("| allocator | program Ir M (alloc / rest) | program D1 misses M (alloc / rest) "
              "| program L2 (LLd) misses K (alloc / rest) | replay Ir M (alloc / rest) "
              "| replay D1 misses M (alloc / rest) | replay LLd K (alloc / rest) "
              "| Δest ms vs glibc: program alloc / program rest / replay alloc / replay rest |")
        print("|---|---|---|---|---|---|---|---|")
        gp, gr = rows["glibc"]
        for a, (pr, rr) in rows.items():
            def dm(x, g, part):
                return (x[part]["est_cycles"] - g[part]["est_cycles"]) / GHZ / 1e6
            print(f"| {a} | {m(pr['allocator']['Ir'])} / {m(pr['rest']['Ir'])} "
                  f"| {m(pr['allocator']['D1_misses'])} / {m(pr['rest']['D1_misses'])} "
                  f"| {pr['allocator']['LLd_misses'] / 1e3:.0f} / {pr['rest']['LLd_misses'] / 1e3:.0f} "
                  f"| {m(rr['allocator']['Ir'])} / {m(rr['rest']['Ir'])} "
                  f"| {m(rr['allocator']['D1_misses'])} / {m(rr['rest']['D1_misses'])} "
                  f"| {rr['allocator']['LLd_misses'] / 1e3:.0f} / {rr['rest']['LLd_misses'] / 1e3:.0f} "
                  f"| {dm(pr, gp, 'allocator'):+.1f} / {dm(pr, gp, 'rest'):+.1f} / "
                  f"{dm(rr, gr, 'allocator'):+.1f} / {dm(rr, gr, 'rest'):+.1f} |")
        ev = info.get("events_by_op", {})
        calls, outside = gp["calls"], gp.get("calls_from_outside_libc", {})
        print("calls under glibc (callgrind; all / from outside libc) against trace events: " +
              ", ".join(f"{k} {calls.get(k, 0)} / {outside.get(k, 0)} / {ev.get(k, 0)}"
                        for k in sorted(set(calls) | set(ev))))
        meta = info.get("metadata", {})
        if isinstance(meta, dict) and "unknown_frees" in meta:
            print(f"unknown frees (allocated before recording): {meta['unknown_frees']}")


def cg_summary(d):
    """Per program: Δ of the whole estimate, program against replay, and the locality part."""
    print("\nSummary, estimated ms at 2.6 GHz against glibc, for mimalloc / tcmalloc / jemalloc /"
          " pool-malloc:")
    print("| program | glibc program est ms | program Δ total | replay Δ total | program Δ rest "
          "(the program's own code: locality) | replay − program, % of the program |")
    print("|---|---|---|---|---|---|")
    for p in PROGRAMS:
        try:
            rows = {a: (load(f"{d}/{p}.prog.{a}.json"), load(f"{d}/{p}.replay.{a}.json"))
                    for a in ALLOCS}
        except (OSError, ValueError):
            continue
        ms = lambda x, part: x[part]["est_cycles"] / GHZ / 1e6
        gp, gr = rows["glibc"]
        base = ms(gp, "total")
        cols = [[], [], [], []]
        for a in ALLOCS[1:]:
            pr, rr = rows[a]
            dp = ms(pr, "total") - base
            dr = ms(rr, "total") - ms(gr, "total")
            cols[0].append(f"{dp:+.1f}")
            cols[1].append(f"{dr:+.1f}")
            cols[2].append(f"{ms(pr, 'rest') - ms(gp, 'rest'):+.1f}")
            cols[3].append(f"{(dr - dp) / base * 100:+.1f}")
        print(f"| {p} | {base:.0f} | " + " | ".join(" / ".join(c) for c in cols) + " |")


def startup(d):
    res = load(f"{d}/hyperfine.json")["results"]
    print(open(f"{d}/load.txt").read().strip())
    print("| allocator | /bin/true ms (median, mean ± sd) | python3 -c pass ms | "
          "/bin/true instructions | python3 -c pass instructions |")
    print("|---|---|---|---|---|")
    by = {r["command"]: r for r in res}
    for a in ALLOCS:
        cells = []
        for key in ("/bin/true", "python3 -c pass"):
            r = next((v for c, v in by.items() if key in c and
                      (("LD_PRELOAD" in c and a in c.replace("libamk_pool", "pool-malloc")
                        .replace("tcmalloc_minimal", "tcmalloc")) or
                       (a == "glibc" and "LD_PRELOAD" not in c))), None)
            cells.append("-" if r is None else
                         f"{r['median'] * 1e3:.2f} ({r['mean'] * 1e3:.2f} ± {r['stddev'] * 1e3:.2f})")
        irs = []
        for b in ("true", "python3"):
            try:
                irs.append(f"{int(open(f'{d}/{a}.{b}.ir').read().split()[0]):,}")
            except (OSError, ValueError, IndexError):
                irs.append("-")
        print(f"| {a} | {cells[0]} | {cells[1]} | {irs[0]} | {irs[1]} |")


def cpu(d):
    print(open(f"{d}/load.txt").read().strip())
    print("| program | glibc | mimalloc | jemalloc | glibc again |  (user + sys ms, mean of 10)")
    print("|---|---|---|---|---|")
    for p in ("z3", "perl", "sqlite"):
        try:
            res = load(f"{d}/{p}.json")["results"]
        except OSError:
            continue
        print(f"| {p} | " + " | ".join(f"{(r['user'] + r['system']) * 1e3:.0f}" for r in res) + " |")


def faults(vdir):
    print("medians over repetitions; Δ against glibc. replay heap = peak RSS − baseline RSS.")
    print("| program | allocator | program minor faults (Δ) | replay minor faults (Δ) | "
          "program sys ms (Δ) | replay sys ms (Δ) | program peak RSS MiB | replay heap MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for pdir in sorted(glob.glob(f"{vdir}/validate/*/")):
        name = os.path.basename(pdir.rstrip("/"))
        def lines(kind):
            out = {}
            path = f"{pdir}/{kind}/results.jsonl"
            if not os.path.exists(path):
                return out
            for l in open(path):
                r = json.loads(l)
                if r.get("status") != "ok":
                    continue
                out.setdefault(r["allocator"], []).append(r)
            return out
        prog, rep = lines("program"), lines("replay")
        if "glibc" not in prog or "glibc" not in rep:
            continue
        def med(rs, f):
            return statistics.median(f(r) for r in rs)
        # The replay of a tree sums its traces: group by rep, then sum.
        def rep_sum(rs, f):
            by = {}
            for r in rs:
                by[r["rep"]] = by.get(r["rep"], 0) + f(r)
            return statistics.median(by.values())
        g = {"pf": med(prog["glibc"], lambda r: r["minor_faults"]),
             "rf": rep_sum(rep["glibc"], lambda r: r["minor_faults"]),
             "ps": med(prog["glibc"], lambda r: r["sys_ns"]) / 1e6,
             "rs": rep_sum(rep["glibc"], lambda r: r["sys_ns"]) / 1e6}
        for a in ALLOCS:
            if a not in prog or a not in rep:
                continue
            pf = med(prog[a], lambda r: r["minor_faults"])
            rf = rep_sum(rep[a], lambda r: r["minor_faults"])
            ps = med(prog[a], lambda r: r["sys_ns"]) / 1e6
            rs = rep_sum(rep[a], lambda r: r["sys_ns"]) / 1e6
            prss = med(prog[a], lambda r: r["peak_rss_bytes"]) / 2**20
            rheap = rep_sum(rep[a], lambda r: r["peak_rss_bytes"] - r["baseline_rss_bytes"]) / 2**20
            print(f"| {name} | {a} | {pf:.0f} ({pf - g['pf']:+.0f}) | {rf:.0f} ({rf - g['rf']:+.0f}) "
                  f"| {ps:.0f} ({ps - g['ps']:+.0f}) | {rs:.0f} ({rs - g['rs']:+.0f}) "
                  f"| {prss:.1f} | {rheap:.1f} |")


if __name__ == "__main__":
    {"cg": lambda d: (cg(d), cg_summary(d)), "startup": startup, "cpu": cpu, "faults": faults}[sys.argv[1]](sys.argv[2])
