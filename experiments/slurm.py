"""A preset's runs on a Slurm cluster, through submitit.

One job array per setting, with the setting's resources (lth/presets.py's RESOURCES; partition, account, qos,
constraint and time limit from Slurm's own SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_QOS, SBATCH_CONSTRAINT,
SBATCH_TIMELIMIT). Each job runs one run through the same code as a local run. A job that reaches its time limit
is requeued by submitit (its checkpoint hook); one that is preempted or requeued by Slurm (``--requeue``) starts
again; either way the run resumes from its last per-epoch checkpoint. A submitted run's folder holds its job id
(``slurm_job``), so that a run already queued or running is not submitted twice. Logs: $LTH_RUNS/slurm/.
"""

import subprocess
from pathlib import Path

import submitit

from lth import presets, runs, store

JOB_FILE = "slurm_job"


class Job(submitit.helpers.Checkpointable):
    """What a job runs: one run record (lth.runs) of an experiment. When submitit calls ``checkpoint`` (time
    limit), the same call is requeued, and the run resumes from its own checkpoint."""

    def __call__(self, run, runs_dir):
        from experiments import imp, reinit

        result = (imp if run.experiment == "imp" else reinit).run(run.config, runs_dir, run)
        if result.status != "COMPLETED":
            raise RuntimeError(f"the run ended {result.status}: see {run.folder(runs_dir)}/run.json")


def queue():
    """{job id: state} of this user's jobs that Slurm knows as queued or running (array tasks one by one); {} where
    Slurm does not answer."""
    try:
        out = subprocess.run(["squeue", "--noheader", "--array", "--me", "--format=%i %T"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return dict(line.split() for line in out.splitlines() if line.strip())


def job(folder):
    """The Slurm job id last submitted for the run in ``folder``, or None."""
    path = Path(folder) / JOB_FILE
    return path.read_text().strip() if path.exists() else None


def submit_missing(preset, runs_dir):
    """Submit every run of ``preset`` that has not completed and is neither queued nor running, the ticket runs'
    jobs before the reinitialisations that wait for them (afterok). Returns how many runs it submitted, how many
    were queued or running already, and how many have completed."""
    queued, todo, jobs, done = queue(), [], {}, 0
    for r in runs.every(preset):
        state, j = store.state(r.folder(runs_dir)), job(r.folder(runs_dir))
        if state == "completed":
            done += 1
        elif state == "running" or j in queued:
            jobs[r.id] = j
        else:
            todo.append(r)
    waiting = len(jobs)
    ticket_ids = {t.id for t in runs.ticket_runs(preset)}
    for kind in ("imp", "reinit"):
        after = sorted(j for i, j in jobs.items() if i in ticket_ids and j)
        jobs |= submit(preset, [r for r in todo if r.experiment == kind], runs_dir, after if kind == "reinit" else [])
    return len(todo), waiting, done


def submit(preset, items, runs_dir, after=()):
    """Submit the run records ``items`` of ``preset``, one job array per setting, each job waiting for the jobs
    ``after`` (afterok). Returns {run id: job id}."""
    executor, submitted = submitit.AutoExecutor(folder=Path(runs_dir) / "slurm", cluster="slurm"), {}
    for setting in dict.fromkeys(r.setting for r in items):
        group = [r for r in items if r.setting == setting]
        res = presets.resources(preset, setting)
        extra = {"requeue": True} | ({"dependency": "afterok:" + ":".join(after)} if after else {})
        executor.update_parameters(name=f"lth-{setting}", timeout_min=res["minutes"], cpus_per_task=res["cpus"],
                                   mem_gb=res["mem_gb"], slurm_additional_parameters=extra,
                                   **({"gpus_per_node": res["gpus"]} if res["gpus"] else {}))
        for r, j in zip(group, executor.map_array(Job(), group, [str(runs_dir)] * len(group))):
            r.folder(runs_dir).mkdir(parents=True, exist_ok=True)
            (r.folder(runs_dir) / JOB_FILE).write_text(j.job_id + "\n")
            submitted[r.id] = j.job_id
    return submitted
