"""Partial reinitialisation (the paper's Section 5.1), as a Sacred experiment.

    python experiments/reinit.py with preset=small reinit_seed=1

From the completed LTR runs of one setting and seed that differ only in the metric: keeps theta_0 where every
ticket at ``round`` is unpruned, redraws every other prunable weight (seeded by ``reinit_seed``), reruns LTR for
each metric from there, and records per layer how many kept connections survive against chance and against the
redrawn ones of the same size (survival.csv).
"""

import warnings
from pathlib import Path

warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)  # Sacred 0.8.7 imports it
from sacred import Experiment  # noqa: E402

from experiments import imp, observer  # noqa: E402
from lth import presets, runs, store, tickets  # noqa: E402
from lth.kernels import NotPortable, make_deterministic  # noqa: E402
from lth.report import section5  # noqa: E402
from lth.training import save  # noqa: E402

ex = Experiment("reinit", save_git_info=False)


def validate(config):
    """A ValueError, one line, where the setting, a metric or the seed is not the preset's."""
    p = presets.get(config["preset"])
    if not isinstance(config["metrics"], list):
        raise ValueError(f"metrics={config['metrics']!r} is not valid; valid: a list of the preset's metrics, e.g. "
                         "'[\"magnitude\", \"l1\"]'")
    for key, values, valid in (("setting", [config["setting"]], p.settings), ("metrics", config["metrics"],
                               p.metrics), ("seed", [config["seed"]], p.seeds)):
        if bad := [v for v in values if v not in valid]:
            raise ValueError(f"{key}={bad[0]!r} is not one of preset {config['preset']}'s; valid: "
                             + ", ".join(map(str, valid)))


observer.validate_with(ex, validate)


@ex.config
def config():
    preset = "small"  # whose runs to start from (lth/presets.py)
    setting = presets.PRESETS.get(preset, {}).get("tickets", {}).get("setting")
    metrics = presets.PRESETS.get(preset, {}).get("tickets", {}).get("metrics")
    seed = 0  # seed of the original runs; the reruns train with the same data order
    round = presets.PRESETS.get(preset, {}).get("tickets", {}).get("round")  # keep the connections that overlap at this round (15: 96.48 %)
    reinit_seed = 1  # seeds the redrawn weights


@ex.main
def main(_run, preset, setting, metrics, seed, round, reinit_seed):
    folder = observer.folder(_run)
    runs_dir = Path(folder.basedir)
    originals = folder.record.originals  # the ticket runs it starts from, one per metric
    try:
        make_deterministic(dict(presets.DEFAULT, **originals[0].config)["portable"])  # the redraw runs their kernels
    except NotPortable as e:
        observer.fail(str(e))
    paths = [r.folder(runs_dir) for r in originals]
    if missing := [r.importance for r, p in zip(originals, paths) if not store.is_completed(p)]:
        observer.fail(f"no completed {setting} run with importance {', '.join(missing)} and seed {seed} under "
                      f"{runs_dir}: run `make PRESET={preset} runs` first")
    init_path = Path(folder.dir) / store.REINIT
    try:
        tickets.check_same_dense(paths)
        keep = tickets.intersection([tickets.load_ticket(p, round)["mask"] for p in paths])
        init = tickets.partial_reinit(tickets.load_file(paths[0] / store.INIT), keep, reinit_seed)
        save(init, init_path)
    except store.Damaged as e:
        observer.fail(str(e))

    new_masks = {}
    for r, config in zip(originals, folder.record.reruns):
        if (rerun := imp.run(dict(config, init=str(init_path)), runs_dir)).status != "COMPLETED":
            observer.fail(f"the rerun of {r.importance} from the new initialisation failed")
        new_masks[r.importance] = tickets.load_ticket(runs_dir / rerun._id, round)["mask"]
    table = section5.survival_table(keep, new_masks, {layer: init[f"{layer}.weight"] for layer in keep})
    with store.atomic(Path(folder.dir) / store.SURVIVAL) as tmp:
        table.to_csv(tmp, index=False)
    _run.add_artifact(Path(folder.dir) / store.SURVIVAL)
    return table[table.layer == "all"].to_dict("records")


def run(config, runs_dir=None, record=None):
    """Run the partial reinitialisation of ``config``, recorded under ``runs_dir`` ($LTH_RUNS by default);
    ``record``: its lth.runs record, where the caller has it."""
    return observer.run(ex, config, runs_dir, record)


if __name__ == "__main__":
    ex.observers.append(observer.RunFolder(runs.default_dir()))
    ex.run_commandline()
