"""What a run costs: its training epochs, counted from its config, and seconds per epoch, timed here.

``seconds_per_epoch`` trains a few iterations of the setting's model at its batch size on random
data of its dataset's shape, through the real training step (``lth.training.train``, with a mask),
on the present device; ``price`` multiplies such timings out over a preset's runs (experiments/sweep.py's
``plan`` with the times of ``seconds_per_epoch``, benchmarks/gpu.py with its own).
"""

import functools
import math
import platform
import time

import torch

from lth import models, presets, pruning, runs, store
from lth.data import SHAPES, random_like, to
from lth.config import Config
from lth.training import evaluate, train


def train_images(config):
    return min(config["train_size"] or SHAPES[config["dataset"]][3], SHAPES[config["dataset"]][3])


def epochs(config):
    """Training epochs of one LTR run: pretraining to the rewind point k, then rounds 0..R from k to the end."""
    ipe = math.ceil(train_images(config) / config["batch_size"])
    k, m = config["rewind_iter"], config["epochs"] * ipe
    return (k + (config["rounds"] + 1) * (m - k)) / ipe


def evaluations(config):
    """Test-set passes of one LTR run: one per round."""
    return config["rounds"] + 1


def seconds(config, timing):
    """Seconds one LTR run of ``config`` takes, from ``timing`` = (seconds per training epoch, seconds per test-set
    pass): its epochs and its test passes."""
    per_epoch, per_test = timing
    return epochs(config) * per_epoch + evaluations(config) * per_test


def configs(preset, setting, study=False):
    """The configs of every LTR run of ``setting`` that ``preset`` trains: its runs (``extra`` ones included) and
    the reinitialisations' reruns; ``study``: the regime study's runs of ``setting`` (``<setting>@<arm>``)."""
    every = [r for r in runs.every(preset, study=study) if r.setting == setting]
    return [c for r in every for c in ([r.config] if r.experiment == "imp" else r.reruns)]


@functools.cache
def _sizes(model_name, dataset):
    """(values per tensor of the model's state, weights per prunable layer)."""
    channels, size, classes = SHAPES[dataset][:3]
    with torch.device("meta"):  # shapes only: nothing allocated, nothing drawn
        model = models.build(model_name, channels, size, classes)
    layers = tuple(model.get_submodule(n).weight.numel() for n in pruning.prunable_layers(model))
    return tuple(t.numel() for t in model.state_dict().values()), layers


def _state_bytes(config):
    """Bytes of one stored state of the config's model (theta_0, theta_{0,k}, a reinitialisation's new theta_0): 4 a
    value, and torch.save's own bytes, about 1.4 KB a file and 0.29 KB a tensor (its record and alignment; measured)."""
    state, _ = _sizes(config["model"], config["dataset"])
    return 4 * sum(state) + 1400 + 290 * len(state)


def stored_bytes(config):
    """Bytes the folder of a completed LTR run of ``config`` holds: theta_0 and theta_{0,k} (4 bytes per value of
    the model's state) and each round's ticket as lth.tickets.pack stores it (a bit per prunable weight for its
    mask and one per pruned weight for its sign, 4 bytes per unpruned weight; each round prunes
    ``ceil(prune_fraction x unpruned)``, as lth.pruning.prune does), and torch.save's own bytes; Sacred's small
    files left out. Within 1 % of a small run's folder (tests/test_sweep.py).
    A running run also holds a checkpoint (its state and momentum) until it completes."""
    layers = _sizes(config["model"], config["dataset"])[1]
    total, unpruned = 2 * _state_bytes(config), sum(layers)
    for _ in range(config["rounds"] + 1):
        total += sum(math.ceil(n / 8) for n in layers) + (sum(layers) - unpruned) / 8 + 4 * unpruned
        total += 1400 + 3 * 220 * len(layers)  # a mask, values and signs per layer: 220 bytes each (measured)
        unpruned -= math.ceil(config["prune_fraction"] * unpruned)  # of the dense layers' weights too (OpenLTH)
    return round(total)


