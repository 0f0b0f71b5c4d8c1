"""What each table and figure of the paper shows, loaded from a preset's runs: one function per notebook.

Each returns a ``View``: the tidy tables a notebook plots and a caption naming the preset, settings and
seeds that made them. Which runs, rounds and layers are shown comes from the presets (lth/presets.py) and
from the roles each model declares (lth/models.py, recorded in every run's info.json), never from a notebook.
"""

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace as View

import pandas as pd

from lth import analysis, presets, runs as runs_, store, tickets


def _dir(runs_dir):
    """Where the runs are: ``runs_dir`` from the repository's root (a notebook runs wherever it was opened), or
    $LTH_RUNS (the repository's runs/) when None."""
    return runs_.REPOSITORY / runs_dir if runs_dir else runs_.default_dir()


def _seeds(runs):
    return ", ".join(map(str, sorted(runs["seed"].unique())))


# How a reader names the models and datasets (captions and titles; tables keep the settings' ids).
NAMES = {"lenet_300_100": "LeNet-300-100", "resnet8_16": "ResNet-8-16", "resnet20": "ResNet-20", "vgg16": "VGG-16",
         "resnet18": "ResNet-18", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
         "tinyimagenet": "TinyImageNet"}


def setting_name(preset, setting):
    """A setting as a reader names it, e.g. "ResNet-20 on CIFAR-10"."""
    s = presets.check(preset)["settings"][setting]
    return f"{NAMES.get(s['model'], s['model'])} on {NAMES.get(s['dataset'], s['dataset'])}"


def _caption(preset, runs):
    """Which preset, settings (to which round and sparsity) and seeds a figure shows, e.g. "LeNet-300-100 on MNIST
    to round 24 (99.53 % sparse); preset=paper, seeds 0, 1, 2", the preset on a line of its own: what a preset
    does not reach, its figures cannot show."""
    def reach(setting):
        rounds = int(runs[runs.setting == setting]["rounds"].max())
        return f"to round {rounds} ({100 * (1 - (1 - _fraction(preset, setting)) ** rounds):.2f} % sparse)"
    settings, seeds = list(runs["setting"].unique()), _seeds(runs)
    if len(settings) == 1:
        return f"{setting_name(preset, settings[0])}\n{reach(settings[0])}; preset={preset}, seeds {seeds}"
    return "; ".join(f"{setting_name(preset, s)} {reach(s)}" for s in settings) + f"\npreset={preset}, seeds {seeds}"


def _fraction(preset, setting):
    return presets.check(preset)["settings"][setting]["prune_fraction"]


def _reported(runs):
    """True where the paper reports numbers for some of these settings (lth/paper_results.csv)."""
    return bool(set(runs["setting"]) & set(analysis.paper_results("table2")["setting"]))


# --- Accuracy and layerwise sparsity: every run of the preset ---

def table1(runs_dir, preset):
    """``table``: [min, max] of the weights of the followed layers (input, first 1x1 shortcut, middle, output)
    at theta_0, theta_{0,k} and trained, mean over the magnitude runs; the paper's ranges beside where it reports them."""
    runs = analysis.load_runs(_dir(runs_dir), preset, runs_.groups(preset)["magnitude"])
    paper = _reported(runs)
    caption = (f"Table 1: [min, max] of each followed layer's weights at initialisation, at the rewind point and "
               f"trained, mean over the magnitude runs{' (ours / paper)' if paper else ''}; {_caption(preset, runs)}")
    return View(table=analysis.table1(runs, with_paper=paper), caption=caption)


def table2(runs_dir, preset):
    """``table``: the test accuracy every 5 rounds, mean ± sd over seeds, per metric (ours / paper / difference
    where the paper reports a value)."""
    runs = analysis.load_runs(_dir(runs_dir), preset)
    paper = _reported(runs)
    caption = (f"Table 2: top-1 test accuracy (%) every 5 rounds, mean ± sd over seeds"
               f"{'; ours / paper / difference where the paper reports it' if paper else ''}; {_caption(preset, runs)}")
    acc = analysis.accuracy(runs)
    paired_caption = ("Table 2, paired: each metric's accuracy minus magnitude's, seed by seed (same theta_0, data "
                      "order and round 0), in points: mean [min, max] over seeds, and how many seeds agree in sign; "
                      f"{_caption(preset, runs)}")
    return View(table=analysis.table2(acc, with_paper=paper), caption=caption,
                paired=analysis.table2_paired(acc), paired_caption=paired_caption)


