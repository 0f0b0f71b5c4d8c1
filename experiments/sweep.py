"""The runs of a preset (lth/presets.py): list them, check them, run them here or on Slurm, watch them, price them.

    python -m experiments.sweep list small [--metrics magnitude,l1] [--tickets] [--reinit]   # run ids
    python -m experiments.sweep check paper [--no-download]   # every value valid, data (and GPU) there
    python -m experiments.sweep run small <run id> ...         # run these here (completed ones return at once)
    python -m experiments.sweep submit small                   # submit every missing run to Slurm
    python -m experiments.sweep status small                   # one line per run, and a total
    python -m experiments.sweep plan paper                     # epochs, seconds per epoch here, GPU-hours
    python -m experiments.sweep inputs small runs|tickets      # what the notebooks read from the preset
    python -m experiments.sweep tables small                   # compute Section 5's connection table anew

A run is named by its identity (lth.runs.run_id), so `list` needs nothing but the standard library:
the Makefile calls it before anything is installed.
"""

import argparse
import collections
import json
import subprocess
import sys
from pathlib import Path

from lth import presets, runs


def entries(preset):
    """{run id: (experiment, name, config)} of every run the preset needs: its LTR runs and reinitialisations.
    LTR configs carry the preset's data folder."""
    from lth import config  # imports torch: here, so that `list` runs on the system Python (Makefile)

    out = {runs.run_id(c): ("imp", name, dict(c, data_root=config.data_root(preset)))
           for name, c in presets.runs(preset).items()}
    out |= {runs.reinit_id(c): ("reinit", f"reinit__{c['setting']}__seed{c['reinit_seed']}", c)
            for c in presets.reinits(preset)}
    return out


def setting_of(experiment, name, config):
    return config["setting"] if experiment == "reinit" else name.split("__")[0]


def check(preset, download=True):
    """Stop early, in one line, when a run's config is invalid or the preset's datasets or GPU are missing.
    The rehearsal writes its synthetic datasets first."""
    import torch

    from lth import config, data, synthetic

    p = presets.check(preset)
    for name, c in presets.runs(preset).items():
        try:
            config.validate(dict(c, data_root=config.data_root(preset)))
        except config.ConfigError as e:
            sys.exit(f"PRESET={preset}, run {name}: {e}")
    datasets = sorted({s["dataset"] for s in p["settings"].values()})
    if "synthetic" in p:
        for name in datasets:
            synthetic.write(name, config.data_root(preset), p["synthetic"]["train"], p["synthetic"]["test"])
    missing = []
    for name in datasets:
        try:
            data.load(name, config.data_root(preset), download)
        except data.DatasetNotFound as e:
            missing.append(str(e))
    if preset == "paper" and not torch.cuda.is_available():
        missing.append("PRESET=paper needs a CUDA GPU (thousands of epochs); none is visible to PyTorch")
    if missing:
        sys.exit(f"PRESET={preset} cannot run: " + "; ".join(missing))


def run(preset, ids):
    """Run the runs ``ids`` of the preset here, one after the other (completed ones return at once)."""
    from experiments import imp, reinit

    known = entries(preset)
    if unknown := [i for i in ids if i not in known]:
        sys.exit(f"{unknown[0]!r} is not a run of preset {preset!r}; see `python -m experiments.sweep list {preset}`")
    for i in ids:
        experiment, name, config = known[i]
        print(f"{name}: {runs.default_dir() / i}")
        if (imp if experiment == "imp" else reinit).run(config).status != "COMPLETED":
            sys.exit(f"{name} failed: see {runs.default_dir() / i}/run.json")


def _queue():
    """{job id: state} of the Slurm jobs queued or running, or {} where Slurm does not answer."""
    from experiments import slurm

    try:
        return slurm.queue()
    except (OSError, subprocess.CalledProcessError):
        return {}


