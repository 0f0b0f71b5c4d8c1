"""The runs of a preset (lth/presets.py): list them, check them, run them here or on Slurm, watch them, price them.

    python -m experiments.sweep list small [--tickets] [--reinit]   # run ids (LTH_METRICS=l1,l2: of those metrics)
    python -m experiments.sweep check paper [--no-download]   # every value valid, data (and GPU) there
    python -m experiments.sweep run small <run id> ...         # run these here (completed ones are skipped)
    python -m experiments.sweep submit small                   # submit every missing run to Slurm
    python -m experiments.sweep status small                   # one line per run, and a total
    python -m experiments.sweep plan paper                     # epochs, seconds per epoch here, GPU-hours
    python -m experiments.sweep plan small --regime            # the regime study's arms: their regime and cost
    python -m experiments.sweep tables small                   # compute Section 5's connection table anew
    python -m experiments.sweep digests small figures/small/digests.csv   # every run's tickets' digests
    python -m experiments.sweep verify small [--all]           # rerun a sample, compare with the committed digests

`list` needs nothing but the standard library: the Makefile calls it before anything is installed.
"""

import argparse
import collections
import sys
from pathlib import Path

from lth import presets, runs, store


def listing(preset, tickets=False, reinit=False, tagged=False, study=False):
    """Run ids, one a line, of one group of lth.runs.groups; ``tagged``: of every group, each prefixed by its group
    (``ticket:<id>``), what the Makefile reads in one call."""
    groups = runs.groups(preset)
    chosen = groups if tagged else ["regime" if study else "reinit" if reinit else "ticket" if tickets else "run"]
    return "\n".join(f"{g}:{r.id}" if tagged else r.id for g in chosen for r in groups[g])


def check(preset, download=True):
    """Exit with one line where a run's config is invalid or the preset's datasets or GPU are missing (synthetic
    datasets are written first)."""
    import torch

    from lth import data, synthetic
    from lth.config import Config, ConfigError

    p = presets.get(preset)
    for r in runs.every(preset, "imp"):
        try:
            Config.of(r.config).check()
        except ConfigError as e:
            sys.exit(f"PRESET={preset}, run {r.name}: {e}")
    missing = []
    for name in sorted({s.dataset for s in p.settings.values()}):
        if p.synthetic:
            synthetic.write(name, p.data_root, *p.synthetic.values())
        try:
            data.load(name, p.data_root, download)
        except data.DatasetNotFound as e:
            missing.append(str(e))
    if p.gpu and not torch.cuda.is_available():
        missing.append(f"PRESET={preset} needs a CUDA GPU (thousands of epochs); none is visible to PyTorch")
    if missing:
        sys.exit(f"PRESET={preset} cannot run: " + "; ".join(missing))


def deterministic(portable, why):
    """``make_deterministic(portable)`` before this process's first kernel; on a CPU outside the portable baseline,
    exit with one line saying ``why`` that matters."""
    from lth.kernels import NotPortable
    from lth.kernels import make_deterministic

    try:
        make_deterministic(portable)
    except NotPortable as e:
        sys.exit(f"this machine is outside the portable baseline, so {why}: {e}")


def run(preset, ids):
    """Run the runs ``ids`` of the preset here, one after the other (completed ones are skipped, unless a file of
    theirs cannot be read: then they run again, which computes it anew)."""
    from experiments import start

    known = {r.id: r for r in runs.every(preset) + runs.every(preset, study=True)}
    if unknown := [i for i in ids if i not in known]:
        sys.exit(f"{unknown[0]!r} is not a run of preset {preset!r}; see `python -m experiments.sweep list {preset}`")
    deterministic(all(known[i].config.get("portable", True) for i in ids), "these runs cannot run here")
    if not all(store.is_completed(known[i].folder()) for i in ids):
        fits(preset)
    for r in (known[i] for i in ids):
        print(f"{r.name}: {r.folder()}")
        if store.is_completed(r.folder()) and not store.damage(r.folder(), r.config):
            continue
        if start(r).status != "COMPLETED":
            sys.exit(f"{r.name} failed: see {r.folder()}/run.json")