def figure4(runs_dir, preset):
    """``settings``: per setting, ``accuracy`` (one row per run and round), ``dense`` (the mean accuracy of
    round 0), ``paper`` (the paper's values, if any), ``fraction``, ``caption`` and ``difference`` (each metric's
    accuracy minus magnitude's, per seed: ``analysis.differences``; empty where the setting runs magnitude alone,
    and ``alone`` says so); ``paired``: whether some setting has a metric beside magnitude."""
    runs = analysis.load_runs(_dir(runs_dir), preset)
    acc, paper = analysis.accuracy(runs), analysis.paper_results("table2")
    views = []
    for setting, df in acc.groupby("setting", sort=False):
        reported = paper[(paper.setting == setting) & (paper.importance != "dense")]
        alone = (f"no paired difference:\npreset={preset} runs\nmagnitude alone on\n{setting_name(preset, setting)}"
                 if df.importance.nunique() == 1 else "")
        views.append(View(name=setting, accuracy=df, dense=df[df["round"] == 0].test_accuracy.mean(), paper=reported,
                          fraction=_fraction(preset, setting), caption=_caption(preset, runs[runs.setting == setting]),
                          difference=analysis.differences(df), alone=alone))
    return View(settings=views, data=acc, paired=acc.importance.nunique() > 1)


def figure8(runs_dir, preset):
    """``settings``: per setting, ``sparsity`` of each layer in the final ticket (one row per run and layer,
    ``depth`` = position, input first), ``labels`` (the layers' names for a reader, by depth), ``global_sparsity``."""
    runs = analysis.load_runs(_dir(runs_dir), preset)
    ld = analysis.layer_density_table(runs)
    views = []
    for setting, df in ld.groupby("setting", sort=False):
        path = runs[runs.setting == setting].path.iloc[0]
        final = df[df["round"] == df["round"].max()]
        labels = [analysis.layer_label(path, layer, short=True) for layer in analysis.recorded_layers(path)]
        short = presets.ordered(set(df.importance) - set(final.importance))  # metrics that stop earlier (rounds_of)
        caption = _caption(preset, runs[runs.setting == setting]) + (f"\n(not shown: {', '.join(short)}, stopped "
                                                                     "earlier)" if short else "")
        views.append(View(name=setting, sparsity=final, labels=labels, global_sparsity=final.sparsity.iloc[0],
                          caption=caption))
    return View(settings=views, data=pd.concat([v.sparsity for v in views]))


def _layer_panels(runs_dir, preset, pick, settings=None):
    """One panel per (setting, role, layer) that ``pick(path)`` returns ({role: layer}): each layer's sparsity
    against the global sparsity over the rounds, with the layer's name for a reader and the setting's caption."""
    runs = analysis.load_runs(_dir(runs_dir), preset)
    ld = analysis.layer_density_table(runs)
    panels = []
    for setting in settings or runs.setting.unique():
        path = runs[runs.setting == setting].path.iloc[0]
        for role, layer in pick(path).items():
            panels.append(View(setting=setting, name=setting_name(preset, setting), role=role, layer=layer,
                               label=analysis.layer_label(path, layer),
                               sparsity=ld[(ld.setting == setting) & (ld.layer == layer)],
                               caption=_caption(preset, runs[runs.setting == setting])))
    return View(panels=panels, caption=_caption(preset, runs),
                data=pd.concat([p.sparsity.assign(role=p.role) for p in panels]) if panels else None)


def figure2(runs_dir, preset):
    """``panels``: the input, middle, first 1x1 shortcut and output layers of the setting Section 5 studies."""
    return _layer_panels(runs_dir, preset, analysis.followed_layers, [presets.TICKETS[preset]["setting"]])


def figure9(runs_dir, preset):
    """``panels``: the input, middle and output layers of every setting."""
    pick = lambda path: {k: v for k, v in analysis.followed_layers(path).items() if k != "shortcut"}
    return _layer_panels(runs_dir, preset, pick)


def figure10(runs_dir, preset):
    """``panels``: every 1x1 shortcut convolution of every setting (settings without any have none)."""
    pick = lambda path: {f"shortcut {i}": s for i, s in enumerate(analysis.recorded_roles(path)["shortcuts"], start=1)}
    return _layer_panels(runs_dir, preset, pick)


