"""From run folders to tables: what the notebooks plot.

A run is found by its identity (``lth.runs.run_id`` of its config), never by scanning folders.
Every function returns a tidy pandas DataFrame, one row per observation, so that a notebook only
plots. Layers are followed by the roles their model declares (``lth.models.Roles``, recorded in
each run's info.json), never guessed from their names.
"""

import json
from pathlib import Path

import pandas as pd

from lth import presets, store, tickets
from lth.runs import every, groups, of_preset
from lth.report import published


def missing_runs(runs_dir, preset, runs=None):
    """Names of the preset's runs (or of ``runs``, lth.runs records) that have not completed under ``runs_dir``."""
    return [r.name for r in (runs or of_preset(preset)) if not store.is_completed(r.folder(runs_dir))]


class MissingRuns(FileNotFoundError):
    """Some runs a table or figure needs have not completed."""


def load_runs(runs_dir, preset, runs=None):
    """One row per run of the preset (or of ``runs``, lth.runs records): setting, importance, seed, rounds (an LTR
    run's last round), path.

    Raises MissingRuns, one line saying how many are missing and the command that runs them,
    unless every run has completed: a figure never shows a partial sweep; and lth.store.Damaged, likewise,
    where a completed run's file cannot be read.
    """
    runs = runs or of_preset(preset)
    if missing := missing_runs(runs_dir, preset, runs):
        raise MissingRuns(f"{len(missing)} of the {len(runs)} runs this needs have not completed under {runs_dir} "
                          f"(e.g. {missing[0]}): run `make PRESET={preset} runs`, and see "
                          f"`python -m experiments.sweep status {preset}`")
    if damaged := [(r, damage) for r in runs if (damage := store.damage(r.folder(runs_dir), r.config))]:
        (r, damage), ids = damaged[0], " ".join(r.id for r, _ in damaged)
        raise store.Damaged(f"{len(damaged)} of the {len(runs)} runs this needs have files that cannot be read (e.g. "
                            f"{r.folder(runs_dir) / next(iter(damage))}: {next(iter(damage.values()))}): run `python -m "
                            f"experiments.sweep run {preset} {ids}`, which computes them anew")
    return pd.DataFrame([dict(setting=r.setting, importance=r.importance, seed=r.seed, rounds=r.config.get("rounds"),
                              path=r.folder(runs_dir)) for r in runs])


def ticket_runs(runs_dir, preset):
    """The runs Section 5 compares (the preset's ``tickets``): one setting, its metrics, every seed."""
    return load_runs(runs_dir, preset, groups(preset)["ticket"])


def _json(path):
    """A run's JSON file; one that cannot be read raises lth.store.Damaged, one line naming it."""
    if why := store.unreadable(path):
        raise store.damaged(path, why)
    return json.loads(Path(path).read_text())


def _metrics_json(path):
    return _json(Path(path) / store.METRICS)


def accuracy(runs):
    """Per run and round: density, sparsity (%) and top-1 test accuracy (%)."""
    rows = []
    for r in runs.itertuples():
        m = _metrics_json(r.path)
        for step, acc, dens in zip(m["test_accuracy"]["steps"], m["test_accuracy"]["values"], m["density"]["values"]):
            rows.append(dict(setting=r.setting, importance=r.importance, seed=r.seed, round=step, density=dens,
                             sparsity=100 * (1 - dens), test_accuracy=acc))
    return pd.DataFrame(rows)


def _info(run_path):
    """What the run put in Sacred's ``_run.info`` (the FileStorageObserver writes it to info.json)."""
    path = Path(run_path) / store.INFO
    return _json(path) if path.exists() else {}


def digests(runs_dir, preset):
    """One row per LTR run of the preset (``extra`` ones included) and round: run id, round, digest of its ticket
    (``tickets.digest``, as the run recorded it in info.json; computed from its round file where an older run did
    not)."""
    rows = []
    for r in load_runs(runs_dir, preset, every(preset, "imp")).itertuples():
        recorded = _info(r.path).get("digests", {})
        for i in range(r.rounds + 1):
            d = recorded.get(str(i)) or tickets.digest(tickets.load_ticket(r.path, i))
            rows.append(dict(run=Path(r.path).name, round=i, digest=d))
    return pd.DataFrame(rows)


