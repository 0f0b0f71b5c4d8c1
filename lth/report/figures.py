"""What each table and figure of the paper shows, loaded from a preset's runs: one function per notebook.

Each returns its typed view (lth/report/views.py): the tidy tables a notebook plots and a caption naming the
preset, settings and seeds that made them. Which runs, rounds and layers are shown comes from the presets (lth/presets.py) and
from the roles each model declares (lth/models.py, recorded in every run's info.json), never from a notebook.
"""

import math
from pathlib import Path

import pandas as pd

from lth import presets, store, tickets
from lth.runs import groups, of_preset

from lth.report import analysis, claims, claims_accuracy, evidence, published, section5, stats, views


def _reported(runs):
    """True where the paper reports numbers for some of these settings (lth/report/paper_results.csv)."""
    return bool(set(runs["setting"]) & set(published.paper_results("table2")["setting"]))


# --- Accuracy and layerwise sparsity: every run of the preset ---

def table1(runs_dir, preset):
    """``table``: [min, max] of the weights of the followed layers (input, first 1x1 shortcut, middle, output)
    at theta_0, theta_{0,k} and trained, mean over the magnitude runs; the paper's ranges beside where it reports them."""
    runs = analysis.load_runs(evidence.runs_folder(runs_dir), preset, groups(preset)["magnitude"])
    paper = _reported(runs)
    caption = (f"Table 1: [min, max] of each followed layer's weights at initialisation, at the rewind point and "
               f"trained, mean over the magnitude runs{' (ours / paper)' if paper else ''}; {evidence.caption(preset, runs)}")
    return views.Tables(table=analysis.table1(runs, with_paper=paper), caption=caption)


def table2(runs_dir, preset):
    """``table``: the test accuracy every 5 rounds, mean ± sd over seeds, per metric (ours / paper / difference
    where the paper reports a value)."""
    runs = analysis.load_runs(evidence.runs_folder(runs_dir), preset)
    paper = _reported(runs)
    caption = (f"Table 2: top-1 test accuracy (%) every 5 rounds, mean ± sd over seeds"
               f"{'; ours / paper / difference where the paper reports it' if paper else ''}; {evidence.caption(preset, runs)}")
    acc = analysis.accuracy(runs)
    paired_caption = ("Table 2, paired: each metric's accuracy minus magnitude's, seed by seed (same theta_0, data "
                      "order and round 0), in points: mean [min, max] over seeds, and how many seeds agree in sign; "
                      f"{evidence.caption(preset, runs)}")
    return views.Tables(table=analysis.table2(acc, with_paper=paper), caption=caption,
                paired=analysis.table2_paired(acc), paired_caption=paired_caption)


# Figure 4 scales its axes to the runs that hold: a run more than this many points below the round's median metric
# (a collapsed or collapsing one: minmax at 10 % where the others are at 75 to 78 %) is marked, not scaled to. Not
# less: the small preset's ResNet-8-16 has a magnitude seed 5.7 points below the median at round 22, no collapse.
OFF_SCALE = 10


def off_scale(acc, gap=OFF_SCALE):
    """Per row of an accuracy table (one per run and round): True where the run is more than ``gap`` points below
    the median over metrics, at its setting and round, of each metric's mean over seeds."""
    keys = ["setting", "round"]
    mean = acc.groupby([*keys, "importance"], sort=False).test_accuracy.mean()
    reference = mean.groupby(level=keys, sort=False).median().rename("reference")
    return acc.test_accuracy < acc.join(reference, on=keys)["reference"] - gap


def _limits(values, include=(), pad=0.06):
    """An axis range spanning ``values`` and ``include``, padded by ``pad`` of its span on each side."""
    lo, hi = min(min(values), *include), max(max(values), *include)
    span = (hi - lo) or 1.0
    return lo - pad * span, hi + pad * span


def _off(df, column, off, limits):
    """The runs a panel leaves out of its means and bands (``off``), one row each (importance, seed, round,
    ``column``), with ``side``: "below" or "above" ``limits`` (marked at that edge) or "on" (drawn at its value)."""
    out = df.loc[off, ["importance", "seed", "round", column]].reset_index(drop=True)
    return out.assign(side=["below" if v < limits[0] else "above" if v > limits[1] else "on" for v in out[column]])


