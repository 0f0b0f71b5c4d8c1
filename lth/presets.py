"""What to run: the experiment's defaults, the paper's four settings, and the presets of `make figures`.

Plain data, no torch (the Makefile lists runs before anything is installed). A run is a setting (config values
of experiments/imp.py) with an importance metric and a seed: lth/runs.py makes a preset's run records from these.
"""

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from lth import config, importance

# experiments/imp.py's defaults, the values that name a run (lth/config.py's Config): a preset's settings are
# these with their own values over them.
DEFAULT = {k: v for k, v in config.DEFAULT.as_dict().items() if k in config.IDENTITY}

# docs/paper.md section 3 (the paper's Appendix A.4), each a named config of experiments/imp.py.
PAPER = {
    "lenet_300_100_mnist": dict(model="lenet_300_100", dataset="mnist", epochs=40, batch_size=128, lr=0.1,
                                momentum=0.0, milestones=[], weight_decay=0.0, rewind_iter=0, rounds=24,
                                prune_output=False),
    "resnet20_cifar10": dict(model="resnet20", dataset="cifar10", epochs=160, batch_size=128, lr=0.1,
                             momentum=0.9, milestones=[80, 120], weight_decay=1e-4, rewind_iter=1000, rounds=40,
                             prune_output=True),
    "vgg16_cifar10": dict(model="vgg16", dataset="cifar10", epochs=160, batch_size=128, lr=0.1, momentum=0.9,
                          milestones=[80, 120], weight_decay=1e-4, rewind_iter=2000, rounds=35, prune_output=False),
    "resnet18_tinyimagenet": dict(model="resnet18", dataset="tinyimagenet", epochs=200, batch_size=256, lr=0.2,
                                  momentum=0.9, milestones=[100, 150], weight_decay=1e-4, rewind_iter=1000,
                                  rounds=40, prune_output=True),
}

# Seconds on a CPU: the `smoke` named config, for tests and quick checks.
SMOKE = dict(epochs=1, rounds=2, train_size=2048, test_size=1000, rewind_iter=4)

# Every metric of the registry (lth/importance.py), in its order: a metric added there is run by every preset.
METRICS, PAPER_METRICS = list(importance.IMPORTANCE), list(importance.PAPER)


def ordered(names):
    """Metric names in the registry's order (``IMPORTANCE``, then ``OPTIONAL``), then any others (``module:function``)
    as given: the order of every legend, table column and run list."""
    names, known = list(dict.fromkeys(names)), [*importance.IMPORTANCE, *importance.OPTIONAL]
    return [m for m in known if m in names] + [m for m in names if m not in known]


# CPU, offline, Fashion-MNIST, tested on all 10,000 test images: LeNet-300-100 (the paper's 24 rounds, 99.53 %), a
# ResNet with 1x1 shortcuts (22 rounds, 99.26 %) and VGG-16's layout at an eighth of its width (25 rounds, 99.62 %:
# OpenLTH's budget counts the 640 weights of its dense output layer, so from round 27 no conv weight is left; the
# paper's round 30 is out of reach at this width); the random control stops at round 10.
# Why these values, and what they cost: docs/reproducing.md#presets.
_SMALL_LENET = dict(epochs=4, batch_size=64, lr=0.2, milestones=[3], train_size=15000, rounds=24)
_SMALL_RESNET = dict(model="resnet8_16", dataset="fashion_mnist", epochs=4, batch_size=32, milestones=[3],
                     train_size=4096, momentum=0.9, weight_decay=1e-4, rewind_iter=10, rounds=22, prune_output=True)
# The small ResNet in the paper's regime (docs/results.md#the-regime-weight-decay-per-round): a round sums lr x weight decay
# to 0.31, as ResNet-20's on CIFAR-10 (0.32), with the dense accuracy of a longer schedule.
_PAPER_REGIME_RESNET = dict(epochs=8, milestones=[6], weight_decay=4e-3)
_SMALL_VGG = dict(model="vgg16_8", dataset="fashion_mnist", epochs=8, batch_size=64, milestones=[6], train_size=2048,
                  momentum=0.9, weight_decay=1e-4, rewind_iter=10, rounds=25, prune_output=False)
