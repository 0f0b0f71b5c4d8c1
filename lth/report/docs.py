"""The documentation's generated blocks: every number in README.md and docs/ that changes with the code or the
machine, written by `make docs` (``python -m lth.report.docs``) between ``<!-- generated: NAME -->`` and ``<!-- end -->``.

Each NAME is one function of ``BLOCKS`` that returns the block's text: from the code and committed files (the
claims, the config's defaults and domains, the presets' runs, the paper's numbers), or, where the function takes
``timings``, from seconds per epoch measured on this machine, and then the block says when and where. Of a
measured block, tests/test_docs.py compares what does not depend on the machine (``stable``).
"""

import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from lth import config, cost, presets, runs
from lth.report import published

ROOT = runs.REPOSITORY
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"<!-- generated: ([a-z][a-z0-9-]*) -->(.*?)<!-- end -->", re.S)
SMALL = ROOT / "figures" / "small"


def _table(rows, header):
    """A Markdown table, cells as given."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


# --- Blocks from the code and committed files ---

def claims_summary():
    """README: each claim of the small preset's claims table and its verdict."""
    c = pd.read_csv(SMALL / "claims.csv")
    verdicts = c["verdict"].str.replace(" clauses)", ")").str.replace(r", \d+ needed", "", regex=True)  # results.md: half
    return _table(zip(c["claim"], verdicts), ["claim", "verdict (clauses)"])


def coverage():
    """README: what the committed results are (the small preset's settings, the paper's settings they stand for,
    how far they reach), how many of the paper's gaps to magnitude (Table 2, as the accuracy claims read them:
    ``published.EFFECTS``) they judge (figures/small/glance.csv), and the claims none of whose clauses they judge
    (figures/small/claims.csv)."""
    from lth.report.evidence import NAMES, setting_name

    p, gaps = presets.get("small"), pd.read_csv(SMALL / "glance.csv")
    stands = {s: published.paper_setting(c.model) for s, c in p.settings.items()}
    settings = ", ".join(f"{NAMES.get(c.model, c.model)} to round {c.rounds} (for "
                         f"{setting_name('paper', stands[s])})" for s, c in p.settings.items())
    left = [x for x in presets.PAPER if x not in stands.values()]
    every = sum(len(metrics) * len(published.rounds_of(x, rounds)) for metrics, which, rounds in
                published.EFFECTS.values() for x in presets.PAPER
                if which == "all" or (which == "lenet") == published.is_lenet(x))
    reached = gaps["round"] <= gaps.setting.map(lambda s: p.settings[s].rounds)
    missed = gaps[~reached].groupby("paper_setting", sort=False).paper_round.unique()
    return (f"The committed results (`figures/small/`) are Fashion-MNIST miniatures, {len(p.seeds)} seeds: {settings}; "
            f"nothing stands for {' or '.join(setting_name('paper', x) for x in left)} (the paper preset does). Of the "
            f"paper's {every} gaps to magnitude, {int(reached.sum())} are at rounds these settings reach and judged, "
            f"{int((~reached).sum())} beyond them (" + "; ".join(
                f"{setting_name('paper', x)} round {', '.join(map(str, sorted(r)))}" for x, r in missed.items())
            + f"), {every - len(gaps)} on settings or metrics not run." + _unjudged(pd.read_csv(SMALL / "claims.csv")))


def _unjudged(claims):
    """A sentence naming the claims of which no clause is judged (the claims table says why), or nothing (also for a
    table rendered before it counted its judged clauses)."""
    none = claims.loc[claims["clauses judged"] == 0, "claim"].tolist() if "clauses judged" in claims else []
    return (f" No clause of {len(none)} claim{'s' if len(none) > 1 else ''} is judged at this scale: {'; '.join(none)}."
            if none else "")


def claims():
    """docs/results.md: the small preset's whole claims table, figures/small/claims.md as `make claims` wrote it."""
    return (SMALL / "claims.md").read_text().strip()


def _paper(table):
    df = pd.read_csv(published.PAPER_RESULTS, comment="#")
    return df[df["table"] == table]


def paper_table1():
    """docs/paper.md: Table 1's ranges, from lth/report/paper_results.csv."""
    t = _paper("table1")
    rows = []
    for layer, g in t.groupby("layer", sort=False):
        v = dict(zip(g["statistic"], g["value"]))
        rows.append([f"`{layer}`", *(f"[{v[f'{s} min']:.2f}, {v[f'{s} max']:.2f}]" for s in ("init", "rewind", "trained"))])
    return _table(rows, ["ResNet-18 layer", "initialisation", "rewind point (1000 it)", "trained (78200 it)"])


def paper_table2():
    """docs/paper.md: Table 2's selected accuracies (%), from lth/report/paper_results.csv."""
    t = _paper("table2").astype({"round": int})
    metrics = [m for m in presets.PAPER_METRICS]
    rows = []
    for setting, g in t.groupby("setting", sort=False):
        dense = g[g["importance"] == "dense"]["value"].iloc[0]
        for r, gr in g[g["importance"] != "dense"].groupby("round"):
            v = dict(zip(gr["importance"], gr["value"]))
            rows.append([setting, dense, r, *(f"{v[m]:.2f}" for m in metrics)])
    return _table(rows, ["setting", "dense", "round", *metrics])