def _scaled(df, dense, paper):
    """Figure 4's axes for one setting. A run off the scale (``off_scale``: collapsed or diverged, as minmax's seed
    at 10 % for one round of ResNet-8-16) is drawn alone and left out of its metric's mean and band, so that it
    steers neither: ``held`` (the accuracy rows the means are of), ``ylim`` (spanning them, the dense line and the
    paper's values near them) and ``outside`` (the runs left out, ``_off``); the same for the difference panel,
    where a difference is off when the metric's run or magnitude's of the same seed is: ``difference`` (every
    row), ``diff_held``, ``diff_ylim``, ``diff_outside``. No band reaches past its axis: it spans held runs only."""
    off = off_scale(df)
    on = df.test_accuracy[~off]
    floor = on.min() - OFF_SCALE  # the paper's values far below ours are left out of the scale
    ylim = _limits(on, [dense, *[v for v in paper["value"] if v >= floor]])
    difference = analysis.differences(df)
    keys = ["setting", "round", "seed"]
    off_run = df.assign(off=off).set_index([*keys, "importance"])["off"]
    off_magnitude = df[df.importance == "magnitude"].assign(off=off).set_index(keys)["off"].rename("off_magnitude")
    joined = difference.join(off_run, on=[*keys, "importance"]).join(off_magnitude, on=keys)
    diff_off = joined["off"] | (joined["off_magnitude"] == True)  # noqa: E712 (NaN: no magnitude run)
    diff_ylim = _limits(difference.difference[~diff_off] if (~diff_off).any() else [0.0], [0.0])
    return views.Axes(ylim=ylim, held=df[~off], outside=_off(df, "test_accuracy", off, ylim), difference=difference,
                      diff_held=difference[~diff_off], diff_ylim=diff_ylim,
                      diff_outside=_off(difference, "difference", diff_off, diff_ylim))


def figure4(runs_dir, preset):
    """``settings``: per setting, ``accuracy`` (one row per run and round), ``dense`` (the mean accuracy of
    round 0), ``paper`` (the paper's values, if any), ``fraction``, ``caption`` and ``difference`` (each metric's
    accuracy minus magnitude's, per seed: ``analysis.differences``; empty where the setting runs magnitude alone,
    and ``alone`` says so); the axes, scaled to the runs that hold (``_scaled``): ``held``, ``ylim``, ``outside``
    (the runs off the scale, drawn alone), ``diff_held``, ``diff_ylim``, ``diff_outside``; ``paired``: whether some
    setting has a metric beside magnitude."""
    runs = analysis.load_runs(evidence.runs_folder(runs_dir), preset)
    acc, paper = analysis.accuracy(runs), published.paper_results("table2")
    shown = []
    for setting, df in acc.groupby("setting", sort=False):
        reported = paper[(paper.setting == setting) & (paper.importance != "dense")]
        alone = (f"no paired difference:\npreset={preset} runs\nmagnitude alone on\n{evidence.setting_name(preset, setting)}"
                 if df.importance.nunique() == 1 else "")
        dense = df[df["round"] == 0].test_accuracy.mean()
        shown.append(views.Accuracy(name=setting, accuracy=df, dense=dense, paper=reported, fraction=evidence.fraction(preset, setting),
                          caption=evidence.caption(preset, runs[runs.setting == setting]), alone=alone,
                          **vars(_scaled(df, dense, reported))))
    return views.Figure4(settings=shown, data=acc, paired=acc.importance.nunique() > 1)


# --- Layer density (Figures 2, 8, 9, 10): on log axes, beside the network's ---

def _weights(path):
    """{layer: its number of weights}, from the run's round 0 ticket (the shapes ``tickets.pack`` records, read
    without unpacking the masks)."""
    stored = tickets.load_file(Path(path) / store.round_file(0))
    shapes = stored["shapes"] if "shapes" in stored else {n: m.shape for n, m in stored["mask"].items()}
    return {n: math.prod(s) for n, s in shapes.items()}


def _densities(runs):
    """``analysis.layer_density_table`` with ``layer_density`` (%), what Figures 2, 8, 9 and 10 plot."""
    ld = analysis.layer_density_table(runs)
    return ld.assign(layer_sparsity=100 - ld.layer_sparsity).rename(columns={"layer_sparsity": "layer_density"})


