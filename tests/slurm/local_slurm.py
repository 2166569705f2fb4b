"""A one-node Slurm cluster on this machine for tests: its own munge key and munged, slurmctld and
slurmd on free loopback ports, every state, spool, log and pid file under one folder. Layer: test.

Debian's slurm-wlm and munge packages, run by whoever runs the test (SlurmUser is that user).
start() raises Unavailable, with the reason, when the tools are missing or the daemons do not come
up; stop() ends every process it started, and every job process of the cluster, and returns what
it had to kill with SIGKILL or found still alive (empty when all went down cleanly)."""
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")


class Unavailable(Exception):
    """Slurm cannot run here; the message says why (a test skips with it)."""


def free_loopback_ports(count):
    """Ports free on 127.0.0.1 now (held open together, so they are distinct)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def alive(pid):
    """True while pid names a process that is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path}: not written)"


class LocalSlurm:
    def __init__(self, root):
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.log = self.root / "log"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.pid_files = {"munged": self.root / "munge" / "munged.pid",
                          "slurmctld": self.root / "slurmctld.pid",
                          "slurmd": self.root / "slurmd.pid"}
        self.procs = {}  # name -> Popen, in start order
        self.tools = {}
        # The daemons', clients' and so jobs' environment: ours, without the variables that would
        # steer Slurm or allocmark elsewhere (ctest's ALLOCMARK_* name the build tree).
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SLURM_", "SBATCH_", "SALLOC_", "ALLOCMARK_"))}
        self.env["SLURM_CONF"] = str(self.conf)

    # -- starting -------------------------------------------------------------------------------

    def start(self, timeout=30):
        for tool in TOOLS:
            path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
            if not path:
                raise Unavailable(f"{tool} not found (Debian: apt-get install slurm-wlm munge)")
            self.tools[tool] = path
        # Unix sockets (munged's, slurmd's per step) must fit in sun_path (108 bytes).
        if len(str(self.root)) > 70:
            raise Unavailable(f"{self.root}: path too long for the daemons' unix sockets")
        for sub in ("munge", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o755)  # munged: clients need search permission on it
        self._start_munged(timeout)
        self._write_conf()
        # -D: in the foreground, so each stays our child and stop() has its Popen.
        self._spawn("slurmctld", [self.tools["slurmctld"], "-D", "-f", self.conf])
        self._spawn("slurmd", [self.tools["slurmd"], "-D", "-N", "localhost", "-f", self.conf])
        self._wait_idle(timeout)

    def _spawn(self, name, argv):
        out = open(self.log / f"{name}.out", "w")
        self.procs[name] = subprocess.Popen(list(map(str, argv)), stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env, cwd=self.root, start_new_session=True)
        out.close()

    def _start_munged(self, timeout):
        key = self.root / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        os.chmod(key, 0o600)
        munge = self.root / "munge"
        self._spawn("munged", [self.tools["munged"], "--foreground", "--force",
                               f"--socket={self.munge_socket}", f"--key-file={key}",
                               f"--pid-file={self.pid_files['munged']}",
                               f"--log-file={munge / 'munged.log'}",
                               f"--seed-file={munge / 'munged.seed'}", "--num-threads=2"])
        deadline = time.monotonic() + timeout
        while not self.munge_socket.exists():
            if self.procs["munged"].poll() is not None or time.monotonic() > deadline:
                raise Unavailable("munged did not start: " + tail(self.log / "munged.out", 5))
            time.sleep(0.05)

    def node_line(self):
        """This machine as `slurmd -C` sees it (CPUs, sockets, cores, threads, RealMemory), named
        localhost: a node that claims more than the machine has is drained by slurmctld."""
        proc = subprocess.run([self.tools["slurmd"], "-C"], capture_output=True, text=True,
                              timeout=30, env=self.env)
        first = proc.stdout.splitlines()[0] if proc.stdout else ""
        if proc.returncode != 0 or not first.startswith("NodeName="):
            raise Unavailable(f"slurmd -C failed: {proc.stderr.strip() or proc.stdout.strip()}")
        hardware = [f for f in first.split()[1:] if not f.startswith("UpTime=")]
        return " ".join(["NodeName=localhost", "NodeAddr=127.0.0.1", *hardware, "State=UNKNOWN"])

    def _write_conf(self):
        user = pwd.getpwuid(os.getuid()).pw_name
        ctld_port, slurmd_port = free_loopback_ports(2)
        r = self.root
        self.conf.write_text("\n".join([
            "# Written by tests/slurm/local_slurm.py: a one-node cluster for one test run.",
            "ClusterName=allocmarktest",
            "SlurmctldHost=localhost(127.0.0.1)",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            f"SlurmUser={user}",
            f"SlurmdUser={user}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={self.pid_files['slurmctld']}",
            f"SlurmdPidFile={self.pid_files['slurmd']}",
            f"SlurmctldLogFile={self.log / 'slurmctld.log'}",
            f"SlurmdLogFile={self.log / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/builtin",
            "MpiDefault=none",
            "MailProg=/bin/true",
            "ReturnToService=2",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=30",
            "MinJobAge=600",  # finished jobs stay visible to squeue -t all for the checks
            self.node_line(),
            "PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
            ""]))

    def _wait_idle(self, timeout):
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise Unavailable(f"{name} exited ({proc.returncode}) at start: "
                                      + tail(self.log / f"{name}.out", 8))
            state = self.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.2)
        raise Unavailable(f"node not idle after {timeout} s (sinfo: {state!r}): "
                          + tail(self.log / "slurmctld.log", 5) + "\n"
                          + tail(self.log / "slurmd.log", 5))

    # -- using ----------------------------------------------------------------------------------

    def run(self, tool, *args, check=True, cwd=None, env=None, timeout=30):
        """Runs a Slurm client against this cluster (SLURM_CONF set)."""
        proc = subprocess.run([self.tools.get(tool, tool), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, cwd=cwd, env={**self.env, **(env or {})},
                              stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"{tool} {args} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def wait_jobs(self, job_ids, timeout):
        """Waits until none of job_ids is pending or running, or only jobs whose dependency can
        never be satisfied are left (they would wait for ever); returns {job or array task:
        state}, e.g. COMPLETED, FAILED, or `PENDING (DependencyNeverSatisfied)`."""
        ids = ",".join(map(str, job_ids))
        deadline = time.monotonic() + timeout
        while True:
            out = self.run("squeue", "-h", "-t", "all", "-j", ids, "-o", "%i %T %r").stdout
            states = {}
            for line in out.splitlines():
                if line.strip():
                    job, state, reason = (line.split(None, 2) + [""])[:3]
                    never = state == "PENDING" and reason.strip() == "DependencyNeverSatisfied"
                    states[job] = f"{state} ({reason.strip()})" if never else state
            active = {j: s for j, s in states.items()
                      if s in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED")}
            if states and not active:
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs {ids} still {active or states} after {timeout} s; "
                                     + tail(self.log / "slurmctld.log", 10))
            time.sleep(0.25)

    # -- stopping -------------------------------------------------------------------------------

    def cluster_pids(self):
        """Processes of this cluster: the daemons, slurmstepd and every job process (they carry
        SLURM_CONF naming our slurm.conf in their environment, or run in our folder)."""
        mine, marker = os.getpid(), f"SLURM_CONF={self.conf}".encode()
        found = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == mine:
                continue
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if (marker in environ or str(self.root).encode() in cmdline
                    or cwd == str(self.root) or cwd.startswith(str(self.root) + "/")):
                if alive(int(entry)):
                    found.add(int(entry))
        return found

    def stop(self, timeout=10):
        """Cancels every job, stops slurmd, slurmctld and munged (SIGTERM, then SIGKILL), kills
        any process of the cluster left, and returns the descriptions of what had to be killed or
        is still alive."""
        problems = []
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            self.run("scancel", "--user", pwd.getpwuid(os.getuid()).pw_name, check=False)
        recorded = {}
        for name, pid_file in self.pid_files.items():
            try:
                recorded[name] = int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    problems.append(f"{name} (pid {proc.pid}) ignored SIGTERM: killed")
                    proc.kill()
                    proc.wait()
            if name in recorded and recorded[name] != proc.pid and alive(recorded[name]):
                problems.append(f"{name}: pid file names {recorded[name]}, not our child "
                                f"{proc.pid}, and it is alive")
        # Job steps end on their own shortly after their job (slurmstepd outlives slurmd).
        deadline = time.monotonic() + timeout
        leftovers = self.cluster_pids()
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.1)
            leftovers = self.cluster_pids()
        for pid in sorted(leftovers):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                os.kill(pid, signal.SIGKILL)
                problems.append(f"left running: pid {pid} ({cmd.strip()}): killed")
            except (OSError, ProcessLookupError):
                pass
        deadline = time.monotonic() + timeout
        while any(alive(p) for p in leftovers) and time.monotonic() < deadline:
            time.sleep(0.05)
        for name, pid in recorded.items():
            if alive(pid):
                problems.append(f"{name} (pid {pid} from its pid file) still alive")
        problems += [f"still alive after SIGKILL: pid {p}" for p in leftovers if alive(p)]
        return problems


def job_id(sbatch_parsable_output):
    """The job id in `sbatch --parsable` output (`ID` or `ID;cluster`)."""
    match = re.match(r"\s*(\d+)", sbatch_parsable_output)
    if not match:
        raise AssertionError(f"sbatch --parsable printed {sbatch_parsable_output!r}")
    return int(match.group(1))