# Where a default or a domain depends on the machine, the table says so instead of this machine's value.
_MACHINE = dict(data_root=("`$LTH_DATA`, else the repository's `data/`", "a folder"),
                device=("`cuda` where PyTorch sees a GPU, else `cpu`", "`cpu`, `cuda`, `cuda:N` (a GPU PyTorch sees)"))


def config_table():
    """docs/configuration.md: every config value of experiments/imp.py (lth.config.Config), its default, domain and
    meaning, as the Config's fields and ``DOMAINS`` give them (the defaults' schedule for a domain that follows it)."""
    rows, default = [], config.DEFAULT
    for key, f in config.FIELDS.items():
        valid = config.DOMAINS[key][1]
        shown, valid = _MACHINE.get(key, (f"`{json.dumps(default.as_dict()[key])}`",
                                          valid(default) if callable(valid) else valid))
        rows.append([f"`{key}`", shown, valid, f.metadata["meaning"]])
    return _table(rows, ["value", "default", "valid", "meaning"])


def presets_table():
    """docs/reproducing.md: each preset's settings, metrics, seeds and runs."""
    def plural(n, word):
        return f"{n} {word}{'s' if n != 1 else ''}"

    rows = []
    for name, p in presets.PRESETS.items():
        settings = "; ".join(f"`{s}`: {plural(c['epochs'], 'epoch')}, {plural(c['rounds'], 'round')}"
                             for s, c in p["settings"].items())
        every = runs.every(name)
        ltr = sum(r.experiment == "imp" for r in every)
        rows.append([f"`{name}`", settings, ", ".join(map(str, p["seeds"])), ltr, len(every) - ltr, len(every)])
    return _table(rows, ["preset", "settings", "seeds", "LTR runs", "reinitialisations", "runs in all"])


def regime_table():
    """docs/reproducing.md: every preset's settings' regime (lth.regime: a round's iterations, its sum of lr x weight
    decay, the rewind point) beside that of the paper's setting it stands for."""
    from lth.regime import regime

    rows = []
    for name, p in presets.PRESETS.items():
        for s, c in p["settings"].items():
            paper = published.paper_setting(c["model"])
            ours, theirs = regime(c), regime(dict(presets.DEFAULT, **presets.PAPER[paper]))
            ratio = f"1/{theirs.decay / ours.decay:,.0f}" if 0 < ours.decay < theirs.decay / 2 else (
                f"{ours.decay / theirs.decay:.2f}" if theirs.decay else "no weight decay")
            rows.append([f"`{name}`", f"`{s}`", f"{ours.iterations:,}", f"{ours.decay:.4g}", f"{100 * ours.rewind:.2g} %",
                         f"`{paper}`", f"{theirs.iterations:,}", f"{theirs.decay:.3g}", ratio])
    return _table(rows, ["preset", "setting", "iterations a round", "lr x wd a round", "rewind point",
                         "stands for", "its iterations", "its lr x wd", "ours / its lr x wd"])


def resources_table():
    """docs/cluster.md: the Slurm resources of one job, per preset and setting (lth/presets.py's RESOURCES)."""
    rows = [[f"`{p.name}`", s, r["gpus"], r["cpus"], r["mem_gb"], r["minutes"] / 60]
            for p in map(presets.get, presets.RESOURCES) for s in p.settings for r in [p.resources(s)]]
    return _table(rows, ["preset", "setting", "GPUs", "CPUs", "memory GB", "time limit h"])


def quickstart_run():
    """docs/runs.md: the folder of the quick start's run, `experiments/imp.py with smoke importance=minmax seed=1`."""
    return runs.run_id(dict(presets.DEFAULT, **presets.SMOKE, importance="minmax", seed=1))


# --- Blocks measured on this machine ---

def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    import torch

    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{model or platform.machine()} ({os.cpu_count()} cores{gpu}), torch {torch.__version__}"


def measured_line():
    return f"Measured {datetime.date.today().isoformat()} on {machine()} by `make docs`."


def _clean_env():
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def make_variable(name):
    """A variable of the Makefile as make expands it."""
    p = subprocess.run(["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", "-", "print"], cwd=ROOT,
                       input=f"print:\n\t@echo $({name})\n", capture_output=True, text=True, env=_clean_env())
    return p.stdout.split()


def target_runs(target, preset="small"):
    """The run ids `make <target>` would run from an empty runs folder (`make -n`)."""
    with tempfile.TemporaryDirectory() as empty:
        p = subprocess.run(["make", "--no-print-directory", "-n", target, f"PRESET={preset}", f"LTH_RUNS={empty}"],
                           cwd=ROOT, capture_output=True, text=True, env=_clean_env(), check=True)
    return re.findall(rf"-m experiments\.sweep run {preset} (\S+)", p.stdout)


def _title(notebook):
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    first = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"]).splitlines()[0]
    return first.lstrip("# ").strip()