def _network(preset, runs, ld):
    """Per setting and round (mean over its runs, which agree: every metric removes the same number of weights):
    ``network_density``, the density (%) over every prunable layer, a layer kept dense included (as the pruning
    budget and ``sparsity`` count it), and ``pruned_density``, over the layers that are pruned (NaN where the
    setting keeps none dense). Also, per setting that keeps a layer dense, a note: how many weights it keeps and
    their share of what is left at the last round."""
    tables, notes = [], {}
    for setting, df in ld.groupby("setting", sort=False):
        path = runs[runs.setting == setting].path.iloc[0]
        dense = analysis.recorded_roles(path)["dense"]
        net = df.assign(network_density=100 - df.sparsity).groupby("round")[["network_density"]].mean()
        net["pruned_density"] = float("nan")
        if dense:
            n = _weights(path)
            pruned = df[~df.layer.isin(dense)].assign(kept=lambda d: d.layer.map(n) * d.layer_density)
            per_run = pruned.groupby(["importance", "seed", "round"]).kept.sum() / sum(n[k] for k in n if k not in dense)
            net["pruned_density"] = per_run.groupby("round").mean()
            last, kept = net.iloc[-1], sum(n[k] for k in dense)
            left = last.network_density / 100 * sum(n.values())
            notes[setting] = (f"{evidence.setting_name(preset, setting)} keeps {', '.join(dense)} dense (never pruned): "
                              f"its {kept:,} weights are {100 * kept / left:.0f} % of the {left:,.0f} left at round "
                              f"{net.index[-1]}, where the network is {100 - last.network_density:.2f} % sparse and "
                              f"its pruned layers {100 - last.pruned_density:.2f} %")
        tables.append(net.reset_index().assign(setting=setting))
    columns = ["setting", "round", "network_density", "pruned_density"]
    return (pd.concat(tables)[columns] if tables else pd.DataFrame(columns=columns)), notes


def figure8(runs_dir, preset):
    """``settings``: per setting, ``density`` of each layer in the final ticket (one row per run and layer,
    ``layer_density`` in %, ``depth`` = position, input first), ``labels`` (the layers' names for a reader, by
    depth), the ``network_density`` and ``pruned_density`` (%) of the final round (``_network``) and the panel's
    ``title``; ``data``: the rows plotted, with the network's density; ``notes``: what each setting's kept-dense
    layer does to the network's sparsity (printed by the notebook)."""
    runs = analysis.load_runs(evidence.runs_folder(runs_dir), preset)
    ld = _densities(runs)
    network, notes = _network(preset, runs, ld)
    shown = []
    for setting, df in ld.groupby("setting", sort=False):
        path = runs[runs.setting == setting].path.iloc[0]
        final = df[df["round"] == df["round"].max()]
        labels = [analysis.layer_label(path, layer, short=True) for layer in analysis.recorded_layers(path)]
        short = presets.ordered(set(df.importance) - set(final.importance))  # metrics that stop earlier (rounds_of)
        title = evidence.caption(preset, runs[runs.setting == setting]) + (
            f"; not shown: {', '.join(short)}, stopped earlier" if short else "")
        last = network[(network.setting == setting) & (network["round"] == final["round"].max())].iloc[0]
        shown.append(views.FinalDensity(name=setting, density=final, labels=labels,
                                        network_density=last.network_density, pruned_density=last.pruned_density,
                                        title=title))
    data = pd.concat([v.density for v in shown]).merge(network, on=["setting", "round"])
    return views.Figure8(settings=shown, data=data, notes=list(notes.values()))


def _layer_panels(runs_dir, preset, pick, settings=None, why=""):
    """One panel per (setting, role, layer) that ``pick(path)`` returns ({role: layer}): the layer's ``density``
    over the rounds (``layer_density``, %), the setting's ``network`` (``_network``) and ``fraction``, the layer's
    name for a reader and whether the setting keeps it ``dense``; ``caption``: the settings with a panel, or ``why``
    there is none; ``notes``: what each one's kept-dense layer does to the network's sparsity (the notebook prints
    them: in a title they would make it too long to read); ``data``: the rows plotted."""
    runs = analysis.load_runs(evidence.runs_folder(runs_dir), preset)
    ld = _densities(runs)
    network, notes = _network(preset, runs, ld)
    panels = []
    for setting in settings or runs.setting.unique():
        path = runs[runs.setting == setting].path.iloc[0]
        for role, layer in pick(path).items():
            panels.append(views.LayerPanel(setting=setting, name=evidence.setting_name(preset, setting), role=role, layer=layer,
                               label=analysis.layer_label(path, layer),
                               dense=layer in analysis.recorded_roles(path)["dense"],
                               density=ld[(ld.setting == setting) & (ld.layer == layer)],
                               network=network[network.setting == setting], fraction=evidence.fraction(preset, setting)))
    shown = list(dict.fromkeys(p.setting for p in panels))
    data = (pd.concat([p.density.assign(role=p.role) for p in panels]).merge(network, on=["setting", "round"])
            if panels else pd.DataFrame(columns=[*ld.columns, "role", *network.columns[2:]]))
    return views.LayerPanels(panels=panels, data=data, why=why, notes=[notes[s] for s in shown if s in notes],
                caption=evidence.caption(preset, runs[runs.setting.isin(shown)]) if panels else f"preset={preset}: {why}")


