"""The runs of a preset, as records, and one identity per run: the folder ``$LTH_RUNS/<run id>/`` named by the
config values that change its results.

``of_preset``, ``ticket_runs``, ``reinits`` and ``every`` give a preset's runs as records (``Run``, ``Reinit``:
``setting``, ``config``, ``name`` for a reader, ``id``, ``folder()``, ``experiment``). Make, sweep, the Slurm
launcher, the analysis and the notebooks all take runs from these, never by parsing a name or scanning run
folders; ``run_id`` is the one function that names a run's folder. What the folder holds is lth/store.py's.
Deleting the folder, or changing any value that changes results, makes the run missing again.

Plain standard library: the Makefile lists run ids before anything is installed.
"""

import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lth import presets, store

RESULT_KEYS = tuple(presets.DEFAULT)  # every config value that can change a run's results
REPOSITORY = Path(__file__).resolve().parents[1]


def default_dir():
    """Where runs are recorded: ``$LTH_RUNS`` (relative to the current directory), or the repository's ``runs/``."""
    return Path(os.environ.get("LTH_RUNS") or REPOSITORY / "runs")


def _digest(values):
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def canonical(config):
    """The result-changing values of ``config``, typed as in ``presets.DEFAULT`` (``lr=1`` is ``lr=1.0``);
    ``init`` becomes a digest of the file's content, so that its path does not matter."""
    values = {k: config.get(k, presets.DEFAULT[k]) for k in RESULT_KEYS}
    for k, default in presets.DEFAULT.items():
        if isinstance(default, float) and isinstance(values[k], int) and not isinstance(values[k], bool):
            values[k] = float(values[k])
    if values["init"] is not None:
        values["init"] = hashlib.sha1(Path(values["init"]).read_bytes()).hexdigest()
    return values


def run_id(config):
    """The run's name: readable model, dataset, metric and seed, then a digest of every result-changing value."""
    v = canonical(config)
    return f"{v['model']}-{v['dataset']}-{v['importance']}-{v['seed']}-{_digest(v)}"


class _Record:
    """What every run record has besides its ``id``: its folder under ``runs_dir`` ($LTH_RUNS by default)."""

    def folder(self, runs_dir=None):
        return Path(runs_dir or default_dir()) / self.id


@dataclass(frozen=True, eq=False)
class Run(_Record):
    """One LTR run of a preset (experiments/imp.py): a setting's config values with an importance metric and a
    seed. Found by ``id``, the identity of its config; ``name`` is for a reader and never parsed back."""

    setting: str
    config: dict = field(repr=False)
    experiment = "imp"

    @property
    def importance(self):
        return self.config["importance"]

    @property
    def seed(self):
        return self.config["seed"]

    @property
    def name(self):
        return f"{self.setting}__{self.importance}__{self.seed}"

    @cached_property
    def id(self):
        return run_id(self.config)


@dataclass(frozen=True, eq=False)
class Reinit(_Record):
    """One partial reinitialisation of a preset (experiments/reinit.py), from its config (preset, setting,
    metrics, seed, round, reinit_seed): ``originals``, the ticket runs it starts from, one per metric; the same
    interface as Run. Its id names those runs by their identity, so that it reruns when their values change."""

    config: dict
    experiment = "reinit"

    @property
    def setting(self):
        return self.config["setting"]

    @property
    def name(self):
        return f"reinit__{self.setting}__seed{self.config['reinit_seed']}"

    @cached_property
    def originals(self):
        c = self.config
        by_metric = {r.importance: r for r in of_preset(c["preset"], c["metrics"], [c["setting"]]) if r.seed == c["seed"]}
        return tuple(by_metric[m] for m in c["metrics"])

    @cached_property
    def id(self):
        c = self.config
        values = dict(originals=[r.id for r in self.originals], round=c["round"], reinit_seed=c["reinit_seed"])
        return f"reinit-{c['setting']}-{c['seed']}-{c['reinit_seed']}-{_digest(values)}"


def reinit_id(config):
    return Reinit(config).id


def of_preset(preset, metrics=None, settings=None):
    """The LTR runs a preset needs (or only those of some metrics or settings): settings, metrics, seeds in order,
    each reading the preset's datasets (``presets.data_root``)."""
    p, root = presets.check(preset), presets.data_root(preset)
    return [Run(name, dict(setting, importance=m, seed=s, data_root=root))
            for name, setting in p["settings"].items() if settings is None or name in settings
            for m in p.get("metrics_of", {}).get(name, p["metrics"]) if metrics is None or m in metrics
            for s in p["seeds"]]


def ticket_runs(preset):
    """The runs Section 5 compares (lth/presets.py's TICKETS): one setting, its metrics, every seed."""
    presets.check(preset)
    t = presets.TICKETS[preset]
    return of_preset(preset, t["metrics"], [t["setting"]])


def reinits(preset):
    """The partial reinitialisations Section 5.1 needs: one per reinit seed, from the tickets of seed 0."""
    presets.check(preset)
    t = presets.TICKETS[preset]
    return [Reinit(dict(preset=preset, setting=t["setting"], metrics=t["metrics"], seed=0, round=t["round"],
                        reinit_seed=s)) for s in t["reinit_seeds"]]


def every(preset):
    """Every run a preset needs, its LTR runs first (the reinitialisations start from some of them)."""
    return of_preset(preset) + reinits(preset)


def is_completed(folder):
    return (Path(folder) / store.COMPLETED).exists()


class RunLocked(RuntimeError):
    """Another process is running this run."""


def _try_lock(folder, attempts=1):
    """The run's lock file, locked (an exclusive flock, released when the file is closed), or None."""
    f = open(Path(folder) / ".lock", "a+")
    for attempt in range(attempts):
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            time.sleep(0.2 * (attempt + 1 < attempts))
    f.close()
    return None


def lock(folder):
    """Hold the run's lock (an open file; closing it releases it), or raise RunLocked naming the folder.

    It retries for about a second, so that a status query holding the lock for an instant is not
    mistaken for a run in progress."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    f = _try_lock(folder, attempts=5)
    if f is None:
        holder = Path(folder, ".lock").read_text().strip() or "another process"
        raise RunLocked(f"run {Path(folder).name} is already running ({holder} holds {folder}/.lock)")
    f.seek(0)
    f.truncate()
    f.write(f"host {os.uname().nodename}, pid {os.getpid()}\n")
    f.flush()
    return f


def is_running(folder):
    """True while some process holds the run's lock."""
    f = _try_lock(folder)
    if f:
        f.close()
    return f is None


def read_json(path):
    """A JSON file's content, or None where it is missing or was cut short by a kill."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def state(folder):
    """What a run folder says of its run: ``completed``, ``running``, ``failed``, ``interrupted``, or ``missing``.

    ``running`` means a process holds the run's lock now; a run that was killed (its run.json may
    still say RUNNING) is ``interrupted``, and resumes where it stopped when started again.
    """
    folder = Path(folder)
    if is_completed(folder):
        return "completed"
    if not (folder / "run.json").exists():
        return "running" if folder.exists() and is_running(folder) else "missing"
    if is_running(folder):
        return "running"
    record = read_json(folder / "run.json") or {}
    return "failed" if record.get("status") == "FAILED" else "interrupted"


def progress(folder):
    """Where an unfinished run stands: ``{"stage": "round 3", "epoch": 41}`` from its last checkpoint, or None."""
    return read_json(store.checkpoint_summary(Path(folder) / store.CHECKPOINT))