def _targets_rows():
    """(the targets' cell, the paper's items they show, run ids) of the notebook targets, those that need the same
    runs in one row, then `figures`."""
    rows = {}
    for n in make_variable("NOTEBOOKS"):
        ids = target_runs(n)
        rows.setdefault(tuple(sorted(ids)), []).append((n, _title(n).split(": ")[0], ids))
    cells = [(f"`make {'`, `'.join(n for n, _, _ in row)}`", ", ".join(t for _, t, _ in row), row[0][2])
             for row in rows.values()]
    return cells + [("`make figures`", "all of the above", target_runs("figures"))]


def targets(timings):
    """README: each make target, what it shows, the small preset's runs it needs and their time on this machine."""
    every, cores = {r.id: r for r in runs.every("small")}, os.cpu_count()
    rows = []
    for cell, title, ids in _targets_rows():
        seconds = sum(cost.seconds(c, timings[every[i].setting]) for i in ids for c in _configs(every[i]))
        rows.append([cell, title, len(ids), f"{seconds / 60 / cores:.0f}"])
    return (f"{measured_line()} Minutes: the runs' epochs timed as `sweep plan` times them, over {cores} cores.\n\n"
            + _table(rows, ["target", "paper item", "runs (small)", f"≈ min on {cores} cores"]))


def _configs(record):
    return [record.config] if record.experiment == "imp" else record.reruns


def _plan(preset):
    """`python -m experiments.sweep plan <preset>`'s table, run as a user runs it (over an empty runs folder), its runs
    folder's line left out."""
    with tempfile.TemporaryDirectory() as empty:
        out = subprocess.run([sys.executable, "-m", "experiments.sweep", "plan", preset], cwd=ROOT, check=True,
                             env=dict(os.environ, LTH_RUNS=empty), capture_output=True, text=True).stdout
    lines = out.splitlines()[:-1]
    return f"{measured_line()}\n\n```text\n$ python -m experiments.sweep plan {preset}\n" + "\n".join(lines) + "\n```"


def plan_small(timings):
    return _plan("small")


def plan_paper(timings):
    return _plan("paper")


BLOCKS = {"claims-summary": claims_summary, "coverage": coverage, "claims": claims, "paper-table1": paper_table1,
          "paper-table2": paper_table2, "config": config_table, "presets": presets_table,
          "resources": resources_table, "regime": regime_table, "quickstart-run": quickstart_run, "targets": targets,
          "plan-small": plan_small, "plan-paper": plan_paper}
MEASURED = ("targets", "plan-small", "plan-paper")


def stable(name, text):
    """What a block holds that does not depend on the machine or the day: of a measured block, its tables' columns
    that count (targets: target and runs; plans: setting, runs, epochs and disk)."""
    if name == "targets":
        return [row.split(" | ")[:3] for row in text.splitlines() if row.startswith("| `make")]
    if name.startswith("plan-"):
        return [(w[0], *w[1:3], w[-1]) for w in (line.split() for line in text.splitlines())
                if w and w[0] not in ("$", "setting", "Measured", "```text", "```")]
    return text


def timings_of(preset):
    """{setting: (seconds per epoch, seconds per test pass)} of ``preset`` on this machine's CPU, as runs train."""
    return {s: cost.seconds_per_epoch(config.Config.of(c), "cpu")
            for s, c in presets.get(preset).settings.items()}


def blocks(text):
    """(name, content) of every generated block of ``text``."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(text)]


def render(name, timings=None):
    f = BLOCKS[name]
    return f(timings) if name in MEASURED else f()


def fill(text, generated):
    """``text`` with each block's content replaced by ``generated[name]`` (a block alone on its lines keeps them)."""
    def one(m):
        inline = not m.group(2).startswith("\n")
        return f"<!-- generated: {m.group(1)} -->{generated[m.group(1)] if inline else chr(10) + generated[m.group(1)] + chr(10)}<!-- end -->"
    return BLOCK.sub(one, text)


def main(names=None):
    """Regenerate the blocks ``names`` (all by default) of every page, measured ones included."""
    from lth.kernels import make_deterministic

    make_deterministic(True)  # before the first CPU kernel: the timings are those of portable runs, one thread
    texts = {page: (ROOT / page).read_text() for page in PAGES}
    found = {name for text in texts.values() for name, _ in blocks(text)}
    if unknown := found - set(BLOCKS):
        sys.exit(f"unknown generated blocks: {', '.join(sorted(unknown))}; known: {', '.join(BLOCKS)}")
    chosen = found & set(names or found)
    timings = timings_of("small") if chosen & set(MEASURED) else None
    generated = {}
    for page, text in texts.items():
        current = dict(blocks(text))
        generated.update({n: render(n, timings) if n in chosen and n not in generated else
                          generated.get(n, current[n].strip("\n")) for n in current})
        new = fill(text, generated)
        if new != text:
            (ROOT / page).write_text(new)
            print(f"{page}: {', '.join(n for n in current if n in chosen)}")


if __name__ == "__main__":
    main(sys.argv[1:])
