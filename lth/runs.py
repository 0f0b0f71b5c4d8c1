"""A preset's runs as records (``Run``, ``Reinit``, by group: ``groups``), each named once by ``run_id``: its
folder ``$LTH_RUNS/<run id>/`` says which config values change its results. What the folder holds: lth/store.py.
Plain standard library: the Makefile lists run ids before anything is installed.
"""

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lth import presets
from lth.config import Config

REPOSITORY = Path(__file__).resolve().parents[1]


def default_dir():
    """Where runs are recorded: ``$LTH_RUNS`` (relative to the current directory), or the repository's ``runs/``."""
    return Path(os.environ.get("LTH_RUNS") or REPOSITORY / "runs")


def _digest(values):
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def canonical(config):
    """The values of ``config`` (a mapping of config values) that change results: ``lth.config.Config.canonical``."""
    return Config.of(config).canonical()


def run_id(config):
    """The run's name: ``lth.config.Config.run_id``, readable model, dataset, metric and seed, then a digest of every
    result-changing value."""
    return Config.of(config).run_id


class _Record:
    """A run record's folder under ``runs_dir`` ($LTH_RUNS by default). Two records are one run where their ids are."""

    def folder(self, runs_dir=None):
        return Path(runs_dir or default_dir()) / self.id

    def __eq__(self, other):
        return isinstance(other, _Record) and self.id == other.id

    def __hash__(self):
        return hash(self.id)


@dataclass(frozen=True, eq=False)
class Run(_Record):
    """One LTR run (experiments/imp.py): a setting's config values with an importance metric and a seed."""

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
        return _id_of(self.config)


@dataclass(frozen=True, eq=False)
class Reinit(_Record):
    """One partial reinitialisation (experiments/reinit.py) from its config (preset, setting, metrics, seed, round,
    reinit_seed). Its id names the ticket runs it starts from (``originals``)."""

    config: dict
    experiment = "reinit"

    @property
    def setting(self):
        return self.config["setting"]

    @property
    def name(self):
        return f"reinit__{self.setting}__{self.config['seed']}__reinit{self.config['reinit_seed']}"

    @cached_property
    def originals(self):
        c = self.config
        by_metric = {r.importance: r for r in of_preset(c["preset"], c["metrics"], [c["setting"]]) if r.seed == c["seed"]}
        return tuple(by_metric[m] for m in c["metrics"])

    @property
    def reruns(self):
        """The configs of its LTR reruns, one per original up to the tickets' round (from its new theta_0: ``init``)."""
        return [dict(r.config, rounds=self.config["round"]) for r in self.originals]

    @cached_property
    def id(self):
        c = self.config
        values = dict(originals=[r.id for r in self.originals], round=c["round"], reinit_seed=c["reinit_seed"])
        return f"reinit-{c['setting']}-{c['seed']}-{c['reinit_seed']}-{_digest(values)}"


_IDS = {}


def _id_of(config):
    """``run_id(config)``, computed once per config in this process however often and by whichever way the run is
    reached (a ticket run is also an LTR run, a regime arm may be a preset's run; a notebook loads runs many times).
    Fixed once computed: a metric's source edited meanwhile counts from the next process."""
    key = json.dumps(config, sort_keys=True)
    if key not in _IDS:
        _IDS[key] = run_id(config)
    return _IDS[key]



def of_preset(preset, metrics=None, settings=None, extra=False):
    """The LTR runs of a preset (a ``presets.Preset`` or its name) by setting, metric and seed: of its metrics (or
    ``metrics``) and settings (or ``settings``), cut to its ``rounds_of`` and ``seeds_of``; ``extra``: those of its
    ``extra`` metrics (on the extra's ``seeds``, where given) instead."""
    p = presets.get(preset)
    chosen, seeds_of = metrics or p.metrics, p.seeds_of
    if extra:
        chosen, settings = (p.extra["metrics"], [p.extra["setting"]]) if p.extra else ([], [])
        seeds_of = {m: p.extra.get("seeds", p.seeds) for m in chosen}
    return [Run(name, dict(setting.as_dict(identity=True), importance=m, seed=s, data_root=p.data_root,
                            rounds=min(setting.rounds, p.rounds_of.get(m, setting.rounds))))
            for name, setting in p.settings.items() if settings is None or name in settings
            for m in chosen if extra or m in p.metrics_of.get(name, [m])
            for s in seeds_of.get(m, p.seeds)]


def regime(preset):
    """The regime study's LTR runs (the preset's ``regime``): per setting, arm, metric and seed; a run's setting is
    named ``<setting>@<arm>``."""
    p = presets.get(preset)
    return [Run(f"{name}@{arm}", dict(study["base"], **values, importance=m, seed=s, data_root=p.data_root))
            for name, study in p.regime.items()
            for arm, values in study["arms"].items() for m in study["metrics"] for s in study["seeds"]]


def groups(preset):
    """Every run a preset needs, by what needs it: ``run`` (its LTR runs), ``magnitude`` (Table 1), ``ticket``
    (Section 5's: the preset's ``tickets``, whatever ``METRICS`` says), ``extra``, ``reinit`` (Section 5.1's, from
    the tickets of the seeds ``reinit_tickets``) and ``regime`` (the regime study's, `make regime` alone). An LTR run in several groups is
    one record (one id: ``_id_of``)."""
    p = presets.get(preset)
    t, ltr = p.tickets, of_preset(p)
    reinit = [Reinit(dict(preset=p.name, setting=t["setting"], metrics=t["metrics"], seed=k, round=t["round"],
                          reinit_seed=s)) for k in t["reinit_tickets"] for s in t["reinit_seeds"]]
    return dict(run=ltr, magnitude=[r for r in ltr if r.importance == "magnitude"],
                ticket=of_preset(p, t["metrics"], [t["setting"]]),
                extra=of_preset(p, extra=True), reinit=reinit, regime=regime(p))


def every(preset, experiment=None, study=False):
    """Every run a preset needs for its figures, once, LTR runs first (``study``: the regime study's instead); of
    one ``experiment`` ("imp" or "reinit") where given."""
    chosen = [g for name, g in groups(preset).items() if (name == "regime") == study]
    every = list({r.id: r for group in chosen for r in group}.values())
    return [r for r in every if experiment in (None, r.experiment)]
