"""The runs behind `make figures`: list a preset's runs, check what they need, run the missing ones.

    python experiments/sweep.py list small [--metrics magnitude,l1]   # run names, one per line
    python experiments/sweep.py check paper [--no-download]           # data and GPU there? else one line, exit 1
    python experiments/sweep.py run small resnet8_8_fashion_mnist__minmax__0 ...

`run` skips every run that already has a completed run with the same config under $LTH_RUNS.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lth import presets  # noqa: E402  (no torch here: `list` runs before anything is installed)

RUNS = Path(os.environ.get("LTH_RUNS", "runs"))
DATA = os.environ.get("LTH_DATA", "data")


def check(preset, download=True):
    """Stop early, in one line, when a preset's datasets or its GPU are missing."""
    import torch

    from lth import data

    missing = []
    for dataset in sorted({s["dataset"] for s in presets.check(preset)["settings"].values()}):
        try:
            data.load(dataset, DATA, download)
        except data.DatasetNotFound as e:
            missing.append(str(e))
    if preset == "paper" and not torch.cuda.is_available():
        missing.append("PRESET=paper needs a CUDA GPU (thousands of epochs); none is visible to PyTorch")
    if missing:
        sys.exit(f"PRESET={preset} cannot run: " + "; ".join(missing))


def run(preset, names):
    from lth.analysis import find_runs

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from imp import ex

    configs = presets.runs(preset)
    unknown = [n for n in names if n not in configs]
    if unknown:
        sys.exit(f"unknown run {unknown[0]!r} of preset {preset!r}; see `python experiments/sweep.py list {preset}`")
    for name in names:
        if find_runs(RUNS, configs[name]):
            print(f"{name}: already completed")
            continue
        print(f"{name}: running")
        if ex.run(config_updates=dict(configs[name], data_root=DATA)).status != "COMPLETED":
            sys.exit(f"{name} failed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "check", "run"])
    parser.add_argument("preset", choices=list(presets.PRESETS))
    parser.add_argument("names", nargs="*")
    parser.add_argument("--metrics", help="comma-separated importance metrics (list only)")
    parser.add_argument("--tickets", action="store_true", help="only the runs Section 5 compares (list only)")
    parser.add_argument("--no-download", action="store_true", help="check only what is on disk (check only)")
    parser.add_argument("--reinit-seeds", action="store_true", help="the seeds of Section 5.1's reinitialisations")
    args = parser.parse_args()
    if args.command == "list":
        if args.reinit_seeds:
            names = presets.TICKETS[args.preset]["reinit_seeds"]
        elif args.tickets:
            names = presets.ticket_runs(args.preset)
        else:
            names = presets.runs(args.preset, args.metrics.split(",") if args.metrics else None)
        print("\n".join(map(str, names)))
    elif args.command == "check":
        check(args.preset, download=not args.no_download)
    else:
        run(args.preset, args.names)
