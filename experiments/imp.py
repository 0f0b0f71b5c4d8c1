"""Iterative magnitude pruning with rewinding (LTR) and an importance metric, as a Sacred experiment.

    python experiments/imp.py with importance=minmax seed=1
    python experiments/imp.py with resnet20_cifar10 importance=l1 seed=2

Recorded in $LTH_RUNS/<run id>/ (lth.runs). Started again, a killed run resumes from its last epoch and a
completed one replays its stored rounds. From Python: ``experiments.imp.run(config, runs_dir)``.
"""

import warnings

warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)  # Sacred 0.8.7 imports it
from sacred import SETTINGS, Experiment  # noqa: E402
from sacred.utils import apply_backspaces_and_linefeeds  # noqa: E402

from experiments import observer  # noqa: E402
from lth import data, presets, pruning, runs, store  # noqa: E402
from lth.config import Config  # noqa: E402
from lth.kernels import NotPortable, make_deterministic  # noqa: E402
from lth.ltr import initialise, lottery_ticket_rewinding  # noqa: E402
from lth.tickets import digest  # noqa: E402
from lth.training import Diverged  # noqa: E402

SETTINGS.CAPTURE_MODE = "sys"  # keeps the terminal a terminal, so tqdm shows its bars
ex = Experiment("imp", save_git_info=False)
ex.captured_out_filter = apply_backspaces_and_linefeeds

# Every config value, its default and its meaning: lth/config.py's Config.
ex.add_config(Config.defaults().as_dict())
# The paper's four settings (e.g. `with resnet20_cifar10`) and `smoke` (seconds on a CPU).
for name, values in {**presets.PAPER, "smoke": presets.SMOKE}.items():
    ex.add_named_config(name, values)


observer.validate_with(ex, lambda values: Config.of(values).check())


@ex.main
def main(_run, _config):
    config, folder = Config.of({k: _config[k] for k in Config()}), observer.folder(_run)
    try:
        make_deterministic(config.portable)
        dataset = data.load(config.dataset, config.data_root, config.download)
    except (NotPortable, data.DatasetNotFound) as e:
        observer.fail(str(e))
    dataset = data.to(data.subset(dataset, config.train_size, config.test_size), config.device)
    channels, size = dataset.train_x.shape[1], dataset.train_x.shape[-1]
    net, layers, dense, roles = initialise(config, channels, size, dataset.num_classes)
    _run.info.update(layers=layers, dense=dense, roles=dict(vars(roles), shortcuts=list(roles.shortcuts)))

    def log(i, ticket, path):
        mask = ticket["mask"]
        _run.log_scalar("test_accuracy", ticket["test_accuracy"], i)
        _run.log_scalar("density", pruning.density(mask), i)
        for name, d in pruning.layer_density(mask).items():
            _run.log_scalar(f"density/{name}", d, i)
        _run.info.setdefault("digests", {})[str(i)] = digest(ticket)  # `make verify` compares these
        if collapsed := pruning.collapsed(mask):
            _run.info.setdefault("collapsed", {})[str(i)] = collapsed
        if i == 0:
            _run.add_artifact(path.with_name(store.INIT))
            _run.add_artifact(path.with_name(store.REWIND))
        _run.add_artifact(path)

    try:
        tickets = lottery_ticket_rewinding(net, dataset, config, layers, importance=config.importance,
                                           rounds=config.rounds, fraction=config.prune_fraction, seed=config.seed,
                                           workdir=folder.dir, dense=dense, log=log)
    except store.DiskFull as e:
        observer.fail(e.strerror)
    except (Diverged, pruning.NonFiniteScores, store.Damaged) as e:
        observer.fail(str(e))
    return {"test_accuracy": [t["test_accuracy"] for t in tickets],
            "density": [round(pruning.density(t["mask"]), 6) for t in tickets]}


def run(config, runs_dir=None, record=None):
    """Run the LTR run of ``config`` (resumed if it was interrupted, replayed if it has completed),
    recorded under ``runs_dir`` ($LTH_RUNS by default); ``record``: its lth.runs record, where the caller has it."""
    return observer.run(ex, config, runs_dir, record)


if __name__ == "__main__":
    ex.observers.append(observer.RunFolder(runs.default_dir()))
    ex.run_commandline()
