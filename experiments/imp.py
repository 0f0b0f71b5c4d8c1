"""Iterative magnitude pruning with rewinding (LTR) and an importance metric, as a Sacred experiment.

    python experiments/imp.py with importance=minmax seed=1
    python experiments/imp.py with resnet20_cifar10 importance=l1 seed=2

Runs are recorded under $LTH_RUNS (default ``runs/``) by a FileStorageObserver. A run that is
killed resumes from its last completed round when started again with the same config.
"""

import hashlib
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)  # Sacred 0.8.7 imports it
from sacred import SETTINGS, Experiment
from sacred.observers import FileStorageObserver
from sacred.utils import SacredError, apply_backspaces_and_linefeeds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lth import data as data_, importance as importance_, models, presets, pruning  # noqa: E402
from lth.ltr import lottery_ticket_rewinding  # noqa: E402
from lth.training import Hparams, derive_seed, make_deterministic  # noqa: E402

RUNS = Path(os.environ.get("LTH_RUNS", "runs"))

SETTINGS.CAPTURE_MODE = "sys"  # keeps the terminal a terminal, so tqdm shows its bars
ex = Experiment("imp", save_git_info=False)
ex.observers.append(FileStorageObserver(str(RUNS)))
ex.captured_out_filter = apply_backspaces_and_linefeeds


# Every config value, its default and its meaning: lth/presets.py's DEFAULT.
ex.add_config(dict(presets.DEFAULT, data_root=os.environ.get("LTH_DATA", "data"), download=True,
                   device="cuda" if torch.cuda.is_available() else "cpu"))
# The paper's four settings (e.g. `with resnet20_cifar10`) and `smoke` (seconds on a CPU).
for name, values in {**presets.PAPER, "smoke": presets.SMOKE}.items():
    ex.add_named_config(name, values)


@ex.config_hook
def validate(config, command_name, logger):
    """Reject bad values before any run folder or training exists."""
    try:
        importance_.get(config["importance"])
        models.check(config["model"])
        data_.check(config["dataset"])
        if not 0 < config["prune_fraction"] < 1:
            raise ValueError(f"prune_fraction={config['prune_fraction']!r} is outside (0, 1)")
        if config["init"] and not Path(config["init"]).is_file():
            raise ValueError(f"init={config['init']!r} is not a file")
        if config["device"] not in ("cpu", "cuda") and not config["device"].startswith("cuda:"):
            raise ValueError(f"unknown device {config['device']!r}; valid: cpu, cuda, cuda:N")
    except ValueError as e:
        raise SacredError(str(e), print_traceback=False) from None
    return {}


def run_key(config):
    """Identifies a run by everything that can change its results."""
    relevant = {k: v for k, v in config.items() if k not in ("data_root", "download")}
    return hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


@ex.main
def main(_run, _config, model, dataset, epochs, batch_size, lr, momentum, weight_decay, milestones, rewind_iter,
         rounds, prune_fraction, prune_output, importance, seed, train_size, test_size, init, data_root, download, device):
    make_deterministic()
    try:
        data = data_.load(dataset, data_root, download)
    except data_.DatasetNotFound as e:
        raise SacredError(str(e), print_traceback=False) from None
    data = data_.to(data_.subset(data, train_size, test_size), device)
    torch.manual_seed(derive_seed(seed, "init"))
    net = models.build(model, data.train_x.shape[1], data.train_x.shape[-1], data.num_classes)
    if init:
        net.load_state_dict(torch.load(init, weights_only=True))
    net = net.to(device)
    layers = pruning.prunable_layers(net, prune_output)
    hp = Hparams(epochs, batch_size, lr, momentum, weight_decay, tuple(milestones), rewind_iter)
    workdir = RUNS / "checkpoints" / run_key(_config)
    _run.info["layers"] = layers  # input first; metrics.json sorts its keys

    def log(i, ticket, path):
        mask = ticket["mask"]
        _run.log_scalar("test_accuracy", ticket["test_accuracy"], i)
        _run.log_scalar("density", pruning.density(mask), i)
        for name, d in pruning.layer_density(mask).items():
            _run.log_scalar(f"density/{name}", d, i)
        if collapsed := pruning.collapsed(mask):
            _run.info.setdefault("collapsed", {})[str(i)] = collapsed
        if i == 0:
            _run.add_artifact(workdir / "init.pt")
            _run.add_artifact(workdir / "rewind.pt")
        _run.add_artifact(path)

    tickets = lottery_ticket_rewinding(net, data, hp, layers, importance=importance, rounds=rounds,
                                       fraction=prune_fraction, seed=seed, workdir=workdir, log=log)
    shutil.rmtree(workdir)  # the completed Sacred run now holds every artifact
    return {"test_accuracy": [t["test_accuracy"] for t in tickets],
            "density": [round(pruning.density(t["mask"]), 6) for t in tickets]}


if __name__ == "__main__":
    ex.run_commandline()
