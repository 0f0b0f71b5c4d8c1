"""A preset's runs on a Slurm cluster, through submitit: one job array per setting, with its resources
(lth/presets.py's RESOURCES, the overrides below, Slurm's own SBATCH_* variables), each job one run through the
same code as a local run. A job requeued (time limit: submitit's checkpoint hook; preemption: ``--requeue``)
resumes from the run's last checkpoint. A submitted run's folder holds its job id (``slurm_job``), so that a run
queued or running is not submitted twice. Logs: $LTH_RUNS/slurm/.
"""

import contextlib
import io
import os
import re
import subprocess
from pathlib import Path

import submitit

from lth import presets, runs, store

# Overrides of RESOURCES (make's MEM, CPUS, GPUS, GRES, MAX_JOBS): the variable, its pattern, what is valid.
OVERRIDES = dict(mem=("LTH_MEM", r"\d+[KMGT]?", "memory per job as Slurm's --mem takes it, e.g. 4000M or 16G"),
                 cpus=("LTH_CPUS", r"[1-9]\d*", "CPUs per job, an integer >= 1"),
                 gpus=("LTH_GPUS", r"\d+", "GPUs per job, an integer >= 0"),
                 gres=("LTH_GRES", r"\S+", "a --gres string, e.g. gpu:a100:1"),
                 max_jobs=("LTH_MAX_JOBS", r"[1-9]\d*", "an integer >= 1"))


class Refused(RuntimeError):
    """Slurm would not take a request, or a request's value is invalid: one line per setting."""


def request(preset, setting):
    """({sbatch option: value}, how many jobs at once) of each run of ``setting``: RESOURCES with the overrides set
    in the environment. Refused, one line, on an invalid override."""
    res, env = presets.get(preset).resources(setting), {k: os.environ.get(v[0], "").strip() for k, v in OVERRIDES.items()}
    for key, (variable, pattern, valid) in OVERRIDES.items():
        if env[key] and not re.fullmatch(pattern, env[key]):
            raise Refused(f"{key.upper()}={env[key]} ({variable}) is not valid; valid: {valid}")
    gpus = int(env["gpus"] or res["gpus"])
    devices = dict(gres=env["gres"]) if env["gres"] else dict(gpus_per_node=gpus) if gpus else {}
    options = dict(mem=env["mem"] or f"{res['mem_gb']}G", cpus_per_task=int(env["cpus"] or res["cpus"]), **devices,
                   time=res["minutes"])
    return options, int(env["max_jobs"] or 256)


def _flags(options):
    """sbatch's flags for ``request``'s options: ``["--mem=8G", "--cpus-per-task=2", "--time=60"]``."""
    return [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]


def _describe(setting, options):
    """``setting: --mem=8G --cpus-per-task=2 --time=60``, and the partition where one is set."""
    where = f" on partition {os.environ['SBATCH_PARTITION']}" if os.environ.get("SBATCH_PARTITION") else ""
    return f"{setting}: {' '.join(_flags(options))}{where}"


def _refused(setting, options, stderr):
    """A refusal's line, with Slurm's reason (from its last error line, "sbatch: error: ... failed: <reason>")."""
    errors = [line for line in stderr.splitlines() if line.strip()] or ["no reason given"]
    reason = errors[-1].split("failed: ")[-1].removeprefix("sbatch: error: ").strip()
    return f"{_describe(setting, options).replace(': ', ': Slurm refuses ', 1)}: {reason}"


def refusals(preset, settings):
    """One line per setting whose request ``sbatch --test-only`` refuses, with Slurm's reason and what to set."""
    lines = []
    for setting in settings:
        options, _ = request(preset, setting)
        p = subprocess.run(["sbatch", "--test-only", *_flags(options), "--wrap", "true"], capture_output=True,
                           text=True)
        if p.returncode:
            lines.append(f"{_refused(setting, options, p.stderr)}; set MEM=, CPUS=, GPUS=, GRES=, TIME= or PARTITION= "
                         "(docs/cluster.md)")
    return lines


class Job(submitit.helpers.Checkpointable):
    """What a job runs: one run record (lth.runs). At the time limit, submitit requeues the same call."""

    def __call__(self, run, runs_dir):
        from experiments import start

        if (result := start(run, runs_dir)).status != "COMPLETED":
            raise RuntimeError(f"the run ended {result.status}: see {run.folder(runs_dir)}/run.json")


def queue():
    """{job id: state} of this user's queued and running jobs (array tasks one by one); {} where Slurm is silent."""
    try:
        out = subprocess.run(["squeue", "--noheader", "--array", "--me", "--format=%i %T"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return dict(line.split() for line in out.splitlines() if line.strip())


def job(folder):
    """The Slurm job id last submitted for the run in ``folder``, or None."""
    path = Path(folder) / store.SLURM_JOB
    return path.read_text().strip() if path.exists() else None


def submit_missing(preset, runs_dir):
    """Submit every run of ``preset`` that has not completed and is neither queued nor running, the
    reinitialisations waiting for the runs they start from (afterok). Returns (submitted, queued or running, done)."""
    queued, todo, jobs, done = queue(), [], {}, 0
    for r in runs.every(preset):
        state, j = store.state(r.folder(runs_dir)), job(r.folder(runs_dir))
        if state == "completed":
            done += 1
        elif state == "running" or j in queued:
            jobs[r] = j
        else:
            todo.append(r)
    waiting = len(jobs)
    if lines := refusals(preset, dict.fromkeys(r.setting for r in todo)):
        raise Refused("\n".join(lines))
    jobs |= submit(preset, [r for r in todo if r.experiment == "imp"], runs_dir)
    reinits = [r for r in todo if r.experiment == "reinit"]
    submit(preset, reinits, runs_dir, sorted({jobs[o] for r in reinits for o in r.originals if jobs.get(o)}))
    return len(todo), waiting, done


def submit(preset, items, runs_dir, after=()):
    """Submit the run records ``items`` of ``preset``, one job array per setting, each job waiting for the jobs
    ``after`` (afterok). Returns {record: job id}."""
    submitted = {}
    for setting in dict.fromkeys(r.setting for r in items):  # an executor each: no option left from another setting
        group, (options, max_jobs) = [r for r in items if r.setting == setting], request(preset, setting)
        executor = submitit.AutoExecutor(folder=Path(runs_dir) / "slurm", cluster="slurm")
        after_ok = {"slurm_dependency": "afterok:" + ":".join(after)} if after else {}
        executor.update_parameters(name=f"lth-{setting}", slurm_array_parallelism=max_jobs, **after_ok,
                                   slurm_additional_parameters={"requeue": True},
                                   **{f"slurm_{k}": v for k, v in options.items()})
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit prints sbatch's errors before raising them
                jobs = executor.map_array(Job(), group, [str(runs_dir)] * len(group))
        except submitit.core.utils.FailedJobError as e:
            raise Refused(_refused(setting, options, str(e))) from None
        print(f"{_describe(setting, options)}, at most {max_jobs} at once: {len(group)} runs, job array "
              f"{jobs[0].job_id.split('_')[0]}")
        for r, j in zip(group, jobs):
            r.folder(runs_dir).mkdir(parents=True, exist_ok=True)
            (r.folder(runs_dir) / store.SLURM_JOB).write_text(j.job_id + "\n")
            submitted[r] = j.job_id
    return submitted