def figure2(runs_dir, preset):
    """``panels``: the input, middle, first 1x1 shortcut and output layers of the setting Section 5 studies."""
    return _layer_panels(runs_dir, preset, analysis.followed_layers, [presets.get(preset).tickets["setting"]])


def figure9(runs_dir, preset):
    """``panels``: the input, middle and output layers of every setting."""
    pick = lambda path: {k: v for k, v in analysis.followed_layers(path).items() if k != "shortcut"}
    return _layer_panels(runs_dir, preset, pick)


def figure10(runs_dir, preset):
    """``panels``: every 1x1 shortcut convolution of every setting (settings without any have none; ``why``
    says so where no setting has one)."""
    pick = lambda path: {f"shortcut {i}": s for i, s in enumerate(analysis.recorded_roles(path)["shortcuts"], start=1)}
    return _layer_panels(runs_dir, preset, pick, why=f"no setting of preset={preset} has a 1x1 shortcut convolution")


def collapse(runs_dir, preset):
    """``runs``: per run, the first round with a fully pruned layer and the sparsest layer of the last ticket;
    ``table``: per setting and metric, how many runs collapse, when first and which layers, and a verdict;
    ``settings``: per setting, ``sparsest`` (each run's sparsest-layer density per round, 0 where it collapsed),
    ``fraction``, ``caption`` (the setting and how far it goes; the figure's ``caption`` names the preset and seeds),
    ``collapsed`` (the metrics with collapsed runs at the last round: how many of how many, "minmax 2 of 3 runs"),
    and the accuracy beside it: each row's ``at_chance`` (the run has stopped learning, ``stats.at_chance``) and
    ``chance_from`` (the first round from which every run of the setting is at chance; None where none is)."""
    runs = analysis.load_runs(evidence.runs_folder(runs_dir), preset)
    per_run, sparsest = analysis.collapse(runs), analysis.sparsest_layer(runs)
    keys = ["setting", "importance", "seed", "round"]
    sparsest = sparsest.join(analysis.accuracy(runs).set_index(keys).test_accuracy, on=keys)
    dataset = {s: presets.get(preset).settings[s]["dataset"] for s in sparsest.setting.unique()}
    sparsest["at_chance"] = [bool(stats.at_chance(a, dataset[s])) for a, s in zip(sparsest.test_accuracy, sparsest.setting)]
    settings = []
    for setting, df in sparsest.groupby("setting", sort=False):
        everyone = df.groupby("round").at_chance.all()
        stopped = [r for r in everyone.index if everyone.loc[r:].all()]
        last = df[df["round"] == df["round"].max()].groupby("importance", sort=False).collapsed.agg(["sum", "size"])
        counts = [f"{m} {k} of {n} runs" for m, (k, n) in last.loc[presets.ordered(last.index)].iterrows() if k]
        settings.append(views.SparsestLayer(name=setting, sparsest=df, fraction=evidence.fraction(preset, setting),
                             caption=evidence.reached(preset, runs, setting),
                             collapsed=f"collapsed at round {df['round'].max()}: {', '.join(counts) or 'none'}",
                             chance_from=min(stopped) if stopped else None))
    return views.Collapse(runs=per_run, table=analysis.collapse_summary(per_run), caption=evidence.caption(preset, runs),
                settings=settings, data=sparsest)


def extra(runs_dir, preset):
    """``table`` and ``paired``: as Table 2's, for the preset's ``extra`` metrics (beyond the registry's, e.g. Zhou
    et al.'s) and magnitude on the one setting that runs them; None where the preset names none."""
    records = of_preset(preset, extra=True)
    if not records:
        return None
    seeds = {r.seed for r in records}  # magnitude of the seeds the extra metrics run (maybe fewer)
    magnitude = [r for r in of_preset(preset, ["magnitude"], [records[0].setting]) if r.seed in seeds]
    runs = analysis.load_runs(evidence.runs_folder(runs_dir), preset, magnitude + records)
    acc = analysis.accuracy(runs)
    caption = f"the metrics beyond the paper's against magnitude; {evidence.caption(preset, runs)}"
    return views.Tables(table=analysis.table2(acc), paired=analysis.table2_paired(acc),
                caption=f"Top-1 test accuracy (%) every 5 rounds, mean ± sd over seeds, of {caption}",
                paired_caption=f"Each metric's accuracy minus magnitude's, seed by seed, in points: mean [min, max] "
                               f"over seeds, and how many seeds agree in sign, of {caption}")


# --- Section 5: several tickets from one initialisation ---