def recorded_layers(run_path):
    """The run's prunable layers, input first (metrics.json sorts its keys, so it cannot tell)."""
    return _info(run_path)["layers"]


def recorded_roles(run_path):
    """The roles the run's model declares for its layers (lth.models.Roles, as a dict), and ``dense``:
    the layers it kept dense."""
    info = _info(run_path)
    return dict(info["roles"], dense=info["dense"])


def followed_layers(run_path):
    """{role: layer} of the layers Figures 2, 9 and 10 follow: input, middle, the first 1x1 shortcut, output."""
    r = recorded_roles(run_path)
    picked = {"input": r["input"], "middle": r["middle"], "output": r["output"]}
    if r["shortcuts"]:
        picked["shortcut"] = r["shortcuts"][0]
    return picked


def layer_label(run_path, layer, short=False):
    """A layer's name for a reader: the paper's first where it names it ("Conv17 (layer4.1.conv2)"; ``short``:
    "Conv17"), and "(kept dense)" for a layer that is never pruned."""
    r = recorded_roles(run_path)
    name = layer if layer not in r["names"] else r["names"][layer] if short else f"{r['names'][layer]} ({layer})"
    return name + (" (kept dense)" if layer in r["dense"] else "")


def layer_density_table(runs):
    """Per run, round and prunable layer (depth = its position, input first): the layer's density."""
    rows = []
    for r in runs.itertuples():
        m = _metrics_json(r.path)
        layers = recorded_layers(r.path)
        for depth, layer in enumerate(layers):
            series = m[f"density/{layer}"]
            for step, d, total in zip(series["steps"], series["values"], m["density"]["values"]):
                rows.append(dict(setting=r.setting, importance=r.importance, seed=r.seed, round=step, layer=layer,
                                 depth=depth, layer_sparsity=100 * (1 - d), sparsity=100 * (1 - total)))
    return pd.DataFrame(rows)


def collapse(runs):
    """Per run: the first round in which some layer has no weight left, and those layers (layer collapse);
    and the sparsest layer of the last ticket, which tells how close a run that did not collapse came."""
    rows = []
    for r in runs.itertuples():
        info = _info(r.path).get("collapsed", {})
        first = min(info, key=int) if info else None
        final = {k.split("/", 1)[1]: v["values"][-1] for k, v in _metrics_json(r.path).items() if k.startswith("density/")}
        sparsest = min(final, key=final.get)
        rows.append(dict(setting=r.setting, importance=r.importance, seed=r.seed,
                         first_collapse_round=int(first) if first else None,
                         collapsed_layers=", ".join(info[first]) if first else "",
                         sparsest_layer=sparsest, sparsest_layer_density=_significant(100 * final[sparsest])))
    return pd.DataFrame(rows)


def weight_ranges(run_path):
    """Table 1: [min, max] of each prunable layer's weights at init, at the rewind point and fully trained (round 0)."""
    path = Path(run_path)
    init, rewind = tickets.load_file(path / store.INIT), tickets.load_file(path / store.REWIND)
    trained = tickets.load_ticket(path, 0)["trained"]
    rows = []
    for layer, w in trained.items():
        for stage, t in (("init", init[f"{layer}.weight"]), ("rewind", rewind[f"{layer}.weight"]), ("trained", w)):
            rows.append(dict(layer=layer, stage=stage, min=float(t.min()), max=float(t.max())))
    return pd.DataFrame(rows)


def summary(acc, step=5):
    """Table 2: mean and std over seeds of the test accuracy, every ``step`` rounds (and the last)."""
    last = acc.groupby("setting")["round"].transform("max")
    keep = acc[(acc["round"] % step == 0) | (acc["round"] == last)]
    return (keep.groupby(["setting", "round", "importance"])
            .agg(sparsity=("sparsity", "mean"), mean=("test_accuracy", "mean"), std=("test_accuracy", "std"))
            .reset_index())


def _order(importance):
    return (["dense"] if "dense" in set(importance) else []) + presets.ordered(m for m in importance if m != "dense")


