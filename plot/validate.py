#!/usr/bin/env python3
"""allocmark validate: hold replays against the real programs they were recorded from.
Layer: plot/ entry point; runs $ALLOCMARK_BIN (record, run) and reads their result files.

For each program: record its allocation trace (`allocmark record`), replay the trace under each
allocator (`allocmark run --trace`), run the program itself under each allocator (`allocmark run
--program` or a one-program suite; or take those cells from an earlier run with --from-run), and
compare the change each allocator makes against glibc, predicted against measured
(fidelity.py). Writes OUT/fidelity.json after every program and OUT/fidelity.html.
Usage and method: ../docs/fidelity.md.
"""
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli_args  # noqa: E402
import deps  # noqa: E402
import record_service  # noqa: E402

TOOL = "allocmark validate"
DEFAULT_ALLOCATORS = "glibc,mimalloc,tcmalloc,jemalloc,pool-malloc"
BASELINE = "glibc"
# The start-up probe: a dynamically linked program that does nothing, so its time and memory
# under an allocator are the library's initialisation (docs/fidelity.md, "Start-up").
STARTUP_PROGRAM = shutil.which("true") or "/bin/true"
STARTUP_MIN_REPS = 15


def fail(message):
    sys.stderr.write(f"{TOOL}: {message}\n")
    sys.exit(2)