def _tickets(runs_dir, preset):
    """The runs Section 5 compares (``evidence.ticket_runs``: checked to share theta_0 and round 0 bitwise), the
    preset's ``tickets`` entry, and the fields of a ``views.Tickets`` saying so."""
    t = presets.get(preset).tickets
    runs = evidence.ticket_runs(runs_dir, preset)
    name, seeds = evidence.setting_name(preset, t["setting"]), evidence.seeds_text(runs)
    fraction = evidence.fraction(preset, t["setting"])
    checked = f"{name}, seeds {seeds}: init.pt and round 0 are bitwise equal across {', '.join(t['metrics'])}"
    caption = f"{name} (preset={preset}, tickets of {', '.join(t['metrics'])}, seeds {seeds})"
    return runs, t, dict(checked=checked, caption=caption, round=t["round"],
                         sparsity=100 * (1 - (1 - fraction) ** t["round"]), fraction=fraction)


def overlap(runs_dir, preset):
    """``table``: per layer and over all layers, the connections every ticket keeps at Section 5's round, as a
    share of all and of a ticket's unpruned ones, against chance; ``jaccard``: per pair of metrics."""
    runs, t, shown = _tickets(runs_dir, preset)
    return views.Overlap(**shown, table=section5.overlap_summary(section5.overlap_over_rounds(runs, [t["round"]])),
                         jaccard=section5.jaccard_summary(section5.jaccards(runs, t["round"])))


def figure7(runs_dir, preset):
    """``overlap``: per seed, round and followed layer (and "all"), the share of a ticket's unpruned connections
    that every ticket keeps, observed and by chance; ``panels``: {layer: title}."""
    runs, t, shown = _tickets(runs_dir, preset)
    path = runs.path.iloc[0]
    panels = {"all": "all layers"} | {layer: f"{role}: {analysis.layer_label(path, layer)}"
                                      for role, layer in analysis.followed_layers(path).items()}
    return views.Figure7(**shown, panels=panels, overlap=evidence.overlap_by_round(runs_dir, preset),
                         rounds=list(range(evidence.last_round(runs) + 1)))


def _layer_mix(runs, table):
    """Per layer (input to output, its short name ``label``): its share of the network's prunable weights and of
    the shared and of the not-shared connections of ``table`` (pooled over metrics and seeds), in %."""
    path = runs.path.iloc[0]
    weights = {layer: m.numel() for layer, m in tickets.load_ticket(path, 0)["mask"].items()}
    counts = table.groupby(["layer", "overlapping"], observed=True).size().unstack("overlapping", fill_value=0)
    counts = counts.reindex(index=list(weights), columns=[True, False], fill_value=0)
    return pd.DataFrame(dict(depth=range(len(weights)), layer=list(weights),
                             label=[analysis.layer_label(path, layer, short=True) for layer in weights],
                             weights_percent=100 * pd.Series(weights).to_numpy() / sum(weights.values()),
                             shared_percent=100 * counts[True].to_numpy() / max(counts[True].sum(), 1),
                             not_shared_percent=100 * counts[False].to_numpy() / max(counts[False].sum(), 1)))


# Figures 1, 5, 6: each quantity's name, column, format, and which way the paper says the shared connections differ.
_QUANTITIES = [("std", "mean_std", "{:.3g}", "lower"), ("sign flips", "sign_flip_percent", "{:.2f} %", "lower"),
               ("distance from theta_0", "mean_distance", "{:.3g}", "greater")]


def within_layers(layers):
    """Per metric (and round) of a section5.by_layer table: in how many layers (of ``layers``, those with shared
    and not-shared connections) the shared ones have the lower mean std (``std_lower``), the lower share of sign
    flips (``sign_flips_lower``) and the greater mean distance from theta_0 (``distance_greater``, where recorded),
    as the paper says they do."""
    by = [c for c in ("metric", "round") if c in layers]
    both = layers[(layers.connections_shared > 0) & (layers.connections_not_shared > 0)]
    counts = {"layers": both.groupby(by, sort=False).size()}
    for name, column, _, better in _QUANTITIES:
        if f"{column}_shared" in both:
            a, b = both[f"{column}_shared"], both[f"{column}_not_shared"]
            counts[f"{name.split()[0]}{'_flips' if name == 'sign flips' else ''}_{better}"] = (
                ((a < b) if better == "lower" else (a > b)).groupby([both[c] for c in by], sort=False).sum())
    out = pd.DataFrame(counts).reset_index()
    order = {m: i for i, m in enumerate(presets.ordered(out.metric.astype(str)))}  # the registry's, then the rest
    return out.sort_values(by[::-1], key=lambda c: c.astype(str).map(order) if c.name == "metric" else c, kind="stable",
                           ignore_index=True)