def record_bytes(r):
    """Bytes the folders of a completed run record hold: an LTR run's (``stored_bytes``), or a reinitialisation's new
    theta_0 and its reruns'."""
    if r.experiment == "imp":
        return stored_bytes(r.config)
    return _state_bytes(r.reruns[0]) + sum(map(stored_bytes, r.reruns))


def disk(preset):
    """{setting: bytes its runs hold once completed}: its LTR runs' and reinitialisations' (``record_bytes``)."""
    every = runs.every(preset)
    return {s: sum(record_bytes(r) for r in every if r.setting == s) for s in presets.get(preset).settings}


def remaining_bytes(preset, runs_dir):
    """Bytes the preset's runs still need under ``runs_dir``: each LTR run that has not completed, less what its
    folder holds already, and each reinitialisation that has not (its reruns' folders counted as empty)."""
    need = 0
    for r in (r for r in runs.every(preset) if not store.is_completed(r.folder(runs_dir))):
        folder = r.folder(runs_dir)
        held = sum(f.stat().st_size for f in folder.glob("*") if f.is_file()) if folder.is_dir() else 0
        need += max(0, record_bytes(r) - held)
    return need


def price(preset, timings, study=False):
    """What ``preset`` costs on one device, from ``timings`` = {setting: (seconds per training epoch, seconds per
    test-set pass)}: one row (setting, runs, training epochs, seconds per epoch, hours) per setting of the preset
    that ``timings`` holds, in the preset's order (``study``: per arm of its regime study, ``<setting>@<arm>``).
    Hours = (epochs x s/epoch + test passes x s/pass) / 3600, summed over the setting's runs (``configs``,
    ``seconds``)."""
    rows, p = [], presets.get(preset)
    arms = [f"{s}@{arm}" for s, regime in p.regime.items() for arm in regime["arms"]]
    names = arms if study else p.settings
    for setting in names:
        timing = timings.get(setting.split("@")[0])
        if timing is None:
            continue
        runs = configs(preset, setting, study)
        hours = sum(seconds(c, timing) for c in runs) / 3600
        rows.append((setting, len(runs), sum(epochs(c) for c in runs), timing[0], hours))
    return rows


def device_name(device):
    """What ``device`` is, for a table's header: the GPU's name, or the CPU's with the threads a run uses."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"{platform.processor() or platform.machine()} CPU, {threads} thread{'s' if threads > 1 else ''}"


def _synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_epoch(config, device, iterations=5):
    """(seconds per training epoch, seconds per test-set pass) of the config's model and batch size on ``device``.

    Times ``iterations`` training iterations after one warm-up iteration, and one evaluation batch
    after one warm-up batch, on random data of the dataset's shape. A training set smaller than a batch (the
    rehearsal's) is timed as the one short batch its epoch is."""
    name = config["dataset"]
    batch = min(config["batch_size"], train_images(config))
    n_test = min(config["test_size"] or SHAPES[name][4], SHAPES[name][4])
    data = to(random_like(name, batch * (iterations + 1), min(n_test, 1000)), device)
    torch.manual_seed(0)
    channels, size, classes = SHAPES[name][:3]
    model = models.build(config["model"], channels, size, classes).to(device)
    layers = pruning.prunable_layers(model)
    mask = pruning.prune(pruning.weights(model, layers), pruning.full_mask(model, layers), "magnitude", 0.2)
    schedule = Config(epochs=1, batch_size=batch, lr=config["lr"], momentum=config["momentum"],
                      weight_decay=config["weight_decay"])
    train(model, data, schedule, start=0, end=1, seed=0, mask=mask)  # warm-up
    evaluate(model, data)
    _synchronize(device)
    start = time.perf_counter()
    train(model, data, schedule, start=1, end=iterations + 1, seed=0, mask=mask)
    _synchronize(device)
    per_iteration = (time.perf_counter() - start) / iterations
    start = time.perf_counter()
    evaluate(model, data)
    _synchronize(device)
    per_test_pass = (time.perf_counter() - start) * n_test / len(data.test_y)
    return per_iteration * math.ceil(train_images(config) / config["batch_size"]), per_test_pass
