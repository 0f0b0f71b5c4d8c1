"""A preset's runs as records, and one identity per run: its folder ``$LTH_RUNS/<run id>/``, named by the
config values that change its results.

``of_preset``, ``ticket_runs``, ``reinits`` and ``every`` give the records (``Run``, ``Reinit``): make, sweep,
the Slurm launcher, the analysis and the notebooks take runs from these and never parse a name back. ``run_id``
is the one function that names a run's folder; what the folder holds, and what it says of its run, is
lth/store.py's. Plain standard library: the Makefile lists run ids before anything is installed.
"""

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lth import importance, presets, store

REPOSITORY = Path(__file__).resolve().parents[1]


def default_dir():
    """Where runs are recorded: ``$LTH_RUNS`` (relative to the current directory), or the repository's ``runs/``."""
    return Path(os.environ.get("LTH_RUNS") or REPOSITORY / "runs")


def _digest(values):
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def canonical(config):
    """The values of ``config`` that change results (every key of ``presets.DEFAULT``), typed as there (``lr=1``
    is ``lr=1.0``); ``init`` becomes a digest of the file's content, so that its path does not matter, and a metric
    of your own (``module:function``) adds a digest of its source."""
    values = {k: config.get(k, default) for k, default in presets.DEFAULT.items()}
    for k, default in presets.DEFAULT.items():
        if isinstance(default, float) and isinstance(values[k], int) and not isinstance(values[k], bool):
            values[k] = float(values[k])
    if values["init"] is not None:
        values["init"] = hashlib.sha1(Path(values["init"]).read_bytes()).hexdigest()
    if source := importance.source_digest(values["importance"]):  # a metric of your own: editing it reruns it
        values["importance_source"] = source
    return {k: v for k, v in values.items() if k not in presets.LATER or v != presets.LATER[k]}


def run_id(config):
    """The run's name: readable model, dataset, metric and seed, then a digest of every result-changing value."""
    v = canonical(config)
    return f"{v['model']}-{v['dataset']}-{v['importance'].replace(':', '.')}-{v['seed']}-{_digest(v)}"


class _Record:
    """What every run record has besides its ``id``: its folder under ``runs_dir`` ($LTH_RUNS by default)."""

    def folder(self, runs_dir=None):
        return Path(runs_dir or default_dir()) / self.id


@dataclass(frozen=True, eq=False)
class Run(_Record):
    """One LTR run (experiments/imp.py): a setting's config values with an importance metric and a seed.
    ``name`` is for a reader and never parsed back."""

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
    """One partial reinitialisation (experiments/reinit.py) from its config (preset, setting, metrics, seed, round,
    reinit_seed), with Run's interface. ``originals``: the ticket runs it starts from, one per metric, which its
    id names by their identity, so that it runs again when their values change."""

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


def of_preset(preset, metrics=None, settings=None, extra=False):
    """The LTR runs a preset needs, by setting, metric and seed, each reading the preset's datasets
    (``presets.data_root``): of its metrics (``presets.metrics``; ``metrics``: of these instead, where a setting
    runs them) and settings (or ``settings``); a metric in the preset's ``rounds_of`` stops there. ``extra``: the
    runs of the preset's ``extra`` metrics instead, on its one setting (their own table, `make extra`)."""
    p, root = presets.check(preset), presets.data_root(preset)
    cut, chosen = p.get("rounds_of", {}), metrics or presets.metrics(preset)
    if extra:
        chosen, settings = (p["extra"]["metrics"], [p["extra"]["setting"]]) if "extra" in p else ([], [])
    return [Run(name, dict(setting, importance=m, seed=s, data_root=root,
                           rounds=min(setting["rounds"], cut.get(m, setting["rounds"]))))
            for name, setting in p["settings"].items() if settings is None or name in settings
            for m in chosen if extra or m in p.get("metrics_of", {}).get(name, [m])
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
    return of_preset(preset) + of_preset(preset, extra=True) + reinits(preset)
