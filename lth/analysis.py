"""From run folders to tables: what the notebooks plot.

Runs are found by their config (``find_runs``), never by Sacred's numeric ids. Every function
returns a tidy pandas DataFrame, one row per observation, so that a notebook only plots.
"""

import json
from pathlib import Path

import pandas as pd
import torch

from lth import presets

PAPER_RESULTS = Path(__file__).with_name("paper_results.csv")
MATCH_KEYS = [k for k in presets.DEFAULT]  # everything that changes a run's results


def _status(run_json):
    """A run's Sacred status; a run killed while Sacred was writing run.json leaves it unreadable."""
    try:
        return json.loads(run_json.read_text()).get("status")
    except json.JSONDecodeError:
        return None


def completed_runs(runs_dir):
    """(run folder, config) of every COMPLETED Sacred run under ``runs_dir``, oldest first."""
    runs = sorted((p for p in Path(runs_dir).glob("*/run.json") if p.parent.name.isdigit()), key=lambda p: int(p.parent.name))
    return [(p.parent, json.loads((p.parent / "config.json").read_text())) for p in runs if _status(p) == "COMPLETED"]


def find_runs(runs_dir, config, completed=None):
    """Completed runs whose config equals ``config`` on every key that changes results."""
    want = {k: config[k] for k in MATCH_KEYS if k in config}
    return [path for path, c in (completed if completed is not None else completed_runs(runs_dir))
            if all(c.get(k) == v for k, v in want.items())]


def missing_runs(runs_dir, preset):
    """Names of the preset's runs that have no completed run yet."""
    done = completed_runs(runs_dir)
    return [name for name, config in presets.runs(preset).items() if not find_runs(runs_dir, config, done)]


def load_runs(runs_dir, preset, runs=None):
    """One row per run of the preset (or of ``runs``, {name: config}): setting, importance, seed, path
    (the latest completed run with that config)."""
    done = completed_runs(runs_dir)
    rows = []
    for name, config in (runs or presets.runs(preset)).items():
        found = find_runs(runs_dir, config, done)
        if not found:
            raise FileNotFoundError(f"run {name} of preset {preset!r} is missing under {runs_dir}: run `make PRESET={preset} runs`")
        setting, importance, seed = name.split("__")
        rows.append(dict(setting=setting, importance=importance, seed=int(seed), path=found[-1]))
    return pd.DataFrame(rows)


def ticket_runs(runs_dir, preset):
    """The runs Section 5 compares (``presets.TICKETS``): one setting, its metrics, every seed."""
    return load_runs(runs_dir, preset, presets.ticket_runs(preset))


def _metrics(path):
    return json.loads((Path(path) / "metrics.json").read_text())


def accuracy(runs):
    """Per run and round: density, sparsity (%) and top-1 test accuracy (%)."""
    rows = []
    for r in runs.itertuples():
        m = _metrics(r.path)
        for step, acc, dens in zip(m["test_accuracy"]["steps"], m["test_accuracy"]["values"], m["density"]["values"]):
            rows.append(dict(setting=r.setting, importance=r.importance, seed=r.seed, round=step, density=dens,
                             sparsity=100 * (1 - dens), test_accuracy=acc))
    return pd.DataFrame(rows)


def _info(run_path):
    """What the run put in Sacred's ``_run.info`` (the FileStorageObserver writes it to info.json)."""
    path = Path(run_path) / "info.json"
    return json.loads(path.read_text()) if path.exists() else {}


def prunable_layers(run_path):
    """The run's prunable layers, input first (metrics.json sorts its keys, so it cannot tell)."""
    info = _info(run_path)
    if "layers" in info:
        return info["layers"]
    return list(torch.load(Path(run_path) / "round_0.pt", weights_only=True)["mask"])


