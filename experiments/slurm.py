"""A preset's runs on a Slurm cluster, through submitit.

One job array per setting, with the setting's resources (lth/presets.py's RESOURCES; partition,
account, qos, constraint and time limit from Slurm's own SBATCH_PARTITION, SBATCH_ACCOUNT,
SBATCH_QOS, SBATCH_CONSTRAINT, SBATCH_TIMELIMIT). Each job runs one run through the same code as a
local run. A job that reaches its time limit is requeued by submitit (its checkpoint hook); one
that is preempted or requeued by Slurm (``--requeue``) starts again; either way the run resumes
from its last per-epoch checkpoint. A submitted run's folder holds its job id (``slurm_job``), so
that a run already queued or running is not submitted twice. Logs: $LTH_RUNS/slurm/.
"""

import subprocess
from pathlib import Path

import submitit

from lth import presets

JOB_FILE = "slurm_job"


class Job(submitit.helpers.Checkpointable):
    """What a job runs: one run of an experiment (``imp`` or ``reinit``). When submitit calls ``checkpoint``
    (time limit), the same call is requeued, and the run resumes from its own checkpoint."""

    def __call__(self, experiment, config, runs_dir):
        from experiments import imp, reinit

        run = (imp if experiment == "imp" else reinit).run(config, runs_dir)
        if run.status != "COMPLETED":
            raise RuntimeError(f"the run ended {run.status}: see {Path(runs_dir) / str(run._id)}/run.json")


def queue():
    """{job id: state} of this user's jobs that Slurm still knows as queued or running (array tasks one by one)."""
    out = subprocess.run(["squeue", "--noheader", "--array", "--me", "--format=%i %T"], capture_output=True,
                         text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def job(folder):
    """The Slurm job id last submitted for the run in ``folder``, or None."""
    path = Path(folder) / JOB_FILE
    return path.read_text().strip() if path.exists() else None


def submit(preset, batches, runs_dir, dependencies=None):
    """Submit ``batches``: {setting: [run records (lth.runs), ...]} of ``preset``, one job array per setting;
    ``dependencies``: {run id: [job ids it must wait for (afterok)]}. Returns {run id: job id}."""
    runs_dir = Path(runs_dir)
    executor = submitit.AutoExecutor(folder=runs_dir / "slurm", cluster="slurm")
    submitted = {}
    for setting, items in batches.items():
        res = presets.resources(preset, setting)
        groups = {}  # the runs of a setting that wait for the same jobs go in one array
        for run in items:
            groups.setdefault(tuple(sorted((dependencies or {}).get(run.id, []))), []).append(run)
        for after, group in groups.items():
            extra = {"requeue": True} | ({"dependency": "afterok:" + ":".join(after)} if after else {})
            gpus = {"gpus_per_node": res["gpus"]} if res["gpus"] else {}
            executor.update_parameters(name=f"lth-{setting}", timeout_min=res["minutes"], cpus_per_task=res["cpus"],
                                       mem_gb=res["mem_gb"], slurm_additional_parameters=extra, **gpus)
            jobs = executor.map_array(Job(), [run.experiment for run in group], [run.config for run in group],
                                      [str(runs_dir)] * len(group))
            for run, j in zip(group, jobs):
                run.folder(runs_dir).mkdir(parents=True, exist_ok=True)
                (run.folder(runs_dir) / JOB_FILE).write_text(j.job_id + "\n")
                submitted[run.id] = j.job_id
    return submitted
