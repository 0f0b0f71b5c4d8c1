"""An LTR run's config: every value with its default, type, domain and meaning, in one place (``Config``).

A ``Config`` is frozen and typed where it is made (``Config.of``: ``lr=1`` is ``lr=1.0``, a list of milestones a
tuple), checked against its domains once where a run enters (``check``: experiments/imp.py's config hook, ``sweep
check`` for every run of a preset, the probe, benchmarks/gpu.py), and names its run (``canonical``, ``run_id``).
``data_root``, ``download`` and ``device`` say where and how a run runs: outside its identity. A Config reads as a
mapping too (``config["lr"]``, ``dict(config)``), the form Sacred, JSON and the presets take.

Plain standard library at import: the Makefile lists runs before anything is installed.
"""

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from lth import importance, kernels

REPOSITORY = Path(__file__).resolve().parents[1]


class ConfigError(ValueError):
    """A config value outside its domain."""


def _value(default, meaning, *, identity=True, later=None):
    """A config value: its default and meaning; ``identity``: it names the run's folder; ``later``: a value added
    after the first runs were recorded, left out of the identity at this value (so that those runs keep theirs)."""
    return field(default=default, metadata=dict(meaning=meaning, identity=identity, later=later))


@dataclass(frozen=True)
class Config(Mapping):
    """experiments/imp.py's defaults: LeNet-300-100 on Fashion-MNIST, a short schedule (2 min on a CPU)."""

    model: str = _value("lenet_300_100", "the network (lth/models.py)")
    dataset: str = _value("fashion_mnist", "the dataset (lth/data.py)")
    epochs: int = _value(10, "training epochs of every round")
    batch_size: int = _value(128, "SGD's batch size")
    lr: float = _value(0.1, "SGD's learning rate")
    momentum: float = _value(0.0, "SGD's momentum")
    weight_decay: float = _value(0.0, "SGD's weight decay")
    milestones: tuple = _value((), "epochs after which the learning rate is multiplied by 0.1")
    rewind_iter: int = _value(0, "k: the iteration every round rewinds to (0 = the original LTH)")
    rounds: int = _value(20, "pruning rounds; the last ticket has density (1 - prune_fraction) ** rounds")
    prune_fraction: float = _value(0.2, "share of the remaining weights pruned per round")
    prune_output: bool = _value(False, "prune the output layer too (OpenLTH: yes for ResNets, no for LeNet and VGG)")
    importance: str = _value("magnitude", "the importance metric ([metrics](metrics.md))")
    seed: int = _value(0, "the only source of randomness: initialisation, data order, augmentation, `random`'s scores")
    train_size: int = _value(None, "only the first N training examples (None: all)")
    test_size: int = _value(None, "only the first N test examples (None: all)")
    init: str = _value(None, "a state dict file to start from instead of a fresh initialisation (Section 5.1's reinit)")
    portable: bool = _value(True, "CPU kernels bitwise the same on every x86-64 CPU with AVX2 and FMA (lth.kernels)",
                            later=False)
    data_root: str = _value(None, "where datasets live", identity=False)
    download: bool = _value(True, "try to download a dataset that is not there", identity=False)
    device: str = _value(None, "where the run trains", identity=False)

    # --- made and read ---

    @classmethod
    def of(cls, values=(), **more):
        """The Config of ``values`` (a mapping: a preset's setting, Sacred's config) and ``more``, typed: a number
        given as an int where a float is meant is that float, a list of milestones a tuple. Raises ConfigError, one
        line, on a key that is not a config value."""
        values = {**dict(values), **more}
        if unknown := sorted(set(values) - set(NAMES)):
            raise ConfigError(f"{unknown[0]}={values[unknown[0]]!r} is not a config value; valid: {', '.join(NAMES)}")
        for k, v in values.items():
            if FIELDS[k].type is float and isinstance(v, int) and not isinstance(v, bool):
                values[k] = float(v)
            elif k == "milestones" and isinstance(v, list):
                values[k] = tuple(v)
        return cls(**values)

    @classmethod
    def defaults(cls):
        """The defaults where a run runs: its datasets under ``data_dir()``, on a GPU where PyTorch sees one."""
        import torch

        return cls(data_root=data_dir(), device="cuda" if torch.cuda.is_available() else "cpu")

    def __getitem__(self, key):
        if key not in FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(NAMES)

    def __len__(self):
        return len(NAMES)

    def replace(self, **values):
        return self.of(self, **values)

    def as_dict(self, identity=False):
        """Every value (``identity``: those that name the run), as JSON and Sacred take them (milestones a list)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.items() if not identity or k in IDENTITY}

    # --- identity ---

    def canonical(self):
        """The values that change results (every value with ``identity``), where ``init`` is a digest of the file's
        content (its path does not matter), a metric of your own (``module:function``) adds a digest of its source,
        and ``portable=True`` the settings it stands for (``lth.kernels.PORTABLE``); a ``later`` value at its
        ``later`` is left out."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["identity"]}
        values["milestones"] = list(values["milestones"])
        if values["init"] is not None:
            values["init"] = hashlib.sha1(Path(values["init"]).read_bytes()).hexdigest()
        if source := importance.source_digest(values["importance"]):  # a metric of your own: editing it reruns it
            values["importance_source"] = source
        if values["portable"] is True:  # the libraries' settings for portable kernels: changing them reruns it
            values["portable"] = kernels.PORTABLE
        later = {f.name: f.metadata["later"] for f in fields(self) if f.metadata["later"] is not None}
        return {k: v for k, v in values.items() if k not in later or v != later[k]}

    @property
    def run_id(self):
        """The run's name: readable model, dataset, metric and seed, then a digest of ``canonical``."""
        v = self.canonical()
        digest = hashlib.sha1(json.dumps(v, sort_keys=True).encode()).hexdigest()[:12]
        return f"{v['model']}-{v['dataset']}-{v['importance'].replace(':', '.')}-{v['seed']}-{digest}"

    # --- domains ---

    def check(self):
        """This Config, if every value is in its domain (``DOMAINS``); else ConfigError, one line, on the first that
        is not."""
        for name, (ok, valid) in DOMAINS.items():
            if not ok(self):
                valid = valid(self) if callable(valid) else valid
                raise ConfigError(f"{name}={self[name]!r} is not valid; valid: {valid}")
        try:
            importance.get(self.importance)
        except importance.MetricError as e:
            raise ConfigError(str(e)) from None
        return self