def layer_density(runs):
    """Per run, round and prunable layer (depth = its position, input first): the layer's density."""
    rows = []
    for r in runs.itertuples():
        m = _metrics(r.path)
        layers = prunable_layers(r.path)
        for depth, layer in enumerate(layers):
            series = m[f"density/{layer}"]
            for step, d, total in zip(series["steps"], series["values"], m["density"]["values"]):
                rows.append(dict(setting=r.setting, importance=r.importance, seed=r.seed, round=step, layer=layer,
                                 depth=depth, layer_sparsity=100 * (1 - d), sparsity=100 * (1 - total)))
    return pd.DataFrame(rows)


def selected_layers(layers):
    """The layers the paper follows (Figures 2, 9, 10): input, a middle one, the first 1x1 shortcut, output."""
    shortcuts = [n for n in layers if "shortcut" in n or "downsample" in n]
    main = [n for n in layers if n not in shortcuts]
    picked = {"input": main[0], "middle": main[len(main) // 2], "output": main[-1]}
    if shortcuts:
        picked["shortcut"] = shortcuts[0]
    return picked


def collapse(runs):
    """Per run: the first round in which some layer has no weight left, and those layers (layer collapse);
    and the sparsest layer of the last ticket, which tells how close a run that did not collapse came."""
    rows = []
    for r in runs.itertuples():
        info = _info(r.path).get("collapsed", {})
        first = min(info, key=int) if info else None
        final = {k.split("/", 1)[1]: v["values"][-1] for k, v in _metrics(r.path).items() if k.startswith("density/")}
        sparsest = min(final, key=final.get)
        rows.append(dict(setting=r.setting, importance=r.importance, seed=r.seed,
                         first_collapse_round=int(first) if first else None,
                         collapsed_layers=", ".join(info[first]) if first else "",
                         sparsest_layer=sparsest, sparsest_layer_density=100 * final[sparsest]))
    return pd.DataFrame(rows)


def weight_ranges(run_path):
    """Table 1: [min, max] of each prunable layer's weights at init, at the rewind point and fully trained (round 0)."""
    path = Path(run_path)
    init, rewind = torch.load(path / "init.pt"), torch.load(path / "rewind.pt")
    trained = torch.load(path / "round_0.pt")["trained"]
    rows = []
    for layer, w in trained.items():
        for stage, t in (("init", init[f"{layer}.weight"]), ("rewind", rewind[f"{layer}.weight"]), ("trained", w)):
            rows.append(dict(layer=layer, stage=stage, min=float(t.min()), max=float(t.max())))
    return pd.DataFrame(rows)


def summary(acc, every=5):
    """Table 2: mean and std over seeds of the test accuracy, every ``every`` rounds (and the last)."""
    last = acc.groupby("setting")["round"].transform("max")
    keep = acc[(acc["round"] % every == 0) | (acc["round"] == last)]
    return (keep.groupby(["setting", "round", "importance"])
            .agg(sparsity=("sparsity", "mean"), mean=("test_accuracy", "mean"), std=("test_accuracy", "std"))
            .reset_index())


def paper_results(table):
    """The numbers the paper reports (PAPER.md section 4), from the one data file that holds them."""
    df = pd.read_csv(PAPER_RESULTS, comment="#")
    return df[df["table"] == table].drop(columns="table").reset_index(drop=True)


def compare_with_paper(table2):
    """Table 2 as "ours / paper / difference": ``summary`` rows joined with the paper's cells.

    The paper's "dense" row is round 0, which is the same network for every metric of a seed.
    """
    paper = paper_results("table2").rename(columns={"value": "paper"}).astype({"round": int})
    dense = table2[(table2["round"] == 0) & (table2["importance"] == table2["importance"].iloc[0])]
    table2 = pd.concat([dense.assign(importance="dense"), table2[table2["round"] > 0]], ignore_index=True)
    out = table2.merge(paper[["setting", "round", "importance", "paper"]], on=["setting", "round", "importance"], how="left")
    out["difference"] = out["mean"] - out["paper"]
    return out


def _order(importance):
    return (["dense"] if "dense" in set(importance) else []) + [m for m in presets.METRICS if m in set(importance)]


def table2(acc, with_paper=False, every=5):
    """Table 2 for display: one row per setting and round, one column per metric.

    Cells are "mean ± std" over seeds, or "ours / paper / difference" where the paper reports a value.
    """
    s = summary(acc, every)
    if with_paper:
        s = compare_with_paper(s)
        s["cell"] = [f"{m:.2f} / {p:.2f} / {m - p:+.2f}" if p == p else f"{m:.2f} ± {sd:.2f} / -"
                     for m, sd, p in zip(s["mean"], s["std"].fillna(0), s["paper"])]
    else:
        s["cell"] = [f"{m:.2f} ± {sd:.2f}" for m, sd in zip(s["mean"], s["std"].fillna(0))]
    s["sparsity"] = s.groupby(["setting", "round"])["sparsity"].transform("max").round(2)
    out = s.pivot_table(index=["setting", "round", "sparsity"], columns="importance", values="cell", aggfunc="first")
    return out[_order(s["importance"])].reset_index().rename_axis(columns=None).fillna("")


def table1(runs):
    """Table 1: [min, max] of the selected layers' weights (init, rewind point, trained), mean over the magnitude runs."""
    rows = []
    for r in runs[runs["importance"] == "magnitude"].itertuples():
        w = weight_ranges(r.path)
        roles = {layer: role for role, layer in selected_layers(list(w["layer"].unique())).items()}
        w = w[w["layer"].isin(roles)].assign(setting=r.setting, role=lambda d: d["layer"].map(roles), seed=r.seed)
        rows.append(w)
    df = pd.concat(rows).groupby(["setting", "role", "layer", "stage"], sort=False)[["min", "max"]].mean().reset_index()
    df["range"] = [f"[{a:.2f}, {b:.2f}]" for a, b in zip(df["min"], df["max"])]
    out = df.pivot_table(index=["setting", "role", "layer"], columns="stage", values="range", aggfunc="first")
    order = pd.MultiIndex.from_frame(df[["setting", "role", "layer"]].drop_duplicates())  # input to output
    return out.reindex(order)[["init", "rewind", "trained"]].reset_index().rename_axis(columns=None)


def collapse_summary(col):
    """Per setting and metric: how many runs collapse, the earliest round, and the layers that go first."""
    g = col.groupby(["setting", "importance"], sort=False)
    out = g.agg(runs=("seed", "size"), collapsed=("first_collapse_round", "count"),
                first_round=("first_collapse_round", "min"),
                layers=("collapsed_layers", lambda s: "; ".join(sorted({x for x in s if x}))),
                min_layer_density=("sparsest_layer_density", "min"),
                sparsest_layers=("sparsest_layer", lambda s: "; ".join(sorted(set(s))))).reset_index()
    out["first_round"] = out["first_round"].astype("Int64")
    return out


def reinit_results(runs_dir, preset):
    """Survival tables of the completed experiments/reinit.py runs of the preset's ticket setting, one per reinit seed."""
    t = presets.TICKETS[preset]
    want = dict(preset=preset, setting=t["setting"], metrics=t["metrics"], round=t["round"])
    parts = {}
    for path, config in completed_runs(Path(runs_dir) / "reinit"):
        if all(config.get(k) == v for k, v in want.items()) and config["reinit_seed"] in t["reinit_seeds"]:
            parts[config["reinit_seed"]] = pd.read_csv(path / "survival.csv").assign(reinit_seed=config["reinit_seed"])
    missing = sorted(set(t["reinit_seeds"]) - set(parts))
    if missing:
        raise FileNotFoundError(f"reinit seeds {missing} of preset {preset!r} are missing under {runs_dir}/reinit: "
                                f"run `make PRESET={preset} reinit`")
    return pd.concat(parts.values(), ignore_index=True)
