"""Partial reinitialisation (the paper's Section 5.1), as a Sacred experiment.

    python experiments/reinit.py with preset=small reinit_seed=1

Takes the completed LTR runs of one setting and seed that differ only in the importance metric,
keeps theta_0 at the connections that are unpruned in all their tickets at ``round``, redraws every
other prunable weight from the same Kaiming normal (seeded by ``reinit_seed``), reruns LTR for each
metric from that initialisation with the same deterministic training (as experiments/imp.py runs,
skipped when already completed), and records per layer how many kept connections survive in the
new tickets against the number expected by chance (the layer's density). Records go to
$LTH_RUNS/reinit/; the new initialisations to $LTH_RUNS/reinit/inits/.
"""

import hashlib
import io
import os
import sys
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)  # Sacred 0.8.7 imports it
from sacred import Experiment  # noqa: E402
from sacred.observers import FileStorageObserver  # noqa: E402
from sacred.utils import SacredError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from lth import presets, tickets  # noqa: E402
from lth.analysis import find_runs  # noqa: E402

RUNS = Path(os.environ.get("LTH_RUNS", "runs"))
ex = Experiment("reinit", save_git_info=False)
ex.observers.append(FileStorageObserver(str(RUNS / "reinit")))


@ex.config_hook
def validate(config, command_name, logger):
    try:
        presets.check(config["preset"])
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
    configs = {m: presets.runs(preset)[f"{setting}__{m}__{seed}"] for m in metrics}
    originals = {m: find_runs(RUNS, c) for m, c in configs.items()}
    if missing := [m for m, found in originals.items() if not found]:
        raise SacredError(f"no completed {setting} run with importance {', '.join(missing)} and seed {seed} under "
                          f"{RUNS}: run `make PRESET={preset} runs` first", print_traceback=False)
    paths = [found[-1] for found in originals.values()]
    tickets.check_same_dense(paths)
    keep = tickets.overlap([tickets.load_ticket(p, round)["mask"] for p in paths])
    init = tickets.partial_reinit(torch.load(paths[0] / "init.pt", weights_only=True), keep, reinit_seed)

    buffer = io.BytesIO()
    torch.save(init, buffer)
    init_path = RUNS / "reinit" / "inits" / f"{hashlib.sha1(buffer.getvalue()).hexdigest()[:16]}.pt"
    init_path.parent.mkdir(parents=True, exist_ok=True)
    init_path.write_bytes(buffer.getvalue())

    from imp import ex as imp

    new_masks = {}
    for m, config in configs.items():
        config = dict(config, init=str(init_path), rounds=round)  # no need to prune past ``round``
        if not find_runs(RUNS, config):
            imp.run(config_updates=config)
        new_masks[m] = tickets.load_ticket(find_runs(RUNS, config)[-1], round)["mask"]
    table = tickets.survival_table(keep, new_masks)
    path = RUNS / "reinit" / f"survival_{_run._id}.csv"
    table.to_csv(path, index=False)
    _run.add_artifact(path, "survival.csv")
    path.unlink()
    return table[table.layer == "all"].to_dict("records")


if __name__ == "__main__":
    ex.run_commandline()