def parse_args(argv):
    p = cli_args.Parser(prog=TOOL, description=__doc__.split("\n")[0])
    p.add_argument("--program", action="append", default=[], metavar="NAME='CMD ARGS'",
                   help="a program to check (repeatable); runs in the current directory")
    p.add_argument("--suite", help="suite name or file with [[program]] tables")
    p.add_argument("--only", help="comma-separated program names of the suite or run to check")
    p.add_argument("--from-run", metavar="RUNDIR",
                   help="take the program cells from this run; only record and replay")
    p.add_argument("--allocators", help=f"comma-separated (default {DEFAULT_ALLOCATORS}; "
                   "with --from-run: the run's); glibc, the baseline, is always added")
    p.add_argument("--reps", type=int, default=5, help="repetitions per cell (default 5)")
    p.add_argument("--replay", choices=["serial", "threads"], default="serial",
                   help="replay mode of the traces (default serial: see docs/fidelity.md)")
    p.add_argument("--min-events", type=int, default=10000,
                   help="traces of child processes with fewer events are not replayed "
                   "(default 10000; the largest trace always is)")
    p.add_argument("--out", help="output directory (default results/validate-<time>; "
                   "with --from-run: RUNDIR)")
    p.add_argument("--seed", type=int, default=1, help="seed of the runs' cell order")
    p.add_argument("--reanalyse", metavar="OUT",
                   help="recompute OUT/fidelity.json and .html from the result lines already "
                   "in OUT/validate/ (nothing is run)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    a = p.parse_args(argv)
    given = sum(bool(x) for x in (a.program, a.suite, a.from_run))
    if a.reanalyse:
        if given:
            p.error("--reanalyse takes everything from OUT/fidelity.json: nothing else with it")
        return a
    if given == 0:
        p.error("nothing to check: give --program NAME='CMD', --suite FILE or --from-run RUNDIR")
    if a.from_run and given > 1:
        p.error("--from-run takes its programs from the run: no --program or --suite with it")
    if not 1 <= a.reps <= 1000:
        p.error(f"--reps: expected 1..1000, got {a.reps}")
    if a.min_events < 0:
        p.error(f"--min-events: expected 0 or more, got {a.min_events}")
    return a


def known_allocators(binary):
    r = subprocess.run([binary, "list", "allocators"], capture_output=True, text=True)
    names = {}
    for line in r.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3:
            names[parts[0]] = parts[2] == "yes"
    return names


def choose_allocators(text, binary):
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = known_allocators(binary)
    for n in names:
        if "=" in n:
            continue  # NAME=/path/lib.so: allocmark run checks it
        if n not in known:
            fail(f"--allocators: unknown allocator '{n}' (known: {', '.join(sorted(known))})")
        if not known[n]:
            fail(f"--allocators: '{n}' is not available in this build")
        if n in ("bump", "arena", "pool", "null"):
            fail(f"--allocators: '{n}' is native only; a program needs a malloc interface "
                 f"(use {n}-malloc)" if n != "null" else "--allocators: 'null' cannot run a "
                 "program")
    if BASELINE not in names:
        names.insert(0, BASELINE)
    return list(dict.fromkeys(names))


def read_lines(path):
    out = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                raise RuntimeError(f"{path}:{i}: not a JSON line") from None
    return out


def _finite(v):
    """NaN and infinities (a metric with no value) become null: fidelity.json stays JSON."""
    if isinstance(v, float) and v != v or v in (float("inf"), float("-inf")):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


def l2_cache_bytes():
    """The L2 (per-core, unified) cache size from sysfs; None where the kernel does not say."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "level").read_text().strip() != "2":
                continue
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    return None


def locality_note(traces):
    """Whether the program's live heap outgrows the L2: then where the allocator puts objects
    changes the program's own cache misses, which an allocation-only replay cannot see
    (docs/fidelity.md: sqlite, 20 MB live, +30 % of its own L2 misses under mimalloc)."""
    l2 = l2_cache_bytes()
    live = max((t["peak_live_bytes"] for t in traces), default=0)
    note = {"peak_live_bytes": live, "l2_bytes": l2,
            "heap_exceeds_l2": bool(l2 and live > l2)}
    if note["heap_exceeds_l2"]:
        note["warning"] = (f"peak live heap {live / 2**20:.1f} MiB exceeds the {l2 / 2**20:g} MiB "
                           f"L2: the allocator's placement changes the program's own cache "
                           f"misses, which the replay does not see")
    return note


def startup_summary(lines, allocators):
    """{allocator: median wall, CPU, peak RSS of the start-up program} for fidelity.json."""
    import statistics

    import fidelity
    out = {}
    for a in allocators if lines else []:
        series = fidelity.startup_series(lines, a)
        if series["wall"]:
            out[a] = {"wall_ns": statistics.median(series["wall"]),
                      "cpu_ns": statistics.median(series["cpu"]),
                      "peak_rss_bytes": statistics.median(series["rss"]),
                      "reps": len(series["wall"])}
    return {"program": STARTUP_PROGRAM, "allocators": out} if out else None


def write_json(path, obj):
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite(obj), indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)


class Validation:
    def __init__(self, args, binary, out, programs, allocators, from_lines=None, aa=None):
        self.args, self.binary, self.out = args, binary, out
        self.programs, self.allocators = programs, allocators
        self.from_lines, self.aa = from_lines, aa
        self.startup_lines = None
        self.doc = {
            "schema_version": 1,
            "tool": "allocmark validate",
            "command_line": shlex.join(["allocmark", "validate", *sys.argv[1:]]),
            "working_directory": os.getcwd(),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "finished": None,
            "load_average": {"start": list(os.getloadavg()), "end": None},
            "cores": os.cpu_count(),
            "baseline": BASELINE,
            "allocators": allocators,
            "reps": args.reps,
            "replay_mode": args.replay,
            "from_run": str(Path(args.from_run).resolve()) if args.from_run else None,
            "methods": None,
            "programs": {},
            "summary": None,
        }

    def say(self, msg):
        if not self.args.quiet:
            sys.stderr.write(f"{TOOL}: {msg}\n")
            sys.stderr.flush()

    def allocmark_run(self, args, out_dir, log, reps=None):
        if out_dir.exists():
            shutil.rmtree(out_dir)
        argv = [self.binary, "run", *args, "--allocators", ",".join(self.allocators),
                "--reps", str(reps or self.args.reps), "--out", str(out_dir), "--seed",
                str(self.args.seed), "--precision", "off", "--no-report", "--quiet"]
        t0 = time.monotonic()
        # Dies with validate (a kill -9 of validate leaves no run behind).
        r = subprocess.run(argv, capture_output=True, text=True,
                           preexec_fn=record_service.die_with_parent)
        log.write(f"$ {shlex.join(argv)}  ({time.monotonic() - t0:.1f} s, exit "
                  f"{r.returncode})\n{r.stdout}{r.stderr}\n")
        lines_path = out_dir / "results.jsonl"
        if r.returncode != 0 and not lines_path.is_file():
            tail = (r.stderr.strip().splitlines() or [""])[-1]
            raise RuntimeError(f"allocmark run exited {r.returncode}: {tail}")
        return read_lines(lines_path)

    def one(self, program):
        import fidelity
        import fidelity_programs as fp
        name = program["name"]
        base = self.out / "validate" / name
        if base.exists():
            shutil.rmtree(base)
        work = base / "work"
        work.mkdir(parents=True)
        entry = {"command": program["command"], "driver": program["driver"] or None,
                 "env": program["env"],
                 "stdin": program["stdin"], "multi_threaded": program["multi_threaded"],
                 "directory": str(base)}
        with open(base / "validate.log", "w") as log:
            self.say(f"{name}: setup and record")
            t0 = time.monotonic()
            try:
                fp.setup(program, work, log)
                traces = fp.record(self.binary, program, work, base / "traces", log)
            finally:
                fp.teardown(program, work, log)
            entry["record_seconds"] = round(time.monotonic() - t0, 3)
            kept = [t for i, t in enumerate(traces)
                    if i == 0 or t["events"] >= self.args.min_events]
            entry["traces"] = [{**t, "replayed": t in kept} for t in traces]
            entry["locality"] = locality_note(traces)
            total = sum(t["events"] for t in traces)
            entry["events_recorded"] = total
            entry["events_not_replayed"] = total - sum(t["events"] for t in kept)
            self.say(f"{name}: {total} events in {len(traces)} trace(s); replaying "
                     f"{len(kept)} under {len(self.allocators)} allocators, {self.args.reps} reps")
            t0 = time.monotonic()
            trace_args = [x for t in kept for x in ("--trace", t["path"])]
            replay = self.allocmark_run([*trace_args, "--replay", self.args.replay, "--no-aa"],
                                        base / "replay", log)
            entry["replay_seconds"] = round(time.monotonic() - t0, 3)
            if self.from_lines is not None:
                prog_lines = [ln for ln in self.from_lines
                              if ln.get("kind") == "program" and ln.get("workload") == name]
            else:
                self.say(f"{name}: running the program under each allocator")
                t0 = time.monotonic()
                if "flag" in program:
                    run_args = ["--program", program["flag"]]
                else:
                    suite = base / f"{name}.toml"
                    fp.one_program_suite(program, suite)
                    run_args = ["--suite", str(suite)]
                prog_lines = self.allocmark_run(run_args, base / "program", log)
                entry["program_seconds"] = round(time.monotonic() - t0, 3)
        failed = sorted({f"{ln.get('allocator')}: {ln.get('status')}" for ln in prog_lines + replay
                         if ln.get("status") != "ok"})
        if failed:
            entry["failed_cells"] = failed
        entry.update(fidelity.compare_program(replay, prog_lines, self.allocators,
                                              baseline=BASELINE, aa=self.aa,
                                              startup_lines=self.startup_lines))
        return entry

    def save(self):
        import fidelity
        self.doc["summary"] = fidelity.summarise(self.doc["programs"])
        self.doc["methods"] = {
            "predicted_time": "sum over replayed traces of events x (median ns_per_op under the "
                              "allocator - median ns_per_op under glibc); held against wall time",
            "predicted_cpu": "sum over replayed traces of the median replay CPU (user_ns + "
                             "sys_ns) under the allocator - the same under glibc; held against "
                             "the program's CPU (error_share_ns_per_op: the ns_per_op prediction "
                             "held against CPU)",
            "measured_time": "median wall_ns (and user_ns + sys_ns) of the program under the "
                             "allocator - the same under glibc",
            "predicted_peak_rss": "program peak RSS under glibc - replay heap under glibc + "
                                  "replay heap under the allocator; heap = peak_rss_bytes - "
                                  "baseline_rss_bytes, summed over traces; medians",
            "intervals": f"percentile bootstrap of medians, each side resampled on its own, "
                         f"{fidelity.RESAMPLES} resamples, level {fidelity.LEVEL}, seed "
                         f"{fidelity.SEED}",
            "real_difference": "the measured change's interval excludes 0 and its size exceeds "
                               "the noise floor (the largest end of the glibc A/A change's "
                               "interval) when an A/A allocator ran",
            "error_share": "(predicted - measured change) / the program's median under glibc",
            "kendall_tau": "scipy.stats.kendalltau of predicted and measured changes over the "
                           "allocators, glibc at (0, 0)",
            "startup": "each allocator's start-up (median wall, CPU and peak RSS of /bin/true "
                       "run as a program cell) minus glibc's is added to every prediction: "
                       "wall and CPU times the programs the tree started, peak RSS once",
            "locality": "a program whose peak live heap exceeds the L2 is flagged: the "
                        "allocator's placement of its objects changes its own cache misses, "
                        "which an allocation-only replay does not see",
        }
        write_json(self.out / "fidelity.json", self.doc)
        try:
            import fidelity_html
            fidelity_html.write(self.out, self.doc)
        except Exception as e:  # the JSON is the result; a chart failure must not lose it
            self.say(f"warning: fidelity.html not written: {e}")

    def measure_startup(self):
        """Each allocator's start-up: `/bin/true` as a program cell under every allocator, into
        OUT/startup (fidelity.py adds the change to every prediction). Short runs, so more
        repetitions than the programs get: a few seconds in all."""
        reps = max(STARTUP_MIN_REPS, 3 * self.args.reps)
        self.say(f"start-up cost of each allocator: /bin/true, {reps} reps")
        try:
            with open(self.out / "startup.log", "w") as log:
                self.startup_lines = self.allocmark_run(
                    ["--program", f"startup={STARTUP_PROGRAM}", "--no-aa"],
                    self.out / "startup", log, reps=reps)
        except (RuntimeError, OSError) as e:
            # The predictions stand without it (as before it existed); say so, do not stop.
            sys.stderr.write(f"{TOOL}: start-up cost not measured: {e}\n")
            self.startup_lines = None
        self.doc["startup"] = startup_summary(self.startup_lines, self.allocators)

    def run(self):
        self.measure_startup()
        for program in self.programs:
            name = program["name"]
            try:
                self.doc["programs"][name] = self.one(program)
            except (RuntimeError, ValueError, OSError, subprocess.SubprocessError) as e:
                sys.stderr.write(f"{TOOL}: {name}: failed: {e}\n")  # said even with --quiet
                self.doc["programs"][name] = {"command": program["command"], "error": str(e)}
            self.save()
        self.doc["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds")
        self.doc["load_average"]["end"] = list(os.getloadavg())
        self.save()
        s = self.doc["summary"]
        for metric, label in (("wall_ns", "wall"), ("cpu_ns", "cpu")):
            m = s[metric]
            agree = (f"{m['sign_agreeing_pairs']}/{m['real_pairs']}" if m["real_pairs"] else "-")
            err = m["median_abs_error_share"]
            tau = m["kendall_tau_median"]
            self.say(f"{label}: sign agreement over real differences {agree}, median |error| "
                     f"{'-' if err is None else f'{err * 100:.1f}%'} of the program's time, "
                     f"median Kendall tau {'-' if tau is None else f'{tau:.2f}'}")
        if s["peak_rss"]:
            mp = s["peak_rss"]["median_pair"]
            err = s["peak_rss"]["median_abs_error_share"]
            self.say(f"peak RSS: median |error| {err * 100:.1f}%"
                     f" (median pair {mp['program']}/{mp['allocator']}: predicted "
                     f"{mp['predicted_bytes'] / 2**20:.1f} MiB, measured "
                     f"{mp['measured_bytes'] / 2**20:.1f} MiB)")
        print(self.out / "fidelity.json")
        errors = [n for n, p in self.doc["programs"].items() if "error" in p]
        return 1 if errors and len(errors) == len(self.programs) else 0


def reanalyse(args):
    """Recomputes the comparison of every program in OUT from its stored result lines."""
    import fidelity
    out = Path(args.reanalyse).resolve()
    try:
        doc = json.loads((out / "fidelity.json").read_text())
    except (OSError, ValueError) as e:
        fail(f"--reanalyse {out}: {e}")
    from_lines = None
    if doc.get("from_run"):
        from_lines = read_lines(Path(doc["from_run"]) / "results.jsonl")
    v = Validation(args, None, out, [], doc["allocators"], from_lines, None)
    v.doc = doc
    if (out / "startup" / "results.jsonl").is_file():
        v.startup_lines = read_lines(out / "startup" / "results.jsonl")
    for name, entry in doc["programs"].items():
        if "allocators" not in entry:
            continue
        base = out / "validate" / name
        replay = read_lines(base / "replay" / "results.jsonl")
        if from_lines is not None:
            prog = [ln for ln in from_lines if ln.get("kind") == "program" and
                    ln.get("workload") == name]
        else:
            prog = read_lines(base / "program" / "results.jsonl")
        aa = entry.get("noise_floor", {}).get("allocator")
        entry.update(fidelity.compare_program(replay, prog, doc["allocators"],
                                              baseline=doc["baseline"], aa=aa,
                                              startup_lines=v.startup_lines))
    v.save()
    print(out / "fidelity.json")
    return 0


def main(argv):
    args = parse_args(argv)
    deps.require(TOOL, "numpy", "scipy", "matplotlib")
    if args.reanalyse:
        return reanalyse(args)
    import fidelity_programs as fp
    binary = os.environ.get("ALLOCMARK_BIN")
    if not binary or not os.access(binary, os.X_OK):
        fail("ALLOCMARK_BIN is not set to the allocmark binary (run it as `allocmark validate`)")
    try:
        from_lines, aa = None, "glibc-aa"
        if args.from_run:
            programs, lines_path = fp.from_run(args.from_run)
            from_lines = read_lines(lines_path)
            meta = json.loads((Path(args.from_run) / "meta.json").read_text())
            aa = meta.get("plan", {}).get("aa")
            ran = list(dict.fromkeys(ln["allocator"] for ln in from_lines
                                     if ln.get("kind") == "program" and ln["allocator"] != aa))
            allocators = choose_allocators(args.allocators or ",".join(ran), binary)
            out = Path(args.out or args.from_run)
        else:
            programs = [fp.from_flag(f, os.getcwd()) for f in args.program]
            if args.suite:
                programs += fp.from_suite(args.suite)
            allocators = choose_allocators(args.allocators or DEFAULT_ALLOCATORS, binary)
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path(args.out or Path("results") / f"validate-{stamp}")
        names = [p["name"] for p in programs]
        if len(set(names)) != len(names):
            fail(f"program names must be unique, got {', '.join(names)}")
        if args.only:
            only = [n.strip() for n in args.only.split(",") if n.strip()]
            unknown = [n for n in only if n not in names]
            if unknown:
                fail(f"--only: no program {', '.join(unknown)} (known: {', '.join(names)})")
            programs = [p for p in programs if p["name"] in only]
    except fp.BadInput as e:
        fail(str(e))
    except RuntimeError as e:
        fail(str(e))
    out.mkdir(parents=True, exist_ok=True)
    return Validation(args, binary, out.resolve(), programs, allocators, from_lines, aa).run()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        # fidelity.json holds every program finished so far (saved after each one).
        sys.stderr.write(f"{TOOL}: interrupted\n")
        sys.exit(130)