# The regime study (`make regime`, docs/reproducing.md#regime): a setting's schedule at several doses of weight decay
# per round (lth.regime: the sum of lr x weight decay over a round), from the small preset's to the paper's (about
# 0.33 for ResNet-20 and VGG-16 on CIFAR-10). Each arm: config values over the setting's ``base``.
_REGIME_SMALL = {
    "resnet8_16_fashion_mnist": dict(base=dict(DEFAULT, **_SMALL_RESNET), metrics=["magnitude", "l1", "l2"],
                                     seeds=[0, 1, 2, 3, 4], arms={
        "4 epochs, wd 1e-4": {},
        "4 epochs, wd 1e-3": dict(weight_decay=1e-3),
        "4 epochs, wd 8e-3": dict(weight_decay=8e-3),
        "8 epochs, wd 4e-3": dict(epochs=8, milestones=[6], weight_decay=4e-3),
    }),
    "vgg16_8_fashion_mnist": dict(base=dict(DEFAULT, **_SMALL_VGG), metrics=["magnitude", "l1"], seeds=[0, 1, 2], arms={
        "8 epochs, wd 1e-4": {},
        "8 epochs, wd 1.6e-2": dict(weight_decay=1.6e-2),
        "16 epochs, wd 8e-3": dict(epochs=16, milestones=[12], weight_decay=8e-3),
        "32 epochs, wd 4e-3": dict(epochs=32, milestones=[24], weight_decay=4e-3),
    }),
}
# The paper's settings at the size of a rehearsal: 64 synthetic training and 32 test images in the dataset's real
# format, 2 epochs of 1 iteration, rewinding to iteration 1; models, batch sizes, rounds as in the paper.
_REHEARSAL = {name: {**DEFAULT, **s, "train_size": 64, "test_size": 32, "epochs": 2, "rewind_iter": 1,
                      "milestones": [1] if s["milestones"] else []}
              for name, s in PAPER.items()}
# Section 5 (several tickets from one initialisation): which setting and metrics each preset compares, at which
# round (the tickets' sparsity), and Section 5.1's reinitialisations: of the tickets of which seeds
# (``reinit_tickets``, [0] where not given: each its own theta_0 and data order, an independent replicate) and with
# which seeds of the redrawn weights (``reinit_seeds``).
_TICKETS = {
    "small": dict(setting="resnet8_16_fashion_mnist", metrics=["magnitude", "l1", "l2"], round=15,
                  reinit_tickets=[0, 1, 2, 3, 4], reinit_seeds=[1]),
    "paper": dict(setting="resnet18_tinyimagenet", metrics=["magnitude", "l1", "l2"], round=15,
                  reinit_tickets=[0], reinit_seeds=[1, 2, 3]),
    "smoke": dict(setting="resnet8_16_fashion_mnist", metrics=["magnitude", "l1", "l2"], round=3,
                  reinit_tickets=[0], reinit_seeds=[1]),
    "rehearsal": dict(setting="resnet18_tinyimagenet", metrics=["magnitude", "l1", "l2"], round=15,
                      reinit_tickets=[0], reinit_seeds=[1]),
}

PRESETS = {
    # ``rounds_of``, ``seeds_of``: fewer rounds or seeds for some metrics (lth.runs.of_preset).
    # ``metrics_of``: only these metrics on some settings (where the others would cost more than they tell).
    # ``extra``: metrics beyond the registry's, run on one setting (and its ``seeds``) for the `extra` table only.
    # ``regime``: the regime study's arms (`make regime`), per setting, not part of `make figures`.
    # ``tickets``: Section 5's setting, metrics, round and reinitialisations (``_TICKETS``).
    # ``gpu``: `sweep check` refuses to start it without a CUDA GPU.
    # Five seeds: a sign test on five paired differences errs one time in 16 under no effect (lth/report/claims.py).
    # lamp (not the paper's) and the random control, which no claim judges, on seed 0, and the extra metrics on
    # seeds 0-1: what pays for the ResNet's paper regime (docs/results.md#the-regime-weight-decay-per-round).
    "small": dict(seeds=[0, 1, 2, 3, 4], metrics=METRICS, rounds_of={"random": 10}, tickets=_TICKETS["small"],
                  seeds_of={"lamp": [0], "random": [0]}, settings={
        "lenet_300_100_fashion_mnist": dict(DEFAULT, **_SMALL_LENET),
        "resnet8_16_fashion_mnist": {**DEFAULT, **_SMALL_RESNET, **_PAPER_REGIME_RESNET},
        "vgg16_8_fashion_mnist": dict(DEFAULT, **_SMALL_VGG),
    }, metrics_of={"vgg16_8_fashion_mnist": ["magnitude", "l1"]}, regime=_REGIME_SMALL,
        extra=dict(setting="lenet_300_100_fashion_mnist", metrics=list(importance.OPTIONAL), seeds=[0, 1])),
    "paper": dict(seeds=[0, 1, 2], metrics=METRICS, settings={n: dict(DEFAULT, **s) for n, s in PAPER.items()},
                  gpu=True, tickets=_TICKETS["paper"]),
    # For CI: every notebook end to end in minutes.
    "smoke": dict(seeds=[0, 1], metrics=METRICS, tickets=_TICKETS["smoke"], settings={
        "lenet_300_100_fashion_mnist": {**DEFAULT, **SMOKE, "rounds": 3},
        "resnet8_16_fashion_mnist": {**DEFAULT, **_SMALL_RESNET, **SMOKE, "milestones": [], "rounds": 3},
    }, extra=dict(setting="lenet_300_100_fashion_mnist", metrics=["movement"]),
        regime={"resnet8_16_fashion_mnist": dict(
            base={**DEFAULT, **_SMALL_RESNET, **SMOKE, "milestones": [], "rounds": 3}, metrics=["magnitude", "l1"],
            seeds=[0, 1], arms={"1 epoch, wd 1e-4": {}, "1 epoch, wd 8e-2": dict(weight_decay=8e-2)})}),
    # The paper preset's whole path (its four settings to their last round, every paper-preset notebook) on tiny
    # synthetic data that it writes itself (`synthetic`: images per split) under $LTH_DATA/rehearsal: one seed,
    # every metric on the two cheap settings, magnitude on VGG-16, the three Section 5 compares on ResNet-18.
    "rehearsal": dict(seeds=[0], metrics=METRICS, settings=_REHEARSAL, synthetic=dict(train=64, test=32),
                      tickets=_TICKETS["rehearsal"],
                      metrics_of={"vgg16_cifar10": ["magnitude"], "resnet18_tinyimagenet": ["magnitude", "l1", "l2"]}),
}