def collapse(runs_dir, preset):
    """``runs``: per run, the first round with a fully pruned layer and the sparsest layer of the last ticket;
    ``table``: per setting and metric, how many runs collapse, when first and which layers, and a verdict;
    ``settings``: per setting, ``sparsest`` (each run's sparsest-layer density per round), ``fraction``, ``caption``."""
    runs = analysis.load_runs(_dir(runs_dir), preset)
    per_run, sparsest = analysis.collapse(runs), analysis.sparsest_layer(runs)
    settings = [View(name=setting, sparsest=df, fraction=_fraction(preset, setting),
                     caption=_caption(preset, runs[runs.setting == setting]))
                for setting, df in sparsest.groupby("setting", sort=False)]
    return View(runs=per_run, table=analysis.collapse_summary(per_run), caption=_caption(preset, runs),
                settings=settings, data=sparsest)


def extra(runs_dir, preset):
    """``table`` and ``paired``: as Table 2's, for the preset's ``extra`` metrics (beyond the registry's, e.g. Zhou
    et al.'s) and magnitude on the one setting that runs them; None where the preset names none."""
    records = runs_.of_preset(preset, extra=True)
    if not records:
        return None
    runs = analysis.load_runs(_dir(runs_dir), preset, runs_.of_preset(preset, ["magnitude"], [records[0].setting])
                              + records)
    acc = analysis.accuracy(runs)
    caption = f"the metrics beyond the paper's against magnitude; {_caption(preset, runs)}"
    return View(table=analysis.table2(acc), paired=analysis.table2_paired(acc),
                caption=f"Top-1 test accuracy (%) every 5 rounds, mean ± sd over seeds, of {caption}",
                paired_caption=f"Each metric's accuracy minus magnitude's, seed by seed, in points: mean [min, max] "
                               f"over seeds, and how many seeds agree in sign, of {caption}")


# --- Section 5: several tickets from one initialisation ---

def _tickets(runs_dir, preset):
    """The runs Section 5 compares, after checking that each seed's runs share theta_0 and round 0 bitwise."""
    t = presets.TICKETS[preset]
    runs = analysis.ticket_runs(_dir(runs_dir), preset)
    tickets.by_seed(runs)  # raises unless the metrics of a seed start from one dense network
    checked = (f"{setting_name(preset, t['setting'])}, seeds {_seeds(runs)}: init.pt and round 0 are bitwise equal "
               f"across {', '.join(t['metrics'])}")
    caption = (f"{setting_name(preset, t['setting'])} (preset={preset}, tickets of {', '.join(t['metrics'])}, "
               f"seeds {_seeds(runs)})")
    return runs, t, View(checked=checked, caption=caption, round=t["round"],
                         sparsity=100 * (1 - (1 - _fraction(preset, t["setting"])) ** t["round"]),
                         fraction=_fraction(preset, t["setting"]))


def overlap(runs_dir, preset):
    """``table``: per layer and over all layers, the connections every ticket keeps at Section 5's round, as a
    share of all and of a ticket's unpruned ones, against chance; ``jaccard``: per pair of metrics."""
    runs, t, view = _tickets(runs_dir, preset)
    view.table = tickets.overlap_summary(tickets.overlap_over_rounds(runs, [t["round"]]))
    view.jaccard = tickets.jaccard_summary(tickets.jaccards(runs, t["round"]))
    return view


def figure7(runs_dir, preset):
    """``overlap``: per seed, round and followed layer (and "all"), the share of a ticket's unpruned connections
    that every ticket keeps, observed and by chance; ``panels``: {layer: title}."""
    runs, t, view = _tickets(runs_dir, preset)
    last = int(analysis.accuracy(runs)["round"].max())
    ov = tickets.overlap_over_rounds(runs, range(last + 1))
    path = runs.path.iloc[0]
    view.panels = {"all": "all layers"} | {layer: f"{role}: {analysis.layer_label(path, layer)}"
                                           for role, layer in analysis.followed_layers(path).items()}
    view.overlap = ov[ov.layer.isin(view.panels)].assign(observed=lambda d: 100 * d.overlap_of_kept,
                                                          chance=lambda d: 100 * d.expected_of_kept)
    view.rounds = list(range(last + 1))
    return view