def submit(preset):
    """Submit to Slurm every run of the preset that has not completed and is not queued or running; the
    reinitialisations wait (afterok) for the ticket runs they start from. Returns (submitted, waiting, done)."""
    from experiments import slurm

    runs_dir = runs.default_dir().resolve()
    runs_dir.mkdir(parents=True, exist_ok=True)
    with runs.exclusive(runs_dir / ".submit.lock"):  # one submission at a time (make -j)
        known, queued = entries(preset), _queue()
        todo, jobs, done = [], {}, 0
        for i, (experiment, name, config) in known.items():
            state, job = runs.state(runs_dir / i), slurm.job(runs_dir / i)
            if state == "completed":
                done += 1
            elif state == "running" or job in queued:
                jobs[i] = job
            else:
                todo.append(i)
        waiting = len(jobs)
        for kind in ("imp", "reinit"):  # LTR runs first: the reinitialisations depend on their job ids
            batches = collections.defaultdict(list)
            for i in todo:
                if known[i][0] == kind:
                    batches[setting_of(*known[i])].append((i, kind, known[i][2]))
            tickets = [runs.run_id(c) for c in presets.ticket_runs(preset).values()]
            after = [jobs[t] for t in tickets if t in jobs and jobs[t]]
            jobs |= slurm.submit(preset, batches, runs_dir, {i: after for i in todo if known[i][0] == "reinit"})
    return len(todo), waiting, done


def progress(folder, config):
    """Where a run stands, e.g. "round 3 of 15, epoch 2 of 10", from its files."""
    folder = Path(folder)
    if "rounds" not in config:
        return ""
    if not (folder / "rewind.pt").exists():
        return "pretraining"
    i = sum(1 for _ in folder.glob("round_*.pt"))
    p = runs.progress(folder) or {}
    epoch = f", epoch {p['epoch'] + 1} of {config['epochs']}" if p.get("stage") == f"round {i}" else ""
    return f"round {i} of {config['rounds']}{epoch}"


def describe(folder, config, job, queued, preset):
    """(state, detail) of one run: done, damaged, running, queued, failed, interrupted or missing."""
    state = runs.state(folder)
    on_slurm = f" (job {job})" if job in queued else ""
    if state == "completed":
        if damage := runs.damage(folder, config):
            name, why = next(iter(damage.items()))
            return "damaged", (f"{len(damage)} files cannot be read ({name}: {why}); `python -m experiments.sweep run "
                               f"{preset} {Path(folder).name}` computes them anew")
        return "done", ""
    if state == "running":
        return "running", progress(folder, config) + on_slurm
    if on_slurm:
        return ("queued", on_slurm.strip()) if queued[job] == "PENDING" else ("running", f"starting{on_slurm}")
    if state == "failed":
        trace = (runs.read_json(Path(folder) / "run.json") or {}).get("fail_trace") or [""]
        return "failed", "".join(trace).strip().splitlines()[-1]
    if state == "interrupted":
        return "interrupted", f"stopped at {progress(folder, config)}; running it again resumes there"
    return "missing", ""


def status(preset):
    from experiments import slurm

    runs_dir, queued = runs.default_dir(), _queue()
    counts = collections.Counter()
    for i, (experiment, name, config) in entries(preset).items():
        state, detail = describe(runs_dir / i, config, slurm.job(runs_dir / i), queued, preset)
        counts[state] += 1
        print(f"{name:<45} {state:<12} {detail}".rstrip())
    order = ("done", "damaged", "running", "queued", "interrupted", "failed", "missing")
    print(f"total: {sum(counts.values())} runs: " + ", ".join(f"{counts[s]} {s}" for s in order if counts[s]))
    return counts