# Slurm resources of one run (`make ... LAUNCHER=slurm`), per preset and setting: GPUs, CPUs, memory and time
# limit per job (a job that reaches it is requeued and resumes). The rest: docs/cluster.md.
_CPU_JOB = dict(gpus=0, cpus=2, mem_gb=8, minutes=60)
_GPU_JOB = dict(gpus=1, cpus=8, mem_gb=32, minutes=24 * 60)
RESOURCES = {
    "small": _CPU_JOB, "smoke": dict(_CPU_JOB, cpus=1), "rehearsal": dict(_CPU_JOB, mem_gb=16),
    "paper": {"lenet_300_100_mnist": dict(_GPU_JOB, cpus=4, mem_gb=16, minutes=4 * 60), "resnet20_cifar10": _GPU_JOB,
              "vgg16_cifar10": _GPU_JOB, "resnet18_tinyimagenet": dict(_GPU_JOB, mem_gb=64)},
}


class PresetError(ValueError):
    """A preset name that ``PRESETS`` does not have."""


@dataclass(frozen=True, eq=False)
class Preset:
    """A preset, resolved once per process (``get``) and passed down: its settings as Configs (typed here; `sweep
    check` checks their domains), the metrics it runs with ``$LTH_METRICS`` applied, Section 5's ``tickets``, where
    its runs read their data. ``PRESETS`` says what each field means."""

    name: str
    seeds: tuple
    metrics: tuple  # the metrics it runs: $LTH_METRICS (with magnitude) where set, else its own
    settings: dict  # setting name -> Config
    rounds_of: dict  # fewer rounds for some metrics
    seeds_of: dict  # fewer seeds for some metrics
    metrics_of: dict  # only these metrics on some settings
    extra: dict  # metrics beyond the registry's, on one setting (empty: none)
    regime: dict  # the regime study (empty: none)
    tickets: dict  # Section 5
    gpu: bool
    synthetic: dict  # images per split of the synthetic data it writes itself (empty: real data)

    def __str__(self):
        return self.name

    @property
    def data_root(self):
        """Where its runs read their datasets: ``config.data_dir()``, made absolute; synthetic ones (the
        rehearsal's) in a folder of their own under it."""
        return str(Path(config.data_dir()).resolve() / (self.name if self.synthetic else ""))

    def resources(self, setting):
        """The Slurm resources of one run of ``setting``."""
        return RESOURCES[self.name].get(setting, RESOURCES[self.name])


def chosen_metrics():
    """``$LTH_METRICS`` (comma-separated; `make ... METRICS=l1,mod:f`) in the registry's order, or None."""
    chosen = [m.strip() for m in os.environ.get("LTH_METRICS", "").split(",") if m.strip()]
    return ordered(["magnitude", *chosen]) if chosen else None


def get(preset):
    """The ``Preset`` named ``preset`` (a Preset is itself), resolved once per process for each ``$LTH_METRICS``
    (``get.cache_clear()`` after changing ``PRESETS``); PresetError, one line, on a name it does not have."""
    return preset if isinstance(preset, Preset) else _resolve(preset, os.environ.get("LTH_METRICS", ""))


@functools.lru_cache(maxsize=None)
def _resolve(name, _metrics_variable):
    if name not in PRESETS:
        raise PresetError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    p = PRESETS[name]
    tickets = {"reinit_tickets": [0], **p["tickets"]}
    if bad := [s for s in tickets["reinit_tickets"] if s not in p["seeds"]]:
        raise PresetError(f"preset {name}: reinit_tickets={bad[0]!r} is not one of its seeds; valid: "
                          + ", ".join(map(str, p["seeds"])))
    return Preset(name=name, seeds=tuple(p["seeds"]), metrics=tuple(chosen_metrics() or p["metrics"]),
                  settings={s: config.Config.of(c) for s, c in p["settings"].items()},
                  rounds_of=p.get("rounds_of", {}), seeds_of=p.get("seeds_of", {}), metrics_of=p.get("metrics_of", {}),
                  extra=p.get("extra", {}), regime=p.get("regime", {}), tickets=tickets, gpu=p.get("gpu", False),
                  synthetic=p.get("synthetic", {}))


get.cache_clear = _resolve.cache_clear
