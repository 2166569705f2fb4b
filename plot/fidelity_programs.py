"""The programs validate checks, and recording them: --program flags, suite files with
[[program]] tables, or the programs an earlier run measured (--from-run).
Layer: plot/ helper of validate.py; standard library only (tomllib, subprocess).

A program is a dict: name, command (argv with {dir}/{suite_dir}/{port} as written), env, stdin,
cwd, setup, teardown, driver, timeout, suite_dir, and how it is given to `allocmark run` again
(`flag`: the --program text, or `table`: the suite table to write into a one-program suite).
"""
import json
import os
import re
import shlex
import signal
import subprocess
import tomllib
from pathlib import Path

import record_service

REPO = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"[A-Za-z0-9_.+-]+")


class BadInput(Exception):
    """Bad input: validate.py prints it as one line and exits 2."""


def expand(word, dir_, suite_dir, port=None):
    word = str(word).replace("{dir}", str(dir_)).replace("{suite_dir}", str(suite_dir))
    return word if port is None else word.replace("{port}", str(port))


def suite_path(name_or_path):
    """The suite file as `allocmark run --suite` finds it ($ALLOCMARK_SUITES_DIR, else
    workloads/suites beside this checkout)."""
    p = Path(name_or_path)
    if p.is_file():
        return p.resolve()
    if "/" in name_or_path or name_or_path.endswith(".toml"):
        raise BadInput(f"--suite {name_or_path}: no such file")
    folder = Path(os.environ.get("ALLOCMARK_SUITES_DIR") or REPO / "workloads" / "suites")
    cand = folder / f"{name_or_path}.toml"
    if not cand.is_file():
        raise BadInput(f"--suite {name_or_path}: not a file, and no {cand}")
    return cand.resolve()


def _words(value, where):
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value) or not value:
        raise BadInput(f"{where}: expected a non-empty list of strings")
    return value