def layer_findings(matched, layers):
    """What the layer-matched comparison shows, one line per metric (and round, where ``matched`` has several):
    shared against not shared pooled over layers and against not shared weighted to the shared ones' layer mix
    (section5.layer_matched), for the std, the sign flips and the distance from theta_0, and within how many layers
    (of those with both groups, ``within_layers``) the shared connections differ as the paper says."""
    by = [c for c in ("metric", "round") if c in matched]
    within = within_layers(layers).set_index(by)
    lines = []
    for key, m in matched.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        g, w = m.set_index("group"), within.loc[key if len(key) > 1 else key[0]]
        parts = []
        for (name, column, fmt, better), counted in zip(_QUANTITIES, ["std_lower", "sign_flips_lower", "distance_greater"]):
            if column in g:
                shared, pooled, matched_ = (fmt.format(g.loc[x, column]) for x in section5.GROUPS)
                parts.append(f"{name}: shared {shared}, not shared {pooled} pooled, {matched_} layer-matched; shared "
                             f"{better} within {w[counted]} of {w['layers']} layers")
        lines.append(" round ".join(map(str, key)) + ": " + "; ".join(parts))
    return lines


# How a note says that shared connections differ as the paper says, per column of ``within_layers``.
_VERBS = {"std_lower": "vary less", "sign_flips_lower": "flip sign less", "distance_greater": "move further from theta_0"}


def layer_note(layers, counted=tuple(_VERBS)):
    """For a table's title, a sentence per column ``counted`` of ``within_layers``: within how many of the layers
    that have both groups the shared connections differ from the not-shared ones as the paper says, per metric (and
    round), e.g. "Within each layer, shared connections vary less than not-shared ones in magnitude 10/10, l1 9/10
    layers"; the sentences joined by ". "."""
    w = within_layers(layers)
    per_round = w.groupby("round", sort=False) if "round" in w else [(None, w)]
    lines = []
    for column in (c for c in counted if c in w):
        parts = [("" if r is None else f"round {r}: ") + ", ".join(f"{m} {k}/{n}" for m, k, n in
                                                                  zip(d.metric, d[column], d.layers))
                 for r, d in per_round]
        lines.append(f"Within each layer, shared connections {_VERBS[column]} than not-shared ones in "
                     + "; ".join(parts) + " layers")
    return ". ".join(lines)


def figure1(runs_dir, preset):
    """``connections``: one row per unpruned connection of each final ticket (round R): shared or not, the std
    of its trained values over rounds 0..R, whether it flipped sign, its distance from theta_0; ``table``: the
    groups compared per metric, pooled over layers and layer-matched (section5.layer_matched); ``layers``: shared
    against not shared within each layer (section5.by_layer); ``mix``: each layer's share of the weights, of the
    shared and of the not-shared connections (%); ``findings``: what the layer-matched comparison shows, per
    metric; ``note``: within how many layers, for under the figure."""
    runs, t, shown = _tickets(runs_dir, preset)
    c = evidence.connections(runs_dir, preset)
    c = c[c["round"] == t["round"]]
    table, layers = section5.layer_matched(c, by=("metric",)), section5.by_layer(c, by=("metric",))
    return views.Connections(**shown, connections=c, table=table, layers=layers, mix=_layer_mix(runs, c),
                             findings=layer_findings(table, layers), note=layer_note(layers),
                             metrics=presets.ordered(c["metric"].unique()))


def figure5(runs_dir, preset):
    """``connections``: as Figure 1's, at rounds R/3, 2R/3 and R; ``rounds``; ``table``: the groups compared per
    metric and round, pooled over layers and layer-matched (section5.layer_matched); ``layers``: within each layer
    (section5.by_layer); ``findings``: what the layer-matched comparison shows (as Figure 1's); ``note``: for
    Figure 5's title (``std``) and Figure 6's (``flips``)."""
    _, t, shown = _tickets(runs_dir, preset)
    c = evidence.connections(runs_dir, preset)
    table, layers = section5.layer_matched(c), section5.by_layer(c)
    return views.Connections(**shown, connections=c, rounds=sorted(c["round"].unique()), table=table, layers=layers,
                             findings=layer_findings(table, layers),
                             note={"std": layer_note(layers, ["std_lower"]),
                                   "flips": layer_note(layers, ["sign_flips_lower"])})


