"""Program cells end to end: real programs under each allocator, every way they can end, the
service form (a server preloaded, a driver against it), and no process or port left behind."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import BIN, allocmark, read_lines

FAST = ("--reps", "1", "--warmup", "0", "--precision", "off", "--no-aa", "--no-report")


def mimalloc_available():
    listing = allocmark("list", "allocators", check=True).stdout
    return any(l.split()[:3] == ["mimalloc", "preload", "yes"] for l in listing.splitlines())


def by_workload(lines):
    return {(l["workload"], l["allocator"]): l for l in lines}


def test_each_way_a_program_ends_has_its_status(tmp_path):
    """Exit 3, a signal, a hang past --timeout and a static program under a preloaded allocator:
    four statuses with their reasons, none of them ok; glibc runs the static program fine."""
    if not mimalloc_available():
        pytest.skip("mimalloc is not installed")
    cc = shutil.which("cc") or shutil.which("gcc")
    static = tmp_path / "static_prog"
    src = tmp_path / "static.c"
    src.write_text("#include <stdio.h>\n#include <stdlib.h>\n"
                   "int main(void){void*p=malloc(100);printf(\"%d\\n\",p!=0);free(p);return 0;}\n")
    built = cc and subprocess.run([cc, "-static", "-O2", str(src), "-o", str(static)],
                                  capture_output=True).returncode == 0
    programs = ["--program", "exit3=sh -c 'exit 3'",
                "--program", "segv=sh -c 'kill -SEGV $$'",
                "--program", "hang=sleep 60"]
    if built:
        programs += ["--program", f"static={static}"]
    run = tmp_path / "run"
    proc = allocmark("run", *programs, "--allocators", "glibc,mimalloc", "--timeout", "1",
                     "--out", run, *FAST)
    assert proc.returncode == 0, proc.stderr
    cells = by_workload(read_lines(run))
    for alloc in ("glibc", "mimalloc"):
        assert cells[("exit3", alloc)]["status"] == "failed"
        assert cells[("exit3", alloc)]["detail"] == "exited 3 (expected 0)"
        assert cells[("segv", alloc)]["status"] == "crashed"
        assert "SIGSEGV" in cells[("segv", alloc)]["detail"]
        assert cells[("hang", alloc)]["status"] == "timeout"
        assert cells[("hang", alloc)]["wall_ns"] < 10e9
    if built:
        assert cells[("static", "mimalloc")]["status"] == "not_loaded"
        assert "static or setuid" in cells[("static", "mimalloc")]["detail"]
        assert cells[("static", "glibc")]["status"] == "ok"
    summary = json.loads((run / "summary.json").read_text())
    # A failed repetition is not a measurement: only the static program under glibc has one.
    assert {(c["workload"], c["allocator"]) for c in summary["cells"] if c["n"]} <= {
        ("static", "glibc")}


def test_program_metrics_and_the_allocator_really_loaded(tmp_path):
    """A python3 program that holds ~80 MiB: wall and CPU time, peak RSS of the tree above the
    memory it holds, an RSS timeline, and the witness naming the library that served malloc."""
    if not mimalloc_available():
        pytest.skip("mimalloc is not installed")
    script = tmp_path / "hold.py"
    script.write_text("b = [bytearray(1 << 20) for _ in range(80)]\nprint(len(b))\n")
    run = tmp_path / "run"
    allocmark("run", "--program", f"hold=/usr/bin/python3 {script}",
              "--allocators", "glibc,mimalloc", "--out", run, *FAST, check=True)
    cells = by_workload(read_lines(run))
    for alloc, lib in (("glibc", "libc.so"), ("mimalloc", "mimalloc")):
        line = cells[("hold", alloc)]
        assert line["status"] == "ok", line
        assert line["kind"] == "program"
        assert line["peak_rss_bytes"] > 80 << 20
        assert line["wall_ns"] > 0 and line["user_ns"] > 0
        assert lib in line["malloc_provider"]
        assert len(line["timeline"]["t_ns"]) == len(line["timeline"]["rss"]) >= 1
        assert line["command"].endswith("hold.py")
    summary = json.loads((run / "summary.json").read_text())
    assert {c["time"]["metric"] for c in summary["cells"]} == {"wall_ns"}


def test_children_are_checked_and_output_compared_with_glibc(tmp_path):
    """A suite program that starts a child and prints which allocator its child has mapped: the
    output differs from glibc's under mimalloc, so that cell is wrong_output, and the witness
    saw two processes."""
    if not mimalloc_available():
        pytest.skip("mimalloc is not installed")
    suite = tmp_path / "s.toml"
    suite.write_text(textwrap.dedent("""\
        [[program]]
        name = "maps"
        command = ["sh", "-c", "sh -c 'grep -c mimalloc /proc/$$/maps; true'"]
        check_output = true
        [[program]]
        name = "same"
        command = ["sh", "-c", "echo {dir} > /dev/null; seq 1 1000 | sort -n | tail -1"]
        check_output = true
        throughput = { regex = "^([0-9]+)", unit = "items" }
        """))
    run = tmp_path / "run"
    allocmark("run", "--suite", suite, "--allocators", "glibc,mimalloc", "--out", run, *FAST,
              check=True)
    cells = by_workload(read_lines(run))
    assert cells[("maps", "glibc")]["status"] == "ok"
    assert cells[("maps", "mimalloc")]["status"] == "wrong_output"
    assert "differs from glibc's" in cells[("maps", "mimalloc")]["detail"]
    assert cells[("maps", "mimalloc")]["processes"] >= 2
    assert cells[("same", "mimalloc")]["status"] == "ok"
    assert cells[("same", "mimalloc")]["throughput"] == 1000


SERVER = """\
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(bytes(4096)); c.close()
"""
DRIVER = """\
import socket, sys, time
n, start = int(sys.argv[2]), time.perf_counter()
for _ in range(n):
    with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as c:
        while c.recv(65536): pass
