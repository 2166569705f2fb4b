"""Recording a service-form program (a server driven by a client, e.g. redis) for validate:
`allocmark record` runs the server on a free loopback port, the driver (not recorded, nothing
preloaded) runs against it, then the server alone gets SIGTERM so it exits cleanly and its
recorder writes the trace, as `allocmark run` stops a service (harness/program/program_cell.cc).
Layer: plot/ helper of fidelity_programs.py; standard library only.

The record process is not signalled: it ignores interrupts and waits for the server, then
converts. Whatever happens (an error, Ctrl-C), the record process's whole group is killed before
returning, and if validate itself is killed the record process and then its server die with it
(parent-death signals), so no server is left running and no port held.
"""
import ctypes
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

LISTEN_TIMEOUT_S = 30.0  # as program_cell.cc's wait for the server's port
STOP_GRACE_S = 5.0  # SIGTERM, then SIGKILL, as program_cell.cc's stop_server
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def free_loopback_port():
    """A port the kernel has just handed out on 127.0.0.1 (closed again: a small race with
    other programs taking it, as in program_cell.cc's free_loopback_port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _children(pid):
    """Processes whose parent is pid (a scan of /proc: no psutil on Debian's python here)."""
    kids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces: fields follow the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(entry.name))
    return kids


def die_with_parent():
    """In the child before exec: SIGKILL when validate dies, even by SIGKILL (prctl
    PR_SET_PDEATHSIG); record passes it on to the server it runs (record_command.cc)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def record_service(record_argv, driver_argv, port, cwd, env, timeout_s, log):
    """Runs record_argv (`allocmark record ... -- SERVER`), waits until the server listens on
    127.0.0.1:port, then runs driver_argv against it.

    Returns (record's exit status, record's stderr). Raises RuntimeError when the server does
    not listen or the driver fails: there is then no whole recording to replay.
    """
    # A file, not a pipe: nobody reads while the server runs, and a full pipe would block it.
    with tempfile.TemporaryFile("w+") as err:
        rec = subprocess.Popen(record_argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                               preexec_fn=die_with_parent)
        try:
            deadline = time.monotonic() + min(LISTEN_TIMEOUT_S, timeout_s)
            while not _listening(port):
                if rec.poll() is not None:
                    raise RuntimeError(f"record: the server exited {rec.returncode} before it "
                                       f"listened on port {port}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"record: the server did not listen on 127.0.0.1:{port}")
                time.sleep(0.02)
            driver_env = {k: v for k, v in env.items() if k != "LD_PRELOAD"}
            d = subprocess.run(driver_argv, cwd=cwd, env=driver_env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout_s)
            log.write(f"$ {' '.join(driver_argv)}  (driver, exit {d.returncode})\n"
                      f"{d.stdout[-2000:]}{d.stderr[-2000:]}")
            if d.returncode != 0:
                tail = (d.stderr.strip().splitlines() or [""])[-1]
                raise RuntimeError(f"record: the driver exited {d.returncode}: {tail}")
            for pid in _children(rec.pid):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            while _children(rec.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _children(rec.pid):
                raise RuntimeError(f"record: the server did not stop {STOP_GRACE_S:g} s after "
                                   f"SIGTERM")
            rec.wait(timeout=timeout_s)  # the tail of the conversion runs after the server ends
        finally:
            if rec.poll() is None:
                _kill_group(rec.pid)
                rec.wait()
            else:
                _kill_group(rec.pid)  # a child the server started and left behind
        err.seek(0)
        return rec.returncode, err.read()