def connections(runs_dir, preset):
    """The connection table (tickets.connection_table) of every seed at rounds R/3, 2R/3 and R of Section 5,
    computed once per sweep and kept in $LTH_RUNS/tables/ (make rebuilds it when its runs or lth/tickets.py change)."""
    runs, t, _ = _tickets(runs_dir, preset)
    rounds = sorted({r for r in (t["round"] // 3, 2 * t["round"] // 3, t["round"]) if r > 0})
    key = hashlib.sha1(json.dumps([sorted(p.name for p in runs.path), rounds]).encode()).hexdigest()[:12]
    cache = _dir(runs_dir) / "tables" / f"{preset}-connections.pkl"
    if cache.exists():
        saved = pd.read_pickle(cache)
        if saved["key"] == key:
            return saved["table"]
    table = pd.concat([tickets.connections(runs, r) for r in rounds], ignore_index=True)
    table["connections"] = table.overlapping.map({True: "shared", False: "not shared"})
    # Categories, not strings: a ResNet-18 sweep has tens of millions of rows, which seaborn groups 3x faster so.
    table = table.astype({c: "category" for c in ("metric", "layer", "connections")})
    cache.parent.mkdir(parents=True, exist_ok=True)
    with store.atomic(cache) as tmp:  # several notebooks may compute it at once (make -j)
        pd.to_pickle({"key": key, "table": table}, tmp, compression=None)
    return table


def figure1(runs_dir, preset):
    """``connections``: one row per unpruned connection of each final ticket (round R): shared or not, the std
    of its trained values over rounds 0..R and whether it flipped sign; ``table``: the groups compared."""
    _, t, view = _tickets(runs_dir, preset)
    c = connections(runs_dir, preset)
    view.connections = c[c["round"] == t["round"]]
    view.table = tickets.compare_groups(view.connections)
    return view


def figure5(runs_dir, preset):
    """``connections``: as Figure 1's, at rounds R/3, 2R/3 and R; ``rounds``."""
    _, t, view = _tickets(runs_dir, preset)
    view.connections = connections(runs_dir, preset)
    view.rounds = sorted(view.connections["round"].unique())
    return view


figure6 = figure5  # the same connections; Figure 5 plots their std, Figure 6 their sign flips


def figure3(runs_dir, preset):
    """``drift``: per seed, metric and round, the mean distance from theta_0 of the input layer's shared and
    other unpruned connections, and the share of the ticket's connections that are shared; ``layer``;
    ``not_shared``: per metric, the fewest and most connections a "not shared" point rests on (over seeds, rounds),
    ``titles``, the metric panels' titles that say so, and ``metrics``, the panels in order."""
    runs, t, view = _tickets(runs_dir, preset)
    view.layer = analysis.recorded_roles(runs.path.iloc[0])["input"]
    last = int(analysis.accuracy(runs)["round"].max())
    d = tickets.drift_over_rounds(runs, view.layer, range(1, last + 1))
    view.drift = d.assign(connections=d.overlapping.map({True: "shared", False: "not shared"}))
    view.rounds = list(range(1, last + 1))
    others = d[~d.overlapping].groupby("metric")["count"]
    view.not_shared = {m: (int(lo), int(hi)) for m, lo, hi in zip(others.min().index, others.min(), others.max())}
    view.titles = {m: f"{m}: {view.layer} (not shared: {lo}-{hi} connections)"
                   for m, (lo, hi) in view.not_shared.items()}
    view.metrics = presets.ordered(view.titles)  # the panels, in the registry's order
    return view


def reinit(runs_dir, preset):
    """``table``: per layer, how many of the connections kept from theta_0 survive in the new tickets, against
    chance (mean, min and max excess over metrics and reinit seeds); the caption names every seed involved."""
    runs, t, view = _tickets(runs_dir, preset)
    configs = [r.config for r in runs_.groups(preset)["reinit"]]
    survival = analysis.reinit_results(_dir(runs_dir), preset)
    view.table = tickets.survival_summary(survival)
    view.caption = (f"{setting_name(preset, t['setting'])} (preset={preset}): connections shared by the "
                    f"{', '.join(t['metrics'])} tickets "
                    f"of seed {configs[0]['seed']} at round {t['round']} keep theta_0, the others are redrawn (reinit "
                    f"seeds {', '.join(str(c['reinit_seed']) for c in configs)}), and LTR runs again; excess over "
                    "chance in %, blank where fewer than 5 connections are expected by chance")
    return view
