"""A preset's runs on a Slurm cluster, through submitit.

One job array per setting, with the setting's resources (lth/presets.py's RESOURCES; partition, account, qos,
constraint and time limit from Slurm's own SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_QOS, SBATCH_CONSTRAINT,
SBATCH_TIMELIMIT). Each job runs one run through the same code as a local run. A job that reaches its time limit
is requeued by submitit (its checkpoint hook); one that is preempted or requeued by Slurm (``--requeue``) starts
again; either way the run resumes from its last per-epoch checkpoint. A submitted run's folder holds its job id
(``slurm_job``), so that a run already queued or running is not submitted twice. Logs: $LTH_RUNS/slurm/.
"""

import contextlib
import io
import os
import re
import subprocess
from pathlib import Path

import submitit

from lth import presets, runs, store

JOB_FILE = "slurm_job"
# Overrides of RESOURCES for one submission: make's MEM, CPUS, GPUS, GRES and MAX_JOBS, exported as these.
OVERRIDES = dict(mem="LTH_MEM", cpus="LTH_CPUS", gpus="LTH_GPUS", gres="LTH_GRES", max_jobs="LTH_MAX_JOBS")


class Refused(RuntimeError):
    """Slurm would not take a request, or a request's value is invalid: one line per setting."""


def request(preset, setting):
    """The Slurm request of each run of ``setting``: lth/presets.py's RESOURCES, with the overrides set in the
    environment (``OVERRIDES``). Refused, one line, on an invalid override."""
    res, env = presets.resources(preset, setting), {k: os.environ.get(v, "").strip() for k, v in OVERRIDES.items()}
    checks = dict(mem=(r"\d+[KMGT]?", "memory per job as Slurm's --mem takes it, e.g. 4000M or 16G"),
                  cpus=(r"[1-9]\d*", "CPUs per job, an integer >= 1"), gpus=(r"\d+", "GPUs per job, an integer >= 0"),
                  gres=(r"\S+", "a --gres string, e.g. gpu:a100:1"), max_jobs=(r"[1-9]\d*", "an integer >= 1"))
    for key, (pattern, valid) in checks.items():
        if env[key] and not re.fullmatch(pattern, env[key]):
            raise Refused(f"{key.upper()}={env[key]} ({OVERRIDES[key]}) is not valid; valid: {valid}")
    return dict(mem=env["mem"] or f"{res['mem_gb']}G", cpus=int(env["cpus"] or res["cpus"]),
                gpus=int(env["gpus"] or res["gpus"]), gres=env["gres"] or None, minutes=res["minutes"],
                max_jobs=int(env["max_jobs"] or 256))


def options(req):
    """The sbatch options of a ``request`` (partition, account, ... come from Slurm's own SBATCH_* variables)."""
    gpus = [f"--gres={req['gres']}"] if req["gres"] else [f"--gpus-per-node={req['gpus']}"] if req["gpus"] else []
    return [f"--mem={req['mem']}", f"--cpus-per-task={req['cpus']}", *gpus, f"--time={req['minutes']}"]


def _describe(setting, req):
    where = f" on partition {os.environ['SBATCH_PARTITION']}" if os.environ.get("SBATCH_PARTITION") else ""
    return f"{setting}: {' '.join(options(req))}{where}"


def refusals(preset, settings):
    """One line per setting whose request Slurm would refuse (``sbatch --test-only`` with the same options), with
    Slurm's reason and what to set; [] where every one would be accepted."""
    lines = []
    for setting in settings:
        req = request(preset, setting)
        p = subprocess.run(["sbatch", "--test-only", *options(req), "--wrap", "true"], capture_output=True, text=True)
        if p.returncode:
            lines.append(f"{_describe(setting, req).replace(': ', ': Slurm refuses ', 1)}: {_reason(p.stderr)}; "
                         "set MEM=, CPUS=, GPUS=, GRES=, TIME= or PARTITION= (README: On a Slurm cluster)")
    return lines


def _reason(stderr):
    """Slurm's reason, from its last error line ("sbatch: error: Batch job submission failed: <reason>")."""
    errors = [line for line in stderr.splitlines() if line.strip()] or ["no reason given"]
    return errors[-1].split("failed: ")[-1].removeprefix("sbatch: error: ").strip()


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
    if lines := refusals(preset, dict.fromkeys(r.setting for r in todo)):
        raise Refused("\n".join(lines))
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
        group, req = [r for r in items if r.setting == setting], request(preset, setting)
        extra = {"requeue": True, "mem": req["mem"]} | ({"dependency": "afterok:" + ":".join(after)} if after else {})
        gpus = {"slurm_gres": req["gres"]} if req["gres"] else {"gpus_per_node": req["gpus"]} if req["gpus"] else {}
        executor.update_parameters(name=f"lth-{setting}", timeout_min=req["minutes"], cpus_per_task=req["cpus"],
                                   slurm_array_parallelism=req["max_jobs"], slurm_additional_parameters=extra, **gpus)
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit prints sbatch's errors before raising them
                jobs = executor.map_array(Job(), group, [str(runs_dir)] * len(group))
        except submitit.core.utils.FailedJobError as e:
            raise Refused(f"{_describe(setting, req).replace(': ', ': Slurm refuses ', 1)}: {_reason(str(e))}") from None
        print(f"{_describe(setting, req)}, at most {req['max_jobs']} at once: {len(group)} runs, job array "
              f"{jobs[0].job_id.split('_')[0]}")
        for r, j in zip(group, jobs):
            r.folder(runs_dir).mkdir(parents=True, exist_ok=True)
            (r.folder(runs_dir) / JOB_FILE).write_text(j.job_id + "\n")
            submitted[r.id] = j.job_id
    return submitted