def table2(acc, with_paper=False, step=5):
    """Table 2 for display: one row per setting and round, one column per metric.

    Cells are "mean ± std" over seeds, or "ours / paper / difference" where the paper reports a value.
    """
    s = summary(acc, step)
    if with_paper:
        s = published.compare_with_paper(s)
        s["cell"] = [f"{m:.2f} / {p:.2f} / {m - p:+.2f}" if p == p else f"{m:.2f} ± {sd:.2f} / -"
                     for m, sd, p in zip(s["mean"], s["std"].fillna(0), s["paper"])]
    else:
        s["cell"] = [f"{m:.2f} ± {sd:.2f}" for m, sd in zip(s["mean"], s["std"].fillna(0))]
    s["sparsity"] = s.groupby(["setting", "round"])["sparsity"].transform("max").round(2)
    out = s.pivot_table(index=["setting", "round", "sparsity"], columns="importance", values="cell", aggfunc="first")
    return out[_order(s["importance"])].reset_index().rename_axis(columns=None).fillna("")


def differences(acc, against="magnitude"):
    """Each metric's test accuracy minus ``against``'s, seed by seed (points), one row per run and round: runs of
    one seed share theta_0, the data order and round 0 bitwise, so the difference is free of the spread between
    seeds."""
    keys = ["setting", "round", "seed"]
    base = acc[acc.importance == against].set_index(keys).test_accuracy.rename("base")
    d = acc[acc.importance != against].join(base, on=keys)
    return d.assign(difference=d.test_accuracy - d.base).drop(columns="base")


def paired_differences(acc, against="magnitude"):
    """``differences`` summed up per setting, round and metric: their ``mean``, ``min`` and ``max`` over seeds,
    ``seeds`` (how many), and ``agree``: how many seeds have the sign of the mean (a difference of 0 agrees with
    none)."""
    d, keys = differences(acc, against), ["setting", "round", "importance"]
    sign = lambda x: (x > 0).astype(int) - (x < 0).astype(int)  # noqa: E731
    mean_sign = sign(d.groupby(keys, sort=False).difference.transform("mean"))
    d["agrees"] = (sign(d.difference) == mean_sign) & (mean_sign != 0)
    out = d.groupby(keys, sort=False).agg(mean=("difference", "mean"), min=("difference", "min"),
                                            max=("difference", "max"), seeds=("difference", "size"),
                                            agree=("agrees", "sum"))
    return out.reset_index()


def table2_paired(acc, against="magnitude", step=5):
    """Table 2's rounds, each metric's paired difference to ``against`` (``paired_differences``) as one cell:
    "mean [min, max] agree/seeds" in points, e.g. "+0.31 [+0.10, +0.52] 3/3"."""
    last = acc.groupby("setting")["round"].transform("max")
    d = paired_differences(acc[(acc["round"] % step == 0) | (acc["round"] == last)], against)
    d = d[d["round"] > 0]  # round 0 is one network for every metric of a seed
    d["cell"] = [f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}] {a}/{n}" for m, lo, hi, a, n in
                 zip(d["mean"], d["min"], d["max"], d["agree"], d["seeds"])]
    out = d.pivot_table(index=["setting", "round"], columns="importance", values="cell", aggfunc="first")
    return out[_order(d["importance"])].reset_index().rename_axis(columns=None).fillna("")