def figure3(runs_dir, preset):
    """``drift``: per seed, metric and round, the mean distance from theta_0 of the input layer's shared and
    other unpruned connections, and the share of the ticket's connections that are shared; ``layer``;
    ``not_shared``: per metric, the fewest and most connections a "not shared" point rests on (over seeds, rounds),
    ``titles``, the metric panels' titles that say so, and ``metrics``, the panels in order."""
    runs, t, shown = _tickets(runs_dir, preset)
    layer, d = analysis.recorded_roles(runs.path.iloc[0])["input"], evidence.drift(runs_dir, preset)
    others = d[~d.overlapping].groupby("metric")["count"]
    not_shared = {m: (int(lo), int(hi)) for m, lo, hi in zip(others.min().index, others.min(), others.max())}
    titles = {m: f"{m}: {layer} (not shared: {lo}-{hi} connections)" for m, (lo, hi) in not_shared.items()}
    return views.Drift(**shown, layer=layer, drift=d, rounds=list(range(1, evidence.last_round(runs) + 1)),
                       not_shared=not_shared, titles=titles,
                       metrics=presets.ordered(titles))  # the panels, in the registry's order


def reinit(runs_dir, preset):
    """``table``: per layer, how many of the connections kept from theta_0 survive in the new tickets, against
    chance (mean, min and max excess over metrics, ticket seeds and reinit seeds); the caption names every seed
    involved."""
    runs, t, shown = _tickets(runs_dir, preset)
    configs = [r.config for r in groups(preset)["reinit"]]
    survival = analysis.reinit_results(evidence.runs_folder(runs_dir), preset)
    shown["caption"] = (f"{evidence.setting_name(preset, t['setting'])} (preset={preset}): connections shared by the "
                    f"{', '.join(t['metrics'])} tickets "
                    f"of seed{'s' if len(t['reinit_tickets']) > 1 else ''} {evidence.seed_list(t['reinit_tickets'])} "
                    f"at round {t['round']} keep theta_0, the others are redrawn (reinit seeds "
                    f"{evidence.seed_list(sorted({c['reinit_seed'] for c in configs}))}), and LTR runs again; excess over "
                    "chance in %, blank where fewer than 5 connections are expected by chance")
    return views.Reinit(**shown, table=section5.survival_summary(survival))


# --- Results at a glance (README): the paper's effects beside ours, and every claim's verdict ---

AGREEMENT = ("agree", "opposite", "within the noise", "a gap the paper has not")


def agreement(paper, ours, level, noise):
    """Where each point of the glance figure lies, from the paper's gap to magnitude and our mean one (points):
    "agree" (ours beyond ``noise`` with the paper's sign, or, where the paper's gap is within ``level``, "about
    equal", ours within ``noise`` too), "opposite" (ours beyond ``noise`` with the other sign), "within the noise"
    (the paper a gap, ours not) or "a gap the paper has not" (the paper about equal, ours beyond ``noise``)."""
    import numpy as np

    paper, ours, noise = (np.asarray(x, float) for x in (paper, ours, noise))
    p = np.where(np.abs(paper) <= level, 0, np.sign(paper))
    o = np.where(np.abs(ours) < noise, 0, np.sign(ours))
    return np.select([p == o, p * o < 0, o == 0], AGREEMENT[:3], AGREEMENT[3])


def _claim_titles():
    """{``published.EFFECTS``' key: the claim as ``claims.CLAIMS`` (and claims.md) names it}: the claim judged against
    that key's numbers (``claims.paper_gaps``)."""
    gaps = {claims.paper_gaps(k): k for k in published.EFFECTS}
    return {gaps[paper]: title for title, paper, _ in claims.CLAIMS if paper in gaps}


