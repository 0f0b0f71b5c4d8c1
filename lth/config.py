"""An LTR run's config: every value checked against its domain before anything runs, where it enters.

``validate`` is called by experiments/imp.py's config hook (a bad value stops before a run folder exists) and, for
a preset, by ``sweep check`` on every run before the first starts. Each error is one line naming the value and
what is valid.
"""

import math
from pathlib import Path

import torch

from lth import cost, data, importance, models, presets


class ConfigError(ValueError):
    """A config value outside its domain."""


def defaults():
    """Every config value of experiments/imp.py and its default: lth/presets.py's DEFAULT plus where and how to run."""
    return dict(presets.DEFAULT, data_root=presets.data_dir(), download=True,
                device="cuda" if torch.cuda.is_available() else "cpu")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def validate(config):
    """Raise ConfigError, one line, on the first value of ``config`` outside its domain."""
    c = dict(defaults(), **config)
    if unknown := sorted(set(c) - set(defaults())):
        raise ConfigError(f"{unknown[0]}={c[unknown[0]]!r} is not a config value; valid: {', '.join(defaults())}")

    def need(key, ok, valid):
        if not ok:
            raise ConfigError(f"{key}={c[key]!r} is not valid; valid: {valid}")

    gpus = ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))] if torch.cuda.is_available() else []
    for key, options in (("model", models.MODELS), ("dataset", data.DATASETS), ("device", ["cpu", *gpus])):
        need(key, c[key] in options, ", ".join(options))
    need("importance", isinstance(c["importance"], str), importance.valid())
    try:
        importance.get(c["importance"])
    except importance.MetricError as e:
        raise ConfigError(str(e)) from None
    for key in ("epochs", "batch_size", "rounds"):
        need(key, _is_int(c[key]) and c[key] >= 1, "an integer >= 1")
    for key in ("train_size", "test_size"):
        need(key, c[key] is None or (_is_int(c[key]) and c[key] >= 1), "null (all) or an integer >= 1")
    need("seed", _is_int(c["seed"]) and 0 <= c["seed"] < 2**63, "an integer in [0, 2**63)")
    need("lr", _is_number(c["lr"]) and c["lr"] > 0, "a number > 0")
    need("momentum", _is_number(c["momentum"]) and 0 <= c["momentum"] < 1, "a number in [0, 1)")
    need("weight_decay", _is_number(c["weight_decay"]) and c["weight_decay"] >= 0, "a number >= 0")
    need("prune_fraction", _is_number(c["prune_fraction"]) and 0 < c["prune_fraction"] < 1, "a number in (0, 1)")
    for key in ("prune_output", "portable", "download"):
        need(key, isinstance(c[key], bool), "true or false")
    ms, e = c["milestones"], c["epochs"]
    need("milestones", isinstance(ms, list) and all(_is_int(m) and 0 < m <= e for m in ms) and ms == sorted(set(ms)),
         f"a list of increasing epochs in 1..{e} after which the learning rate drops x0.1, e.g. [80, 120]")
    iterations = c["epochs"] * math.ceil(cost.train_images(c) / c["batch_size"])
    need("rewind_iter", _is_int(c["rewind_iter"]) and 0 <= c["rewind_iter"] < iterations,
         f"an iteration in [0, {iterations}) (epochs x iterations per epoch of {c['dataset']})")
    need("init", c["init"] is None or Path(str(c["init"])).is_file(), "null or an existing state-dict file")
    need("data_root", isinstance(c["data_root"], str) and c["data_root"], "a folder")
    return c
