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
from lth import data as data_, importance as importance_, models, pruning  # noqa: E402
from lth.ltr import lottery_ticket_rewinding  # noqa: E402
from lth.training import Hparams, derive_seed, make_deterministic  # noqa: E402

RUNS = Path(os.environ.get("LTH_RUNS", "runs"))

SETTINGS.CAPTURE_MODE = "sys"  # keeps the terminal a terminal, so tqdm shows its bars
ex = Experiment("imp", save_git_info=False)
ex.observers.append(FileStorageObserver(str(RUNS)))
ex.captured_out_filter = apply_backspaces_and_linefeeds


@ex.config
def config():
    # The default: LeNet-300-100 on Fashion-MNIST with a short schedule (minutes on a laptop CPU).
    model = "lenet_300_100"
    dataset = "fashion_mnist"
    epochs = 10
    batch_size = 128
    lr = 0.1
    momentum = 0.0
    weight_decay = 0.0
    milestones = []  # epochs after which the learning rate drops x0.1
    rewind_iter = 0  # k: iteration every round rewinds to (0 = original LTH)
    rounds = 20  # pruning rounds; the last ticket has density (1 - prune_fraction) ** rounds
    prune_fraction = 0.2
    prune_output = False  # prune the output layer too (OpenLTH: yes for ResNets, no for LeNet, VGG)
    importance = "magnitude"  # one of lth.importance.IMPORTANCE
    seed = 0
    train_size = None  # use only the first N training examples (None: all)
    test_size = None
    data_root = os.environ.get("LTH_DATA", "data")
    download = True
    device = "cuda" if torch.cuda.is_available() else "cpu"


# The paper's four settings (PAPER.md section 3, Appendix A.4 of the paper).
@ex.named_config
def lenet_300_100_mnist():
    model, dataset, epochs, batch_size, lr, momentum = "lenet_300_100", "mnist", 40, 128, 0.1, 0.0
    milestones, weight_decay, rewind_iter, rounds, prune_output = [], 0.0, 0, 24, False


@ex.named_config
def resnet20_cifar10():
    model, dataset, epochs, batch_size, lr, momentum = "resnet20", "cifar10", 160, 128, 0.1, 0.9
    milestones, weight_decay, rewind_iter, rounds, prune_output = [80, 120], 1e-4, 1000, 40, True


@ex.named_config
def vgg16_cifar10():
    model, dataset, epochs, batch_size, lr, momentum = "vgg16", "cifar10", 160, 128, 0.1, 0.9
    milestones, weight_decay, rewind_iter, rounds, prune_output = [80, 120], 1e-4, 2000, 35, False


@ex.named_config
def resnet18_tinyimagenet():
    model, dataset, epochs, batch_size, lr, momentum = "resnet18", "tinyimagenet", 200, 256, 0.2, 0.9
    milestones, weight_decay, rewind_iter, rounds, prune_output = [100, 150], 1e-4, 1000, 40, True


@ex.named_config
def smoke():  # seconds on a CPU: for tests and quick checks
    epochs, rounds, train_size, test_size, rewind_iter = 1, 2, 2048, 1000, 4


@ex.config_hook
def validate(config, command_name, logger):
    """Reject bad values before any run folder or training exists."""
    try:
        importance_.get(config["importance"])
        models.check(config["model"])
        data_.check(config["dataset"])
        if not 0 < config["prune_fraction"] < 1:
            raise ValueError(f"prune_fraction={config['prune_fraction']!r} is outside (0, 1)")
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
         rounds, prune_fraction, prune_output, importance, seed, train_size, test_size, data_root, download, device):
    make_deterministic()
    try:
        data = data_.load(dataset, data_root, download)
    except data_.DatasetNotFound as e:
        raise SacredError(str(e), print_traceback=False) from None
    data = data_.to(data_.subset(data, train_size, test_size), device)
    torch.manual_seed(derive_seed(seed, "init"))
    net = models.build(model, data.train_x.shape[1], data.train_x.shape[-1], data.num_classes).to(device)
    layers = pruning.prunable_layers(net, prune_output)
    hp = Hparams(epochs, batch_size, lr, momentum, weight_decay, tuple(milestones), rewind_iter)
    workdir = RUNS / "checkpoints" / run_key(_config)

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
