"""The test Slurm cluster runs batch jobs, submitit arrays and requeued jobs, and stops cleanly."""

import os
import subprocess
import time
from pathlib import Path

import pytest
import submitit

# slurm_cluster is both the plugin that gives the `slurm` fixture (one cluster for the session)
# and a module imported here; registered first, pytest imports it once, without a warning.
pytest.register_assert_rewrite("slurm_cluster")
from slurm_cluster import cluster_processes, slurm_cluster  # noqa: E402

pytestmark = pytest.mark.slow  # a real Slurm cluster (tests/conftest.py)

pytest_plugins = ["slurm_cluster"]


def sbatch(*args):
    return subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_batch_job_runs(slurm, tmp_path):
    out = tmp_path / "out.txt"
    job_id = sbatch(f"--wrap=echo $SLURM_JOB_ID > {out}")
    wait_for(lambda: out.exists() and out.read_text())
    assert out.read_text().strip() == job_id
    assert (slurm.dir / f"slurm-{job_id}.out").exists()  # not in the current directory


def test_submitit_job_array(slurm, tmp_path):
    executor = submitit.AutoExecutor(folder=tmp_path, cluster="slurm")
    jobs = executor.map_array(pow, [1, 2, 3], [2, 2, 2])
    assert [job.result() for job in jobs] == [1, 4, 9]


def test_requeued_job_runs_again(slurm, tmp_path):
    out = tmp_path / "restarts.txt"
    # The first run waits to be requeued; the second one ends.
    script = f'echo ${{SLURM_RESTART_COUNT:-0}} >> {out}; [ -n "$SLURM_RESTART_COUNT" ] || sleep 300'
    job_id = sbatch("--requeue", f"--wrap={script}")
    wait_for(out.exists)
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    # Pending again, it starts once its old credential has expired (cred_expire, 5 s: about 6-7 s here).
    # Forcing it earlier (scontrol update StartTime=now) races that expiry: slurmd refuses the launch
    # ("Job credential revoked") and Slurm ends the job, which then never runs again.
    wait_for(lambda: len(out.read_text().split()) == 2, timeout=120)
    assert out.read_text().split() == ["0", "1"]


def test_stop_leaves_nothing_behind(slurm, tmp_path):
    """A second cluster beside `slurm` (which skips where Slurm cannot run), stopped with a job
    running: none of its processes is left, and SLURM_CONF names `slurm`'s again."""
    started = tmp_path / "started"
    with slurm_cluster(tmp_path / "cluster") as cluster:
        sbatch(f"--wrap=touch {started}; sleep 300")
        wait_for(started.exists)
    assert os.environ["SLURM_CONF"] == str(slurm.conf)
    assert all(p.returncode is not None for p in cluster.daemons.values())
    assert not any(Path(f"/proc/{p.pid}").exists() for p in cluster.daemons.values())
    assert cluster_processes(cluster.conf) == []