def table1(runs, with_paper=False):
    """Table 1: [min, max] of the followed layers' weights at init, at the rewind point and trained, mean over
    the magnitude runs; rows in the paper's order (input, first 1x1 shortcut, middle, output), named as the
    paper names them. ``with_paper``: the paper's ranges beside ours, where it reports them."""
    rows = []
    for r in runs[runs["importance"] == "magnitude"].itertuples():
        picked = followed_layers(r.path)
        order = [role for role in ("input", "shortcut", "middle", "output") if role in picked]
        w = weight_ranges(r.path).set_index("layer")
        for role in order:
            rows.append(w.loc[[picked[role]]].reset_index().assign(
                setting=r.setting, role=role, label=layer_label(r.path, picked[role]), seed=r.seed))
    keys = ["setting", "role", "label", "layer"]
    df = pd.concat(rows).groupby(keys + ["stage"], sort=False)[["min", "max"]].mean().reset_index()
    if with_paper:
        paper = published.paper_results("table1").assign(stage=lambda d: d.statistic.str.split().str[0],
                                               bound=lambda d: d.statistic.str.split().str[1])
        paper = paper.pivot_table(index=["setting", "layer", "stage"], columns="bound", values="value").reset_index()
        df = df.merge(paper.rename(columns={"min": "paper_min", "max": "paper_max"}), how="left",
                      on=["setting", "layer", "stage"])
    df["range"] = [f"[{a:.2f}, {b:.2f}]" for a, b in zip(df["min"], df["max"])]
    if with_paper:
        df["range"] = [f"{c} / [{a:.2f}, {b:.2f}]" if a == a else f"{c} / -"
                       for c, a, b in zip(df["range"], df["paper_min"], df["paper_max"])]
    out = df.pivot_table(index=keys, columns="stage", values="range", aggfunc="first")
    order = pd.MultiIndex.from_frame(df[keys].drop_duplicates())
    out = out.reindex(order)[["init", "rewind", "trained"]].reset_index().rename_axis(columns=None)
    return out.drop(columns="layer").rename(columns={"label": "layer"})


def _significant(x, digits=3):
    return float(f"{x:.{digits}g}")


def collapse_summary(col):
    """Per setting and metric, for a reader: runs, how many collapsed, the earliest round and the layers that
    went first, the lowest density of any layer in a last ticket (%, 3 significant digits) and which layers, and a
    verdict: "collapses in k of n runs (from round r)", or how close the closest run came."""
    g = col.groupby(["setting", "importance"], sort=False)
    out = g.agg(runs=("seed", "size"), collapsed=("first_collapse_round", "count"),
                first=("first_collapse_round", "min"),
                layers=("collapsed_layers", lambda s: "; ".join(sorted({x for x in s if x}))),
                lowest=("sparsest_layer_density", "min"),
                sparsest=("sparsest_layer", lambda s: "; ".join(sorted(set(s))))).reset_index()
    out["verdict"] = [f"collapses in {k} of {n} runs (from round {int(r)})" if k else
                      f"no collapse in {n} runs; closest: a layer at {_significant(d)} % density"
                      for k, n, r, d in zip(out.collapsed, out.runs, out["first"], out.lowest)]
    out["first"] = [str(int(r)) if r == r else "" for r in out["first"]]
    out["lowest"] = [_significant(d) for d in out.lowest]
    return out.rename(columns={"collapsed": "collapsed runs", "first": "first collapse (round)",
                               "layers": "collapsed layers", "lowest": "lowest layer density (%)",
                               "sparsest": "sparsest layers"})


def sparsest_layer(runs):
    """Per run and round: the density (%) of its sparsest prunable layer, and whether some layer has none left
    (``collapsed``): how close each run comes to layer collapse over the rounds."""
    ld = layer_density_table(runs)
    ld["layer_density"] = 100 - ld.layer_sparsity
    out = ld.groupby(["setting", "importance", "seed", "round"], sort=False).agg(
        layer_density=("layer_density", "min"), sparsity=("sparsity", "first")).reset_index()
    return out.assign(collapsed=out.layer_density == 0)


def reinit_results(runs_dir, preset):
    """Survival tables of the preset's partial reinitialisations (experiments/reinit.py), one per ticket seed
    (``seed``) and reinit seed."""
    paths = {(r.config["seed"], r.config["reinit_seed"]): r.folder(runs_dir) for r in groups(preset)["reinit"]}
    if missing := [r for r, p in paths.items() if not store.is_completed(p)]:
        raise MissingRuns(f"{len(missing)} of the {len(paths)} reinitialisations this needs have not completed under "
                          f"{runs_dir} ((ticket seed, reinit seed) {', '.join(map(str, missing))}): run "
                          f"`make PRESET={preset} reinit`")
    return pd.concat([pd.read_csv(p / store.SURVIVAL).assign(seed=k, reinit_seed=s) for (k, s), p in paths.items()],
                     ignore_index=True)
