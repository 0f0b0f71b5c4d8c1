"""Partial reinitialisation (the paper's Section 5.1), as a Sacred experiment.

    python experiments/reinit.py with preset=small reinit_seed=1

Takes the completed LTR runs of one setting and seed that differ only in the importance metric, keeps theta_0 at
the connections that are unpruned in all their tickets at ``round``, redraws every other prunable weight from the
same Kaiming normal (seeded by ``reinit_seed``), reruns LTR for each metric from that initialisation (as
experiments/imp.py runs), and records per layer how many kept connections survive in the new tickets against the
number expected by chance (the layer's density). Recorded in $LTH_RUNS/<lth.runs.Reinit's id>/ with its new
initialisation (reinit.pt) and survival.csv.
"""

import warnings
from pathlib import Path

warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)  # Sacred 0.8.7 imports it
from sacred import Experiment  # noqa: E402
from sacred.utils import SacredError  # noqa: E402

from experiments import imp  # noqa: E402
from experiments.observer import RunFolder  # noqa: E402
from lth import presets, runs, store, tickets  # noqa: E402
from lth.training import make_deterministic, save  # noqa: E402

ex = Experiment("reinit", save_git_info=False)


@ex.config_hook
def validate(config, command_name, logger):
    try:
        p = presets.check(config["preset"])
        if config["setting"] not in p["settings"]:
            raise ValueError(f"setting={config['setting']!r} is not valid; valid: {', '.join(p['settings'])}")
        if bad := [m for m in config["metrics"] if m not in p["metrics"]] + [s for s in [config["seed"]] if s not in p["seeds"]]:
            raise ValueError(f"{bad[0]!r} is not a metric or seed of preset {config['preset']!r}; valid: "
                             f"metrics {', '.join(p['metrics'])}, seeds {', '.join(map(str, p['seeds']))}")
    except ValueError as e:
        raise SacredError(str(e), print_traceback=False) from None
    return {}


@ex.config
def config():
    preset = "small"  # whose runs to start from (lth/presets.py)
    setting = presets.TICKETS.get(preset, {}).get("setting")
    metrics = presets.TICKETS.get(preset, {}).get("metrics")
    seed = 0  # seed of the original runs; the reruns train with the same data order
    round = presets.TICKETS.get(preset, {}).get("round")  # keep the connections that overlap at this round (15: 96.48 %)
    reinit_seed = 1  # seeds the redrawn weights


@ex.main
def main(_run, preset, setting, metrics, seed, round, reinit_seed):
    folder = next(o for o in _run.observers if isinstance(o, RunFolder))
    runs_dir = Path(folder.basedir)
    originals = folder.record.originals  # the ticket runs it starts from, one per metric
    make_deterministic(dict(presets.DEFAULT, **originals[0].config)["portable"])  # the redraw runs their kernels
    paths = [r.folder(runs_dir) for r in originals]
    if missing := [r.importance for r, p in zip(originals, paths) if not store.is_completed(p)]:
        raise SacredError(f"no completed {setting} run with importance {', '.join(missing)} and seed {seed} under "
                          f"{runs_dir}: run `make PRESET={preset} runs` first", print_traceback=False)
    init_path = Path(folder.dir) / "reinit.pt"
    try:
        tickets.check_same_dense(paths)
        keep = tickets.overlap([tickets.load_ticket(p, round)["mask"] for p in paths])
        save(tickets.partial_reinit(tickets.load_file(paths[0] / store.INIT), keep, reinit_seed), init_path)
    except store.Damaged as e:
        raise SacredError(str(e), print_traceback=False) from None

    new_masks = {}
    for r in originals:
        config = dict(r.config, init=str(init_path), rounds=round)  # from the new initialisation, up to ``round``
        if (rerun := imp.run(config, runs_dir)).status != "COMPLETED":
            raise SacredError(f"the rerun of {r.importance} from the new initialisation failed", print_traceback=False)
        new_masks[r.importance] = tickets.load_ticket(runs_dir / rerun._id, round)["mask"]
    table = tickets.survival_table(keep, new_masks)
    with store.atomic(Path(folder.dir) / "survival.csv") as tmp:
        table.to_csv(tmp, index=False)
    _run.add_artifact(Path(folder.dir) / "survival.csv")
    return table[table.layer == "all"].to_dict("records")


def run(config, runs_dir=None, record=None):
    """Run the partial reinitialisation of ``config``, recorded under ``runs_dir`` ($LTH_RUNS by default);
    ``record``: its lth.runs record, where the caller has it."""
    ex.observers[:] = [RunFolder(runs_dir or runs.default_dir(), (lambda _: record) if record else runs.Reinit)]
    return ex.run(config_updates=config)


if __name__ == "__main__":
    ex.observers.append(RunFolder(runs.default_dir(), runs.Reinit))
    ex.run_commandline()