def from_suite(name_or_path):
    """The [[program]] tables of a suite file, in file order."""
    path = suite_path(name_or_path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise BadInput(f"{path}: {e}") from None
    tables = doc.get("program", [])
    if not isinstance(tables, list) or not tables:
        raise BadInput(f"{path}: no [[program]] table (validate checks programs, not generators)")
    out = []
    for i, t in enumerate(tables):
        where = f"{path}: [[program]] #{i + 1}"
        name = t.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise BadInput(f"{where}: expected name = \"letters, digits, -, _ or .\"")
        env = t.get("env", {})
        if not isinstance(env, dict):
            raise BadInput(f"{where} ({name}): expected env = {{ KEY = \"value\" }}")
        out.append({
            "name": name,
            "command": _words(t.get("command"), f"{where} ({name}) command"),
            "env": {str(k): str(v) for k, v in env.items()},
            "stdin": t.get("stdin"),
            "cwd": t.get("cwd"),
            "setup": [_words(s, f"{where} ({name}) setup") for s in t.get("setup", [])],
            "teardown": [_words(s, f"{where} ({name}) teardown") for s in t.get("teardown", [])],
            "driver": t.get("driver") or [],
            "expect_exit": int(t.get("expect_exit", 0)),
            "timeout": float(t.get("timeout", 600)),
            "multi_threaded": bool(t.get("multi_threaded", False)),
            "suite_dir": str(path.parent),
            "table": t,
        })
    return out


def from_flag(flag, cwd):
    """--program NAME='COMMAND ARGS' as `allocmark run --program` reads it: run in cwd."""
    name, eq, command = flag.partition("=")
    if not eq or not _NAME.fullmatch(name):
        raise BadInput(f"--program: expected NAME='COMMAND ARGS' with NAME of letters, digits, "
                       f"'-', '_' or '.', got '{flag}'")
    try:
        words = shlex.split(command)
    except ValueError as e:
        raise BadInput(f"--program {flag}: {e}") from None
    if not words:
        raise BadInput(f"--program {flag}: no command")
    return {"name": name, "command": words, "env": {}, "stdin": None, "cwd": str(cwd),
            "setup": [], "teardown": [], "driver": [], "expect_exit": 0, "timeout": 600.0,
            "multi_threaded": False, "suite_dir": str(cwd), "flag": flag}


def from_run(run_dir):
    """The programs a run measured: its command line says where they came from (--suite,
    --program), its plan which ones; returns (programs, results.jsonl path)."""
    run_dir = Path(run_dir)
    meta_path, lines_path = run_dir / "meta.json", run_dir / "results.jsonl"
    for p in (meta_path, lines_path):
        if not p.is_file():
            raise BadInput(f"--from-run {run_dir}: no {p.name} (not a run directory)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        raise BadInput(f"{meta_path}: {e}") from None
    planned = [w["workload"] for w in meta.get("plan", {}).get("workloads", [])
               if w.get("kind") == "program"]
    if not planned:
        raise BadInput(f"{meta_path}: the run measured no program (plan.workloads has no "
                       f"kind = program)")
    argv = shlex.split(meta.get("command_line", ""))
    cwd = meta.get("working_directory") or os.getcwd()
    found = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        value = None
        for flag in ("--suite", "--program"):
            if a == flag and i + 1 < len(argv):
                value, i = (flag, argv[i + 1]), i + 1
            elif a.startswith(flag + "="):
                value = (flag, a[len(flag) + 1:])
        if value:
            flag, text = value
            if flag == "--suite":
                s = text if Path(text).is_absolute() or "/" not in text else str(Path(cwd) / text)
                for p in from_suite(s):
                    found[p["name"]] = p
            else:
                p = from_flag(text, cwd)
                found[p["name"]] = p
        i += 1
    missing = [n for n in planned if n not in found]
    if missing:
        raise BadInput(f"{meta_path}: cannot tell how program(s) {', '.join(missing)} were run "
                       f"from its command_line")
    return [found[n] for n in planned], lines_path


def toml_value(v):
    """A TOML literal of a suite value (strings, numbers, bools, lists, tables)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # TOML basic strings share JSON's escapes for what we write
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise BadInput(f"cannot write {v!r} into a suite file")


def one_program_suite(program, path):
    """Writes a suite file holding this one program, {suite_dir} already expanded (the file
    lives elsewhere), so `allocmark run --suite FILE` runs it exactly as the suite would."""
    def fix(v):
        if isinstance(v, str):
            return v.replace("{suite_dir}", program["suite_dir"])
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v
    lines = [f"name = {json.dumps('validate-' + program['name'])}", "", "[[program]]"]
    lines += [f"{k} = {toml_value(fix(v))}" for k, v in program["table"].items()]
    Path(path).write_text("\n".join(lines) + "\n")


def _env(program, work):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update({k: expand(v, work, program["suite_dir"]) for k, v in program["env"].items()})
    return env


def _run_steps(program, work, log, key):
    """Runs the program's `key` commands (setup or teardown) in work, nothing preloaded; yields
    (argv, completed process) for each."""
    for step in program[key]:
        argv = [expand(w, work, program["suite_dir"]) for w in step]
        r = subprocess.run(argv, cwd=work, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, env=_env(program, work), timeout=program["timeout"] * 5)
        note = "" if key == "setup" else f" ({key}, exit {r.returncode})"
        log.write(f"$ {shlex.join(argv)}{note}\n{r.stdout}{r.stderr}")
        yield argv, r


def setup(program, work, log):
    """Runs the setup commands in work (nothing preloaded); raises RuntimeError with why."""
    for argv, r in _run_steps(program, work, log, "setup"):
        if r.returncode != 0:
            tail = (r.stderr.strip().splitlines() or [""])[-1]
            raise RuntimeError(f"setup '{shlex.join(argv)}' exited {r.returncode}: {tail}")


def teardown(program, work, log):
    for _ in _run_steps(program, work, log, "teardown"):
        pass


_RECORDED = re.compile(r"allocmark: record: (\S+): (\d+) events, (\d+) threads, peak live (\d+)")


def record(binary, program, work, trace_dir, log):
    """`allocmark record` of the program, run as the runner runs it (cwd, env, stdin, {dir}; a
    service's server on a free port with its driver run against it: record_service.py).

    Returns [{path, events, threads, peak_live_bytes}] for every trace written (one per process
    of the tree), largest first. Raises RuntimeError when the program did not exit as expected.
    """
    trace_dir.mkdir(parents=True, exist_ok=True)
    out = trace_dir / f"{program['name']}.amt"
    port = record_service.free_loopback_port() if program["driver"] else None

    def words(ws):
        return [expand(w, work, program["suite_dir"], port) for w in ws]

    argv = [binary, "record", "-o", str(out), "--", *words(program["command"])]
    cwd = expand(program["cwd"], work, program["suite_dir"]) if program["cwd"] else str(work)
    timeout = program["timeout"] * 10 + 60  # the recorder slows the program down
    if program["driver"]:
        # A server stopped by SIGTERM exits as the program cell's does: expect_exit, or killed
        # by that SIGTERM (record reports 128 + 15 like a shell).
        code, stderr = record_service.record_service(
            argv, words(program["driver"]), port, cwd, _env(program, work), timeout, log)
        expected = {program["expect_exit"], 128 + signal.SIGTERM}
    else:
        stdin = subprocess.DEVNULL
        if program["stdin"]:
            stdin = open(Path(cwd) / expand(program["stdin"], work, program["suite_dir"]), "rb")
        try:
            r = subprocess.run(argv, cwd=cwd, stdin=stdin, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env=_env(program, work),
                               timeout=timeout)
        finally:
            if stdin is not subprocess.DEVNULL:
                stdin.close()
        code, stderr = r.returncode, r.stderr
        expected = {program["expect_exit"]}
    log.write(f"$ {shlex.join(argv)}  (cwd {cwd})\n{stderr}")
    if code not in expected:
        tail = (stderr.strip().splitlines() or [""])[-1]
        raise RuntimeError(f"record: the program exited {code}, expected "
                           f"{program['expect_exit']}: {tail}")
    traces = []
    for m in _RECORDED.finditer(stderr):
        path = Path(m.group(1))
        path = path if path.is_absolute() else Path(cwd) / path
        traces.append({"path": str(path), "events": int(m.group(2)),
                       "threads": int(m.group(3)), "peak_live_bytes": int(m.group(4))})
    if not traces:
        raise RuntimeError("record: no trace written (a static or setuid program ignores "
                           "LD_PRELOAD)")
    return sorted(traces, key=lambda t: -t["events"])
