"""Every run id, as committed in tests/data/run_ids.csv: a run's identity (lth.runs.canonical) is the contract
between the code and every run folder made so far, so a change of the code that changes an id fails here.

``python tests/test_run_ids.py --write`` writes the listing anew, for a change that renames runs on purpose (a
preset's settings changed): commit it with that change alone.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LISTING = HERE / "data" / "run_ids.csv"
METRIC = "scoring:sqrt_l1"  # tests/data/scoring.py: a metric of one's own, named by its source
# One config value away from the defaults, where identity has a rule of its own (lth.runs.canonical).
CONFIGS = {"default": {}, "lr=1 (int)": dict(lr=1), "init file": dict(init=str(HERE / "data" / "theta.bin")),
           "own metric": dict(importance=METRIC), "portable=False": dict(portable=False),
           "smoke named config": dict(importance="minmax", seed=1, smoke=True)}


def listing():
    """[(case, group, run id)]: each preset's runs by group (lth.runs.groups, the regime study's too), alone and
    with METRICS=l1 and with METRICS=<own metric>; then the ``CONFIGS``."""
    rows, env = [], dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE / "data"), str(HERE.parent)]))
    for metrics in ("", "l1", METRIC):
        for preset in ("small", "paper", "smoke", "rehearsal"):
            out = subprocess.run([sys.executable, "-m", "experiments.sweep", "list", preset, "--tagged"], cwd=HERE.parent,
                                 env=dict(env, LTH_METRICS=metrics), capture_output=True, text=True, check=True)
            rows += [(f"{preset}{' METRICS=' + metrics if metrics else ''}", *line.split(":", 1))
                     for line in out.stdout.split()]
    sys.path[:0] = [str(HERE / "data")]
    from lth import presets, runs

    for case, values in CONFIGS.items():
        smoke = presets.SMOKE if values.pop("smoke", False) else {}
        rows.append((case, "config", runs.run_id(dict(presets.DEFAULT, **smoke, **values))))
    return rows


def test_every_run_id_is_the_committed_one():
    with open(LISTING) as f:
        committed = [tuple(r) for r in csv.reader(f)][1:]
    now = listing()
    changed = [(a, b) for a, b in zip(committed, now) if a != b]
    assert len(now) == len(committed) and not changed, f"{len(changed)} run ids changed, e.g. {changed[:1]}"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    with open(LISTING, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([("case", "group", "id"), *listing()])