FIELDS = {f.name: f for f in fields(Config)}
NAMES = tuple(FIELDS)
IDENTITY = tuple(f.name for f in FIELDS.values() if f.metadata["identity"])  # the values that name a run
DEFAULT = Config()


def data_dir():
    """Where datasets live: $LTH_DATA, or the repository's data/ (``data_root``'s default)."""
    return os.environ.get("LTH_DATA") or str(REPOSITORY / "data")


def _int(v, low=None):
    return isinstance(v, int) and not isinstance(v, bool) and (low is None or v >= low)


def _number(v):
    return (_int(v) or isinstance(v, float)) and math.isfinite(v)


def _registry(name):
    """The names a model or dataset may take (its module's registry, imported when a config is checked)."""
    from lth import data, models

    return {"model": models.MODELS, "dataset": data.DATASETS}[name]


def _devices(c=None):
    import torch

    gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return ["cpu", *(["cuda", *gpus] if gpus else [])]


def _iterations(c):
    """Iterations of the schedule: epochs x iterations per epoch of the training set."""
    from lth.regime import iterations_per_epoch

    return c.epochs * iterations_per_epoch(c)


_EPOCHS = "an integer >= 1"
# Each value's domain: (does the config's value lie in it, what is valid: a text or a function of the config).
DOMAINS = {
    "model": (lambda c: c.model in _registry("model"), lambda c: ", ".join(_registry("model"))),
    "dataset": (lambda c: c.dataset in _registry("dataset"), lambda c: ", ".join(_registry("dataset"))),
    "device": (lambda c: c.device is None or c.device in _devices(), lambda c: ", ".join(_devices())),
    "importance": (lambda c: isinstance(c.importance, str), lambda c: importance.valid()),
    "epochs": (lambda c: _int(c.epochs, 1), _EPOCHS),
    "batch_size": (lambda c: _int(c.batch_size, 1), _EPOCHS),
    "rounds": (lambda c: _int(c.rounds, 1), _EPOCHS),
    "train_size": (lambda c: c.train_size is None or _int(c.train_size, 1), "null (all) or an integer >= 1"),
    "test_size": (lambda c: c.test_size is None or _int(c.test_size, 1), "null (all) or an integer >= 1"),
    "seed": (lambda c: _int(c.seed, 0) and c.seed < 2**63, "an integer in [0, 2**63)"),
    "lr": (lambda c: _number(c.lr) and c.lr > 0, "a number > 0"),
    "momentum": (lambda c: _number(c.momentum) and 0 <= c.momentum < 1, "a number in [0, 1)"),
    "weight_decay": (lambda c: _number(c.weight_decay) and c.weight_decay >= 0, "a number >= 0"),
    "prune_fraction": (lambda c: _number(c.prune_fraction) and 0 < c.prune_fraction < 1, "a number in (0, 1)"),
    "prune_output": (lambda c: isinstance(c.prune_output, bool), "true or false"),
    "portable": (lambda c: isinstance(c.portable, bool), "true or false"),
    "download": (lambda c: isinstance(c.download, bool), "true or false"),
    "milestones": (lambda c: isinstance(c.milestones, tuple) and list(c.milestones) == sorted(set(c.milestones))
                   and all(_int(m) and 0 < m <= c.epochs for m in c.milestones),
                   lambda c: f"a list of increasing epochs in 1..{c.epochs} after which the learning rate drops x0.1, "
                             "e.g. [80, 120]"),
    "rewind_iter": (lambda c: _int(c.rewind_iter, 0) and c.rewind_iter < _iterations(c),
                    lambda c: f"an iteration in [0, {_iterations(c)}) (epochs x iterations per epoch of {c.dataset})"),
    "init": (lambda c: c.init is None or Path(str(c.init)).is_file(), "null or an existing state-dict file"),
    "data_root": (lambda c: c.data_root is None or (isinstance(c.data_root, str) and c.data_root), "a folder"),
}