def submit(preset, incomplete_fails=False):
    """Submit to Slurm every run of the preset that is not done, queued or running, and say how the preset stands;
    ``incomplete_fails``: exit 1 until every run is done (what a figure's make target needs)."""
    from experiments import slurm

    runs_dir = runs.default_dir().resolve()
    fits(preset)
    with store.exclusive(runs_dir / ".submit.lock"):  # one submission at a time (make -j)
        try:
            n, waiting, done = slurm.submit_missing(preset, runs_dir)
        except slurm.Refused as e:  # one line per setting, nothing of it submitted
            sys.exit(str(e))
    total = n + waiting + done
    print(f"PRESET={preset}: {n} runs submitted to Slurm now, {waiting} queued or running already, "
          f"{done} of {total} done (logs: {runs_dir / 'slurm'}); "
          f"watch them with `python -m experiments.sweep status {preset}`")
    if incomplete_fails and done < total:
        sys.exit(f"{total - done} of the {total} runs of PRESET={preset} have not completed: run this make "
                 "command again once `python -m experiments.sweep status` shows them done")


def _where(folder, config):
    """Where an LTR run stands, e.g. "round 3 of 15, epoch 2 of 10", from its files."""
    if "rounds" not in config:
        return ""
    if not (folder / store.REWIND).exists():
        return "pretraining"
    i, p = sum(1 for _ in folder.glob(store.round_file("*"))), store.progress(folder) or {}
    epoch = f", epoch {p['epoch'] + 1} of {config['epochs']}" if p.get("stage") == f"round {i}" else ""
    return f"round {i} of {config['rounds']}{epoch}"


def status(preset, study=False):
    """One line per run (done, damaged, running, queued, interrupted, failed or missing, and where it stands), then
    the counts."""
    from experiments import slurm

    queued, counts = slurm.queue(), collections.Counter()
    for r in runs.every(preset, study=study):
        folder, job, detail = r.folder(), slurm.job(r.folder()), ""
        state, on_slurm = store.state(folder), f" (job {job})" if job in queued else ""
        if state == "completed" and (damage := store.damage(folder, r.config)):
            (name, why), state = next(iter(damage.items())), "damaged"
            detail = (f"{len(damage)} files cannot be read ({name}: {why}); `python -m experiments.sweep run {preset} "
                      f"{r.id}` computes them anew")
        elif state == "running":
            detail = _where(folder, r.config) + on_slurm
        elif on_slurm and state != "completed":
            state, detail = ("queued", on_slurm) if queued[job] == "PENDING" else ("running", "starting" + on_slurm)
        elif state == "failed":
            detail = "".join((store.read_json(folder / store.RUN) or {}).get("fail_trace") or [""]).strip()
            detail = detail.splitlines()[-1] if detail else ""
        elif state == "interrupted":
            detail = f"stopped at {_where(folder, r.config)}; running it again resumes there"
        state = "done" if state == "completed" else state
        counts[state] += 1
        print(f"{r.name:<45} {state:<12} {detail.strip()}".rstrip())
    order = ("done", "damaged", "running", "queued", "interrupted", "failed", "missing")
    print(f"total: {sum(counts.values())} runs: " + ", ".join(f"{counts[s]} {s}" for s in order if counts[s]))
    return counts