def plan(preset):
    """Per setting: runs, training epochs, seconds per epoch timed here, and the hours the preset takes."""
    import torch

    from lth import config as config_, cost
    from lth.training import make_deterministic

    device = "cuda" if torch.cuda.is_available() else "cpu"
    make_deterministic()  # as runs train: on the CPU, one thread
    unit = "GPU-hours" if device == "cuda" else "CPU-hours"
    timings = {setting: cost.seconds_per_epoch(dict(config_.defaults(), **s), device)
               for setting, s in presets.check(preset)["settings"].items()}
    rows = cost.price(preset, timings)  # the arithmetic benchmarks/gpu.py prices with too
    total = sum(r[4] for r in rows)
    print(f"{'setting':<30} {'runs':>5} {'epochs':>10} {'s/epoch':>9} {unit:>10}   (measured on {_device_name(device)})")
    for setting, n, epochs, per_epoch, hours in rows:
        print(f"{setting:<30} {n:>5} {epochs:>10,.1f} {per_epoch:>9.2f} {hours:>10.2f}")
    print(f"{'total':<30} {sum(r[1] for r in rows):>5} {sum(r[2] for r in rows):>10,.1f} {'':>9} {total:>10.2f}")
    return rows


def _device_name(device):
    import platform

    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    threads = torch.get_num_threads()
    return f"{platform.processor() or platform.machine()} CPU, {threads} thread{'s' if threads > 1 else ''}"


def inputs(preset, group):
    """What a group of notebooks reads from the preset (the Makefile re-renders them when it changes): ``runs``,
    the runs of every setting (and which setting Figure 2 shows); ``tickets``, Section 5's runs, round and
    reinitialisations."""
    t = presets.TICKETS[preset]
    if group == "runs":
        values = dict(runs=sorted(runs.run_id(c) for c in presets.runs(preset).values()), figure2=t["setting"])
    else:
        values = dict(tickets=t, runs=sorted(runs.run_id(c) for c in presets.ticket_runs(preset).values()),
                      reinits=sorted(runs.reinit_id(c) for c in presets.reinits(preset)))
    return json.dumps(values, indent=1, sort_keys=True)


def tables(preset):
    """Compute anew the tables that several notebooks share: Section 5's connection table (Figures 1, 5, 6)."""
    from lth import figures

    (runs.default_dir() / "tables" / f"{preset}-connections.pkl").unlink(missing_ok=True)
    figures.connections(None, preset)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "check", "run", "submit", "status", "plan", "inputs", "tables"])
    parser.add_argument("preset", choices=list(presets.PRESETS))
    parser.add_argument("ids", nargs="*", help="run ids (run), runs or tickets (inputs)")
    parser.add_argument("--metrics", help="comma-separated importance metrics (list only)")
    parser.add_argument("--tickets", action="store_true", help="only the runs Section 5 compares (list only)")
    parser.add_argument("--reinit", action="store_true", help="only Section 5.1's reinitialisations (list only)")
    parser.add_argument("--no-download", action="store_true", help="check only what is on disk (check only)")
    parser.add_argument("--incomplete-fails", action="store_true",
                        help="submit: exit 1 afterwards unless every run has completed (what a figure needs)")
    args = parser.parse_args()
    if args.command == "list":
        if args.reinit:
            ids = [runs.reinit_id(c) for c in presets.reinits(args.preset)]
        else:
            selected = presets.ticket_runs(args.preset) if args.tickets else presets.runs(
                args.preset, args.metrics.split(",") if args.metrics else None)
            ids = [runs.run_id(c) for c in selected.values()]
        print("\n".join(ids))
    elif args.command == "check":
        check(args.preset, download=not args.no_download)
    elif args.command == "run":
        run(args.preset, args.ids)
    elif args.command == "submit":
        submitted, waiting, done = submit(args.preset)
        total = submitted + waiting + done
        print(f"PRESET={args.preset}: {submitted} runs submitted to Slurm now, {waiting} queued or running already, "
              f"{done} of {total} done (logs: {runs.default_dir() / 'slurm'}); "
              f"watch them with `python -m experiments.sweep status {args.preset}`")
        if args.incomplete_fails and done < total:
            sys.exit(f"{total - done} of the {total} runs of PRESET={args.preset} have not completed: run this make "
                     "command again once `python -m experiments.sweep status` shows them done")
    elif args.command == "status":
        status(args.preset)
    elif args.command == "inputs":
        print(inputs(args.preset, args.ids[0]))
    elif args.command == "tables":
        tables(args.preset)
    else:
        plan(args.preset)


if __name__ == "__main__":
    main()
