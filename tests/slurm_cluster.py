"""A throw-away single-node Slurm cluster for tests (Debian's slurm-wlm and munge, run as root).

`slurm_cluster(directory)` starts munged, slurmctld and slurmd in the foreground as children of this
process, with every file they use (key, socket, config, state, spool, logs) inside `directory`, and
points `sbatch`, `squeue`, `scontrol`, `scancel` (and submitit, which calls them) at it through
SLURM_CONF. A system Slurm or munge, if any, is left alone. On exit it cancels the remaining jobs,
stops its daemons by PID and checks that no process of the cluster is left.

Test modules get the `slurm` fixture (one cluster per session) with
`pytest_plugins = ["slurm_cluster"]`: pytest's default import mode puts tests/ on sys.path.
(`from slurm_cluster import slurm` would instead give each importing module a cluster of its own.)
"""

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest

COMMANDS = ("mungekey", "munged", "slurmctld", "slurmd", "sbatch")
PARTITION = "debug"


class SlurmUnavailable(RuntimeError):
    """Slurm cannot start here; the first line of the message says why."""


def _free_ports(n):
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def _slurm_conf(d, host):
    ctld_port, slurmd_port = _free_ports(2)
    half_memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**21
    return f"""\
ClusterName=lthtest
SlurmctldHost={host}(127.0.0.1)
# Free ports, so that a system Slurm (6817/6818) or another test session is not in the way.
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
# Our own munged, through its own socket. A requeued job may start again only once its credential
# has expired: 5 s instead of 120.
AuthType=auth/munge
AuthInfo=socket={d}/munge.sock,cred_expire=5
CredType=cred/munge
SlurmUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
# No cgroups: processes are tracked through their parent PIDs.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# CPUs are the only consumable resource, so that jobs without --mem share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Jobs are started on submission; pending ones whose start time has come (a requeued job) are
# looked at every second instead of every 60 s.
SchedulerParameters=sched_interval=1
# Cancelled jobs that ignore SIGTERM (submitit's do) are killed after 2 s instead of 30.
KillWait=2
ReturnToService=2
MailProg=/bin/true
# The node as described below, whatever this machine has (too few CPUs would drain it). Jobs may
# ask for up to RealMemory MB with --mem.
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory={half_memory_mb}
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def cluster_processes(conf):
    """PIDs of the live processes whose environment names `conf`: daemons, slurmstepd, job tasks."""
    marker = f"SLURM_CONF={conf}".encode()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):  # gone meanwhile; a zombie's environ reads empty
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
    return pids


class SlurmCluster:
    """The daemons of one cluster (`daemons`: name -> Popen) and its files (`dir`, `conf`)."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.conf = self.dir / "slurm.conf"
        # For the Slurm commands; jobs without --output log here, not in the current directory.
        self.exports = {"SLURM_CONF": str(self.conf), "SBATCH_OUTPUT": f"{self.dir}/slurm-%j.out"}
        self.env = dict(os.environ, **self.exports)
        self.daemons = {}  # in start order

    def _run(self, *cmd, check=True):
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=check).stdout

    def _start(self, name, *cmd):
        with open(self.dir / f"{name}.log", "w") as log:  # in the foreground they log to stderr
            self.daemons[name] = subprocess.Popen(
                cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)  # not hit by a Ctrl-C meant for pytest

    def _log_tails(self):
        return "\n".join(f"--- {name}.log:\n" + "\n".join(
            (self.dir / f"{name}.log").read_text().splitlines()[-15:]) for name in self.daemons)

    def _wait(self, condition, what, deadline):
        while not condition():
            dead = [name for name, p in self.daemons.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"timed out waiting for {what}"
                raise SlurmUnavailable(f"Slurm did not start: {why} (logs in {self.dir})\n"
                                       + self._log_tails())
            time.sleep(0.1)

    def _node_is_idle(self):
        return self._run("sinfo", "--noheader", "--format=%t", check=False).strip() == "idle"

    def start(self, timeout=30):
        d, host = self.dir, socket.gethostname().split(".")[0]
        deadline = time.monotonic() + timeout
        for sub in ("state", "spool"):
            (d / sub).mkdir(parents=True)
        self.conf.write_text(_slurm_conf(d, host))
        self._run("mungekey", "--create", f"--keyfile={d}/munge.key")
        # --force: munged otherwise refuses a socket in a private directory (pytest's are 0700).
        self._start("munged", "munged", "--foreground", "--force", f"--socket={d}/munge.sock",
                    f"--key-file={d}/munge.key", f"--pid-file={d}/munged.pid",
                    f"--seed-file={d}/munged.seed")
        self._wait((d / "munge.sock").exists, "munged's socket", deadline)
        self._start("slurmctld", "slurmctld", "-D")
        self._start("slurmd", "slurmd", "-D")
        self._wait(self._node_is_idle, "the node to be idle", deadline)

    def stop(self, timeout=30):
        if "slurmd" in self.daemons and self.daemons["slurmd"].poll() is None:
            # Jobs and their slurmstepd outlive slurmd: end them first, through Slurm.
            self._run("scancel", f"--partition={PARTITION}", check=False)
            deadline = time.monotonic() + timeout
            while self._run("squeue", "--noheader", check=False).strip():
                if time.monotonic() > deadline:
                    break  # the check below names what is left
                time.sleep(0.2)
        for p in reversed(self.daemons.values()):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        deadline = time.monotonic() + 5  # slurmstepd exits just after its job
        while (left := cluster_processes(self.conf)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if left:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            raise RuntimeError(f"killed what the Slurm cluster in {self.dir} left: PIDs {left}")


@contextlib.contextmanager
def slurm_cluster(directory):
    """Run a Slurm cluster in `directory` (new or empty), its `exports` in os.environ; yield it.

    Raises SlurmUnavailable if Slurm cannot start here.
    """
    if os.geteuid() != 0:
        raise SlurmUnavailable("the test Slurm cluster runs its daemons as root")
    missing = [name for name in COMMANDS if shutil.which(name) is None]
    if missing:
        raise SlurmUnavailable(f"not on PATH: {' '.join(missing)} "
                               "(apt-get install slurmctld slurmd munge)")
    cluster = SlurmCluster(directory)
    try:
        cluster.start()
        with mock.patch.dict(os.environ, cluster.exports):
            yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A running single-node Slurm cluster (one node, 2 CPUs, partition "debug"), or a skip (a failure in CI)."""
    with contextlib.ExitStack() as stack:
        try:
            cluster = stack.enter_context(slurm_cluster(tmp_path_factory.mktemp("slurm")))
        except SlurmUnavailable as e:
            if os.environ.get("CI") == "true":  # CI installs Slurm: there it must run, never skip
                pytest.fail(str(e))
            pytest.skip(str(e).splitlines()[0])
        yield cluster