def plan(preset, study=False):
    """Per setting: runs, training epochs, seconds per epoch timed here, and the hours the preset takes (``study``:
    per arm of its regime study, with the arm's regime: lth.regime)."""
    import torch

    from lth import cost
    from lth.regime import regime

    device, settings = "cuda" if torch.cuda.is_available() else "cpu", presets.get(preset).settings
    # as runs train: one CPU thread, their kernels
    deterministic(next(iter(settings.values()))["portable"], "it cannot time the preset's kernels")
    unit = "GPU-hours" if device == "cuda" else "CPU-hours"
    timings = {setting: cost.seconds_per_epoch(s, device) for setting, s in settings.items()}
    if study:
        return _plan_regime(preset, cost.price(preset, timings, study=True), cost.device_name(device), unit)
    rows, disk = cost.price(preset, timings), cost.disk(preset)  # price: the arithmetic benchmarks/gpu.py uses too
    print(f"{'setting':<30} {'runs':>5} {'epochs':>10} {'it/round':>9} {'lr x wd':>8} {'s/epoch':>9} {unit:>10} "
          f"{'disk GB':>8}   (measured on {cost.device_name(device)}; a round's iterations and lr x weight decay: "
          "docs/reproducing.md#regime)")
    for setting, n, epochs, per_epoch, hours in rows:
        r = regime(settings[setting])
        print(f"{setting:<30} {n:>5} {epochs:>10,.1f} {r.iterations:>9,} {r.decay:>8.4f} {per_epoch:>9.2f} "
              f"{hours:>10.2f} {disk[setting] / 1e9:>8.2f}")
    print(f"{'total':<30} {sum(r[1] for r in rows):>5} {sum(r[2] for r in rows):>10,.1f} {'':>9} {'':>8} {'':>9} "
          f"{sum(r[4] for r in rows):>10.2f} {sum(disk.values()) / 1e9:>8.2f}")
    print(fits(preset, exit=False))
    return rows


def _plan_regime(preset, rows, device, unit):
    """The regime study's plan: per arm, a round's iterations and sum of lr x weight decay, runs, epochs, hours."""
    from lth.regime import regime

    arms = {r.setting: r.config for r in runs.every(preset, study=True)}
    print(f"{'setting @ arm':<48} {'iterations':>10} {'lr x wd':>8} {'runs':>5} {'epochs':>10} {unit:>10}   "
          f"(a round's; measured on {device})")
    for setting, n, epochs, _, hours in rows:
        r = regime(arms[setting])
        print(f"{setting:<48} {r.iterations:>10,} {r.decay:>8.4f} {n:>5} {epochs:>10,.1f} {hours:>10.2f}")
    print(f"{'total':<48} {'':>10} {'':>8} {sum(r[1] for r in rows):>5} {sum(r[2] for r in rows):>10,.1f} "
          f"{sum(r[4] for r in rows):>10.2f}")
    return rows


def fits(preset, exit=True):
    """The disk the preset's runs still need under $LTH_RUNS against what is free there; ``exit``: exit with one
    line, before anything runs, where they do not fit."""
    import shutil

    from lth import cost

    runs_dir = runs.default_dir().resolve()
    need = cost.remaining_bytes(preset, runs_dir)
    free = shutil.disk_usage(next(p for p in (runs_dir, *runs_dir.parents) if p.exists())).free
    line = f"disk: {need / 1e9:.2f} GB still to write under {runs_dir}, {free / 1e9:.2f} GB free there: "
    if exit and need > free:
        sys.exit(f"PRESET={preset} {line}does not fit: free space, or set LTH_RUNS to a larger filesystem "
                 "(`python -m experiments.sweep plan` prices each setting)")
    return line + ("fits" if need <= free else "does not fit")


def tables(preset):
    """Compute Section 5's connection table anew (Figures 1, 5 and 6 share it)."""
    from lth.report import evidence

    (runs.default_dir() / "tables" / f"{preset}-connections.pkl").unlink(missing_ok=True)
    evidence.connections(None, preset)


def digests(preset, path):
    """Write the digests of every completed LTR run's tickets (``lth.report.analysis.digests``) to the CSV file ``path``."""
    from lth.report import analysis

    with store.atomic(path) as tmp:
        analysis.digests(runs.default_dir(), preset).to_csv(tmp, index=False)