print(f"{n / (time.perf_counter() - start):.1f} requests per second")
"""


def port_free(port):
    """Nothing listens on the port (connections in TIME_WAIT hold no process: SO_REUSEADDR, as
    every server sets it, binds beside them)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def service_suite(tmp_path, requests, driver_extra=""):
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "driver.py").write_text(DRIVER + driver_extra)
    suite = tmp_path / "svc.toml"
    suite.write_text(textwrap.dedent(f"""\
        [[program]]
        name = "svc"
        command = ["/usr/bin/python3", "{{suite_dir}}/server.py", "{{port}}"]
        driver = ["/usr/bin/python3", "{{suite_dir}}/driver.py", "{{port}}", "{requests}"]
        throughput = {{ regex = "([0-9.]+) requests per second", unit = "requests/s" }}
        """))
    return suite


def test_service_form_measures_the_server_and_frees_its_port(tmp_path):
    suite = service_suite(tmp_path, 200)
    run = tmp_path / "run"
    allocmark("run", "--suite", suite, "--allocators", "glibc", "--reps", "2", "--warmup", "0",
              "--precision", "off", "--no-aa", "--no-report", "--out", run, check=True)
    lines = read_lines(run)
    assert [l["status"] for l in lines] == ["ok", "ok"], lines
    for l in lines:
        assert l["throughput"] > 0 and l["throughput_unit"] == "requests/s"
        assert "server.py" in l["command"] and "driver.py" in l["driver"]
        assert l["peak_rss_bytes"] > 1 << 20
        assert port_free(l["port"])
    assert subprocess.run(["pgrep", "-f", str(tmp_path / "server.py")]).returncode == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_service_leaves_no_server(tmp_path, sig):
    """Ctrl-C or kill -9 of allocmark while the server runs: the server dies with it."""
    suite = service_suite(tmp_path, 1, driver_extra="time.sleep(60)\n")
    run = tmp_path / "run"
    proc = subprocess.Popen([BIN, "run", "--suite", str(suite), "--allocators", "glibc",
                             "--out", str(run), *FAST], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = str(tmp_path / "server.py")
    deadline = time.time() + 30
    while time.time() < deadline and subprocess.run(["pgrep", "-f", server],
                                                    capture_output=True).returncode != 0:
        time.sleep(0.05)
    time.sleep(0.5)  # the driver has connected
    proc.send_signal(sig)
    proc.wait(timeout=30)
    deadline = time.time() + 10
    while time.time() < deadline and subprocess.run(["pgrep", "-f", server],
                                                    capture_output=True).returncode == 0:
        time.sleep(0.05)
    assert subprocess.run(["pgrep", "-f", server], capture_output=True).returncode == 1


def test_bad_program_flags_are_refused_before_anything_runs(tmp_path):
    cases = {
        "noname": "expected NAME='COMMAND ARGS'",
        "x=echo 'unterminated": "unterminated ' quote",
        "x=": "no command",
        "x=/no/such/program": "is not an executable file or on PATH",
    }
    for flag, says in cases.items():
        out = tmp_path / "never"
        proc = allocmark("run", "--program", flag, "--allocators", "glibc", "--out", out, *FAST)
        assert proc.returncode == 2, (flag, proc.stderr)
        assert says in proc.stderr, (flag, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not out.exists()


def test_setup_failure_names_the_program_and_command(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[program]]\nname = "p"\ncommand = ["true"]\n'
                     'setup = [["sh", "-c", "echo broken input >&2; exit 4"]]\n')
    proc = allocmark("run", "--suite", suite, "--allocators", "glibc", "--out", tmp_path / "r",
                     *FAST)
    assert proc.returncode == 2
    assert "program 'p': setup 'sh -c echo broken input >&2; exit 4' exited 4: broken input" \
        in proc.stderr


def test_redis_from_the_programs_suite(tmp_path):
    """The suite's redis entry under glibc and mimalloc: throughput and server memory recorded,
    no server left and no port held afterwards."""
    import tomllib
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        pytest.skip("redis-server and redis-benchmark are not installed")
    if not mimalloc_available():
        pytest.skip("mimalloc is not installed")
    suites = Path(__file__).resolve().parent.parent / "workloads" / "suites"
    table = next(p for p in tomllib.loads((suites / "programs.toml").read_text())["program"]
                 if p["name"] == "redis")
    words = lambda ws: "[" + ", ".join(json.dumps(w) for w in ws) + "]"
    suite = tmp_path / "redis.toml"
    suite.write_text(f'[[program]]\nname = "redis"\ncommand = {words(table["command"])}\n'
                     f'driver = {words(table["driver"])}\n'
                     f'throughput = {{ regex = {json.dumps(table["throughput"]["regex"])}, '
                     f'unit = {json.dumps(table["throughput"]["unit"])} }}\n')
    run = tmp_path / "run"
    allocmark("run", "--suite", suite, "--allocators", "glibc,mimalloc", "--out", run, *FAST,
              check=True)
    for line in read_lines(run):
        assert line["status"] == "ok", line
        assert line["throughput"] > 1000
        assert line["peak_rss_bytes"] > 1 << 20
        assert port_free(line["port"])
    served = {l["allocator"]: l["malloc_provider"] for l in read_lines(run)}
    assert "libc.so" in served["glibc"] and "mimalloc" in served["mimalloc"]
    assert subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True).returncode == 1