def glance_view(effects, verdicts, names=None, reach=None, preset="", level=1.0, caption=""):
    """The glance figure's view from ``claims_accuracy.effects``' rows and ``claims.evaluate``'s verdicts (a pure function:
    the tests give it constructed rows). ``names``: {setting: its name for a reader}; ``reach``: {a setting's name:
    its last round}; ``level``: the paper's "about equal" (``stats.GAP``, points).

    ``points``: the rows with our numbers (seeds > 0), with ``claim_text``, ``setting_name``, ``agreement``
    (``agreement``) and ``decided`` (the sign test decides: holds, reversed or fails); ``missing``: the paper's gaps at
    rounds our settings do not reach; ``noise``: our settings' least real gaps (points); ``level``; ``xlim`` and
    ``ylim`` (every gap, ours with the lowest and highest seed); ``settings``: the settings drawn, in order;
    ``verdicts``: per claim its ``verdict`` (reproduced, partly, ...), ``clauses`` ("19 of 20") and ``points``
    (what the plotted rows show, for the claims judged from them); ``note``: why there is no point, where there is
    none; ``data``: every row, for the CSV (each number's unit in its name)."""
    names, reach, titles = names or {}, reach or {}, _claim_titles()
    rows = effects.rename(columns={"gap_points": "noise_points"}).assign(
        claim_text=lambda d: d.claim.map(lambda c: titles.get(c, c)),
        setting_name=lambda d: d.setting.map(lambda s: names.get(s, s)))
    has = rows.seeds > 0
    rows["agreement"] = pd.Series(None, index=rows.index, dtype=object)
    if has.any():
        rows.loc[has, "agreement"] = agreement(rows.paper_gap_points[has], rows.our_gap_points[has], level,
                                               rows.noise_points[has])
    points = rows[has].assign(decided=lambda d: d.outcome.isin(["holds", "reversed", "fails"]))
    missing = rows[~has & (rows.seeds_at_chance == 0)]  # at chance: reached, but no gap to show
    noise = sorted(rows.noise_points.dropna().unique())
    xs = [-level, level, *rows.paper_gap_points]
    ys = [*[s * n for n in noise for s in (-1, 1)], *points.our_low_points, *points.our_high_points]
    table = pd.DataFrame(dict(claim=verdicts.claim, verdict=verdicts.verdict.str.split(" (", regex=False).str[0],
                              clauses=verdicts.verdict.str.extract(r"\((\d+ of \d+)", expand=False).fillna(""),
                              points=verdicts.claim.map(lambda c: _plotted(rows[rows.claim_text == c]))))
    note = ""
    if not len(points):
        rounds = ", ".join(map(str, sorted(rows.paper_round.unique())))
        by_round = {}
        for name, r in reach.items():
            by_round.setdefault(r, []).append(name)
        stops = "; ".join(f"round {r} on {' and '.join(g)}" for r, g in by_round.items())
        note = (f"No point: preset={preset} stops at {stops}, before every round where the paper gives a gap "
                f"({rounds}; the ticks below)" if len(rows) else f"No point: preset={preset} runs none of the "
                "metrics the paper compares with magnitude (Table 2) on a setting that stands for one of the paper's")
    digits = dict(paper_gap_points=2, sparsity_pct=3, noise_points=3, our_gap_points=3, our_low_points=3,
                  our_high_points=3)
    return views.Glance(points=points, missing=missing, noise=noise, level=level, xlim=_asinh_limits(xs, level),
                ylim=_asinh_limits(ys or [-level, level], level), settings=list(dict.fromkeys(points.setting)),
                verdicts=table, note=note, preset=preset, caption=caption, data=rows.round(digits))


def _asinh_limits(values, width):
    """``_limits`` (0 included) padded on the asinh scale the glance figure draws them on (linear within
    ``width``), so that a point at +32 stays off the edge as one at +0.5 does."""
    import numpy as np

    lo, hi = _limits(np.arcsinh(np.asarray([0.0, *values], float) / width), [0.0])
    return float(width * np.sinh(lo)), float(width * np.sinh(hi))


def _plotted(rows):
    """What a claim's rows of ``claims_accuracy.effects`` show, for its line of the verdict table: "4 of the paper's 14 gaps
    reached: 2 agree, 1 opposite, 1 within the noise; 1 decided by the sign test" ("" where it has none)."""
    if not len(rows):
        return ""
    reached = rows[rows.seeds > 0]
    counts = reached.agreement.value_counts()
    where = ", ".join(f"{counts[a]} {a}" for a in AGREEMENT if a in counts)
    decided = reached.outcome.value_counts()
    outcomes = ", ".join(f"{decided[o]} {o}" for o in ("holds", "reversed", "fails") if o in decided)
    return (f"{len(reached)} of the paper's {len(rows)} gaps reached" + (f": {where}" if where else "")
            + (f"; sign test: {outcomes}" if outcomes else "; sign test: none decided" if len(reached) else ""))


def glance(runs_dir, preset):
    """The README's results at a glance: for every paper gap to magnitude that an accuracy claim is judged against
    (``claims_accuracy.effects``: per claim, setting, metric and round), the paper's gap beside ours, and every claim's
    verdict (``claims.evaluate``): ``glance_view``'s fields, ``caption`` naming the preset, settings and seeds."""
    e = evidence.Evidence(runs_dir, preset)
    names = {s: evidence.setting_name(preset, s) for s in e.settings}
    for s, p in ((s, published.paper_setting(c["model"])) for s, c in e.settings.items()):
        paper = p and f"{evidence.NAMES[presets.PAPER[p]['model']]} on {evidence.NAMES[presets.PAPER[p]['dataset']]}"
        if paper and paper != names[s]:  # the paper's setting it stands for
            names[s] += f" (for {paper})"
    reach = {evidence.setting_name(preset, s): r for s, r in e.acc.groupby("setting", sort=False)["round"].max().items()}
    return glance_view(claims_accuracy.effects(e), claims.evaluate(runs_dir, preset, e), names, reach, preset, stats.GAP,
                       evidence.caption(preset, e.runs))