def verify(preset, path, all_runs=False):
    """Rerun the first LTR run of each setting (``all_runs``: every one) in a scratch folder under $LTH_RUNS, and compare
    each round's ticket with the digests in ``path``: one line per run. Exit 1 if any differs."""
    import shutil
    import tempfile

    import pandas as pd

    from experiments import start

    if not Path(path).exists():
        sys.exit(f"no committed digests of PRESET={preset} at {path}: `make PRESET={preset} figures` writes them")
    committed = pd.read_csv(path, dtype=str).groupby("run", sort=False)["digest"].apply(list).to_dict()  # by round
    chosen = runs.every(preset, "imp")
    if not all_runs:  # the first run of each setting
        chosen = [r for i, r in enumerate(chosen) if r.setting not in {q.setting for q in chosen[:i]}]
    if new := [r for r in chosen if r.id not in committed]:
        sys.exit(f"{new[0].name} ({new[0].id}) has no digest in {path}: the preset changed since it was rendered")
    deterministic(portable := all(r.config["portable"] for r in chosen), "its runs cannot be compared bitwise")
    if not portable:
        print(f"PRESET={preset} runs native kernels (portable=False): bitwise only on CPUs like the one that "
              "rendered it")
    runs.default_dir().mkdir(parents=True, exist_ok=True)
    scratch, differ = Path(tempfile.mkdtemp(prefix="verify-", dir=runs.default_dir())), 0
    for r in chosen:
        if start(r, scratch).status != "COMPLETED":
            sys.exit(f"{r.name} failed: see {r.folder(scratch)}/run.json")
        ours = store.read_json(r.folder(scratch) / store.INFO)["digests"]
        first = next((i for i, theirs in enumerate(committed[r.id]) if ours.get(str(i)) != theirs), None)
        differ += first is not None
        print(f"{r.name}: " + ("bitwise equal" if first is None else
                               f"differs from round {first} on ({ours.get(str(first))} here, "
                               f"{committed[r.id][first]} committed)"))
    shutil.rmtree(scratch)
    if differ:
        sys.exit(f"{differ} of {len(chosen)} runs of PRESET={preset} differ from the digests in {path}")


COMMANDS = {
    "list": lambda a: print(listing(a.preset, a.tickets, a.reinit, a.tagged, a.regime)),
    "check": lambda a: check(a.preset, download=not a.no_download),
    "run": lambda a: run(a.preset, a.ids),
    "submit": lambda a: submit(a.preset, a.incomplete_fails),
    "status": lambda a: status(a.preset, a.regime),
    "plan": lambda a: plan(a.preset, a.regime),
    "tables": lambda a: tables(a.preset),
    "digests": lambda a: digests(a.preset, a.ids[0]),
    "verify": lambda a: verify(a.preset, a.ids[0] if a.ids else f"figures/{a.preset}/digests.csv", a.all),
}


FLAGS = {"--tickets": "only the runs Section 5 compares (list)", "--reinit": "only Section 5.1's reinitialisations "
         "(list)", "--regime": "the regime study's runs instead of the figures' (list, plan, status)",
         "--tagged": "every run, tagged with its group (list: make)", "--all": "rerun every run, not a "
         "sample (verify)", "--no-download": "check only what is on disk (check)", "--incomplete-fails": "exit 1 "
         "afterwards unless every run has completed (submit: what a figure needs)"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=list(COMMANDS))
    parser.add_argument("preset", choices=list(presets.PRESETS))
    parser.add_argument("ids", nargs="*", help="run ids (run); the digests' CSV file (digests, verify)")
    for flag, help in FLAGS.items():
        parser.add_argument(flag, action="store_true", help=help)
    args = parser.parse_args()
    if args.command == "digests" and len(args.ids) != 1:
        parser.error("digests takes one CSV file to write, e.g. figures/small/digests.csv")
    COMMANDS[args.command](args)


if __name__ == "__main__":
    main()
