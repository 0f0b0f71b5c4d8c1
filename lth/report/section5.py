"""Several tickets from one initialisation (the paper's Section 5): overlap, chance, and the history of each
connection over the pruning rounds, as tidy tables.

A mask maps a layer's name to a bool tensor (True = unpruned), as in ``lth.pruning``; a history maps a layer's name
to its trained weights of rounds 0..R stacked on a first axis (``lth.tickets.load_history``). Tables are tidy pandas
DataFrames, one row per observation; ``depth`` is a layer's position in the mask, input first.
"""

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lth import store
from lth.tickets import check_same_dense, intersection, layers_of, load_file, load_history, load_ticket


def _div(a, b):
    return a / b if b else math.nan


def _chance(n, kept):
    """E|intersection| of tickets that keep kept[j] of n weights independently uniformly at random: n * prod(k_j / n)."""
    return n * math.prod(k / n for k in kept) if n else 0.0


def overlap_table(masks):
    """Per layer and over all layers ("all", depth -1): how many connections all tickets share, against chance.

    ``masks``: {metric: mask}. ``overlap_of_kept``, the paper's "% of unpruned connections shared",
    divides by the mean over the tickets of their unpruned counts (a convention: the tickets keep
    the same number overall but not per layer, and the paper does not say which it divides by);
    ``expected`` is the exact expected overlap of random tickets of the same per-layer sizes.
    """
    names, ov = list(masks), intersection(list(masks.values()))
    rows = []
    for depth, layer in enumerate(ov):
        kept = [int(masks[m][layer].sum()) for m in names]
        n = ov[layer].numel()
        rows.append(dict(layer=layer, depth=depth, weights=n, kept=kept, overlap=int(ov[layer].sum()),
                         expected=_chance(n, kept)))
    rows.append(dict(layer="all", depth=-1, weights=sum(r["weights"] for r in rows),
                     kept=[sum(r["kept"][j] for r in rows) for j in range(len(names))],
                     overlap=sum(r["overlap"] for r in rows), expected=sum(r["expected"] for r in rows)))
    out = []
    for r in rows:
        mean_kept = sum(r["kept"]) / len(names)
        out.append(dict(layer=r["layer"], depth=r["depth"], weights=r["weights"],
                        **{f"kept_{m}": k for m, k in zip(names, r["kept"])},
                        overlap=r["overlap"], overlap_of_all=r["overlap"] / r["weights"],
                        overlap_of_kept=_div(r["overlap"], mean_kept), expected=r["expected"],
                        expected_of_kept=_div(r["expected"], mean_kept), ratio=_div(r["overlap"], r["expected"])))
    return pd.DataFrame(out)


def jaccard_table(masks):
    """Per pair of metrics (a, b), per layer and "all": Jaccard index |A∩B| / |A∪B| of their tickets, against chance.

    expected_jaccard is a ratio of expectations, E|A∩B| / (k_a + k_b - E|A∩B|) with E|A∩B| = k_a k_b / n
    (summed over layers for "all"), not the exact expectation of the ratio.
    """
    layers = layers_of(masks.values())
    rows = []
    for a, b in itertools.combinations(masks, 2):
        per_layer = []
        for depth, layer in enumerate(layers):
            A, B = masks[a][layer].bool(), masks[b][layer].bool()
            ka, kb, n = int(A.sum()), int(B.sum()), A.numel()
            per_layer.append(dict(layer=layer, depth=depth, weights=n, kept_a=ka, kept_b=kb,
                                  intersection=int((A & B).sum()), union=int((A | B).sum()),
                                  expected_intersection=_chance(n, [ka, kb])))
        total = {k: sum(r[k] for r in per_layer) for k in list(per_layer[0])[2:]}
        for r in per_layer + [dict(layer="all", depth=-1, **total)]:
            e = r["expected_intersection"]
            rows.append(dict(a=a, b=b, **r, jaccard=_div(r["intersection"], r["union"]),
                             expected_jaccard=_div(e, r["kept_a"] + r["kept_b"] - e)))
    return pd.DataFrame(rows)


def connection_table(histories, masks, init=None):
    """One row per unpruned connection of each metric's final ticket: is it shared, and how did it move over the rounds.

    ``histories``: {metric: history of rounds 0..R}; ``masks``: {metric: mask of round R}; ``init``: theta_0's
    state dict. std is over the trained values of rounds 0..R (correction=0); sign_flip is True unless all
    of them have the same strict sign (0 is a sign of its own); size = |trained_R| (what magnitude, l1 and l2
    rank a layer's weights by); distance = |trained_R - theta_0|.
    """
    layers, ov = layers_of(masks.values()), intersection(list(masks.values()))
    parts = []
    for metric, mask in masks.items():
        for depth, layer in enumerate(layers):
            history = histories[metric][layer]
            if history.shape[1:] != mask[layer].shape:
                raise ValueError(f"{metric} {layer}: history {tuple(history.shape)} for a mask {tuple(mask[layer].shape)}")
            flat, keep = history.flatten(1), mask[layer].flatten().bool()
            if flat[-1][~keep].any():
                raise ValueError(f"{metric} {layer}: the last round has weights the mask prunes; is the mask of round R?")
            idx = keep.nonzero().squeeze(1)
            values = flat[:, idx].double()
            signs = values.sign()
            part = dict(metric=metric, layer=layer, depth=depth, index=idx.numpy(),
                        overlapping=ov[layer].flatten()[idx].numpy(), std=values.std(0, correction=0).numpy(),
                        sign_flip=(signs != signs[0]).any(0).numpy(), size=values[-1].abs().numpy())
            if init is not None:
                part["distance"] = (values[-1] - init[f"{layer}.weight"].flatten()[idx].double()).abs().numpy()
            parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


# Figures 1, 5 and 6 compare shared with not-shared connections. Pooled over layers, that mixes "shared" with
# "which layer": the shared ones sit mostly in small layers (first conv, 1x1 shortcuts, classifier) whose weights
# differ in scale from the 3x3 convolutions where most not-shared ones are. These compare them layer by layer.
SHARED, NOT_SHARED, MATCHED = "shared", "not shared", "not shared, layer-matched"
GROUPS = (SHARED, NOT_SHARED, MATCHED)
QUANTILES = (5, 25, 50, 75, 95)  # of std, in percent: the boxes of Figures 1 and 5
# The control for size: magnitude, l1 and l2 all rank a layer's weights by |w|, so their tickets nest and "shared"
# mostly means "the largest |w|", which move and flip less for that reason alone. A size stratum is a layer's
# connections (both groups) in SIZE_BINS equal parts by |trained_R| (``size_bins``); matched on ("layer", "size_bin"),
# the not-shared connections have the shared ones' layer and size mix.
SIZE_BINS = 10
BY_LAYER, BY_SIZE = ("layer",), ("layer", "size_bin")


def size_bins(table, by=("metric", "round")):
    """Each connection's size stratum (0 .. SIZE_BINS - 1): its part of its layer's connections, per ``by``, by
    |trained_R| (ties by order)."""
    keys = [c for c in by if c in table] + ["layer"]
    rank = table.groupby(keys, observed=True, sort=False)["size"].rank(method="first", pct=True)
    return (np.ceil(rank * SIZE_BINS).astype(int) - 1).clip(0, SIZE_BINS - 1)


def matched_weights(table, by=("metric", "round"), strata=BY_LAYER):
    """A weight per row of a connection table: how much the connection counts in the matched comparison.

    Per ``by`` (and seed-pooled) stratum (a layer; or a layer's size stratum, ``BY_SIZE``) with s shared and n
    not-shared connections: a not-shared one weighs s / n, so that the not-shared group has the shared one's mix
    of strata; a shared one weighs 1 where the stratum has not-shared ones, else 0 (nothing to match it with)."""
    keys = [c for c in by if c in table] + list(strata)
    group = table.groupby(keys, observed=True, sort=False)["overlapping"]
    s, total = group.transform("sum").to_numpy(float), group.transform("size").to_numpy(float)
    n = total - s
    return pd.Series(np.where(table["overlapping"], (n > 0).astype(float), s / np.maximum(n, 1)), index=table.index)


def weighted_quantiles(values, weights, qs):
    """The ``qs`` (in percent) of ``values`` where each counts ``weights`` times (the lower one where a quantile
    falls between two); NaN for no weight."""
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    keep = weights > 0
    if not keep.any():
        return [math.nan] * len(qs)
    order = np.argsort(values[keep], kind="stable")
    v, cum = values[keep][order], np.cumsum(weights[keep][order])
    return [float(v[min(np.searchsorted(cum, q / 100 * cum[-1]), len(v) - 1)]) for q in qs]


def _stats(part, weights):
    """A group's numbers: connections, mean and quantiles of std, % flipping sign, mean distance (if recorded)."""
    total = weights.sum()
    mean = lambda c: float((part[c].astype(float) * weights).sum() / total) if total else math.nan  # noqa: E731
    out = dict(connections=len(part), mean_std=mean("std"),
               **{f"std_p{q}": v for q, v in zip(QUANTILES, weighted_quantiles(part["std"], weights, QUANTILES))},
               sign_flip_percent=100 * mean("sign_flip"))
    if "distance" in part:
        out["mean_distance"] = mean("distance")
    return out


def layer_matched(table, by=("metric", "round"), strata=BY_LAYER):
    """Per ``by`` (pooled over seeds), three groups of a connection table's connections: ``shared`` and ``not
    shared`` pooled over layers (the paper's comparison), and ``not shared, layer-matched``: the not-shared ones
    weighted to the shared ones' layer mix (``matched_weights``), which differs from the shared group by being
    shared, not by its layers. Each: connections, mean std and its quantiles (std_p5 ... std_p95), the share that
    flip sign (``sign_flip_percent``) and mean |trained - theta_0| (``mean_distance``, where recorded);
    ``matched_shared_percent``: the share of the shared connections whose layer has not-shared ones to match.
    ``strata=BY_SIZE`` (the table with ``size_bin``): matched on layer and size instead, the shared ones weighted
    alike (only those whose stratum has not-shared ones count)."""
    by = [c for c in by if c in table]
    t = table.assign(weight=matched_weights(table, by, strata))
    rows = []
    for key, d in t.groupby(by, observed=True, sort=False):
        key = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        shared, other = d[d["overlapping"]], d[~d["overlapping"]]
        covered = 100 * _div(float(shared["weight"].sum()), len(shared))
        sized = list(strata) != list(BY_LAYER)  # by size, a shared connection without a match drops out
        for group, part, w in ((SHARED, shared, shared["weight"] if sized else None), (NOT_SHARED, other, None),
                               (MATCHED, other, other["weight"])):
            w = pd.Series(1.0, index=part.index) if w is None else w
            rows.append(dict(key, group=group, **_stats(part, w), matched_shared_percent=covered))
    return pd.DataFrame(rows)


def by_layer(table, by=("metric", "round")):
    """Per ``by`` and layer (pooled over seeds), shared against not-shared connections within the layer: how many
    of each, their mean std, % flipping sign and mean distance (where recorded), ``_shared`` and ``_not_shared``."""
    by = [c for c in by if c in table] + ["depth", "layer"]
    t = table.assign(flip=100 * table["sign_flip"].astype(float))
    values = {"std": "mean_std", "flip": "sign_flip_percent", **({"distance": "mean_distance"} if "distance" in t else {})}
    g = t.groupby(by + ["overlapping"], observed=True, sort=True)
    out = g[list(values)].mean().rename(columns=values).assign(connections=g.size()).unstack("overlapping")
    out.columns = [f"{c}_{'shared' if o else 'not_shared'}" for c, o in out.columns]
    order = [f"{c}_{s}" for c in ("connections", *values.values()) for s in ("shared", "not_shared")]
    out = out.reindex(columns=order)
    out[["connections_shared", "connections_not_shared"]] = out[["connections_shared", "connections_not_shared"]].fillna(0).astype(int)
    return out.reset_index()


def _sized(kept, survived, init):
    """The control for size of one layer of one new ticket: its connections in SIZE_BINS strata by |initial value|
    (tenths of the layer), the redrawn ones' survival rate per stratum weighted to the kept ones' mix of strata.
    Returns (kept connections with a redrawn match in their stratum, how many of them survived, how many would by
    the redrawn ones' rate)."""
    order = init.abs().flatten().argsort(stable=True)
    stratum = torch.empty_like(order)
    stratum[order] = torch.arange(len(order)) * SIZE_BINS // len(order)
    k, s = kept.flatten(), survived.flatten()
    count = lambda x: torch.bincount(stratum[x], minlength=SIZE_BINS).double()  # noqa: E731
    kept_n, survived_n, redrawn_n, redrawn_survived = count(k), count(k & s), count(~k), count(~k & s)
    matched = redrawn_n > 0
    expected = (kept_n * redrawn_survived / redrawn_n.clamp(min=1))[matched].sum().item()
    return int(kept_n[matched].sum()), int(survived_n[matched].sum()), expected


def survival_table(keep, new_masks, init=None):
    """Per metric and layer (and "all"): how many kept connections are still unpruned in the new ticket.

    By chance, a ticket that keeps a share d of a layer keeps each connection with probability d, so
    ``expected`` = kept * d and ``excess`` = survived / expected - 1, in percent (the paper's "+x %"). The kept
    connections carry theta_0, which their tickets selected; with ``init`` ({layer: the new initialisation's
    weights}), the control for that size: against the redrawn connections of the same layer and tenth by |initial
    value| (``_sized``): ``kept_sized`` (the kept ones with a match), ``survived_sized``, ``expected_sized`` and
    ``excess_sized`` (%).
    """
    rows = []
    for metric, mask in new_masks.items():
        per_layer = []
        for depth, (layer, k) in enumerate(keep.items()):
            kept, density = int(k.sum()), mask[layer].float().mean().item()
            row = dict(metric=metric, layer=layer, depth=depth, kept=kept, survived=int((k & mask[layer]).sum()),
                       density=density, expected=kept * density)
            if init is not None:
                row.update(zip(SIZED, _sized(k, mask[layer], init[layer])))
            per_layer.append(row)
        total = dict(metric=metric, layer="all", depth=-1, density=math.nan,
                     **{c: sum(r[c] for r in per_layer) for c in ("kept", "survived", "expected")
                        + (SIZED if init is not None else ())})
        rows += per_layer + [total]
    out = pd.DataFrame(rows)
    out["excess"] = [100 * _div(s, e) - 100 for s, e in zip(out["survived"], out["expected"])]
    if init is not None:
        out["excess_sized"] = [100 * _div(s, e) - 100 for s, e in zip(out["survived_sized"], out["expected_sized"])]
    return out


SIZED = ("kept_sized", "survived_sized", "expected_sized")


# --- Over the runs of a preset (rows of lth.report.analysis.load_runs: setting, importance, seed, path) ---

def by_seed(runs):
    """{seed: {metric: run path}}, after checking that each seed's runs share their dense network."""
    out = {}
    for seed, group in runs.groupby("seed"):
        paths = dict(zip(group["importance"], group["path"]))
        check_same_dense(paths.values())
        out[seed] = paths
    return out


def overlap_over_rounds(runs, rounds):
    """overlap_table of every seed at every round, with seed and round columns."""
    parts = []
    for seed, paths in by_seed(runs).items():
        for r in rounds:
            t = overlap_table({m: load_ticket(p, r)["mask"] for m, p in paths.items()})
            parts.append(t.assign(seed=seed, round=r))
    return pd.concat(parts, ignore_index=True)


def connections_at(runs, round):
    """connection_table of every seed at ``round`` (history of rounds 0..round), with a seed column."""
    parts = []
    for seed, paths in by_seed(runs).items():
        masks = {m: load_ticket(p, round)["mask"] for m, p in paths.items()}
        histories = {m: load_history(p, round) for m, p in paths.items()}
        init = load_file(Path(next(iter(paths.values()))) / store.INIT)
        parts.append(connection_table(histories, masks, init).assign(seed=seed, round=round))
    return pd.concat(parts, ignore_index=True)


def drift_over_rounds(runs, layer, rounds):
    """Figure 3: per seed, metric and round, the mean |trained - theta_0| in ``layer`` of its shared
    and its other unpruned connections (``count``: how many), and the share of the ticket's connections that are
    shared. ``distance_sized``: the control for size (``sized_distance``), the shared connections that have a match
    and the others weighted to their mix of tenths of the layer by |trained|.

    Convention: the distance is from theta_0, the initialisation (the paper's "initial value"), not
    from the rewind point theta_{0,k} that every round starts from; with k = 1000 of 78,200
    iterations they differ little (Table 1's "pretrained" column)."""
    rows = []
    for seed, paths in by_seed(runs).items():
        init = load_file(Path(next(iter(paths.values()))) / store.INIT)[f"{layer}.weight"]
        for r in rounds:
            found = {m: load_ticket(p, r) for m, p in paths.items()}
            shared = intersection([{layer: t["mask"][layer]} for t in found.values()])[layer]
            for m, t in found.items():
                trained, mask = t["trained"][layer], t["mask"][layer]
                distance = (trained - init).abs()
                sized = sized_distance(distance[mask], trained[mask].abs(), shared[mask])
                for overlapping, sel in ((True, shared), (False, mask & ~shared)):
                    rows.append(dict(seed=seed, metric=m, round=r, overlapping=overlapping, count=int(sel.sum()),
                                     distance=distance[sel].double().mean().item() if sel.any() else math.nan,
                                     distance_sized=sized[overlapping],
                                     shared_of_kept=_div(int(shared.sum()), int(mask.sum()))))
    return pd.DataFrame(rows)


def sized_distance(distance, size, shared):
    """One layer's kept connections (1-D ``distance`` from theta_0, ``size`` = |trained|, ``shared`` flags): the mean
    distance of the shared ones and of the others matched on size (``layer_matched`` with ``BY_SIZE``: tenths of
    the layer by size), {True: shared, False: the control}; NaN for a group with nothing to match."""
    t = pd.DataFrame(dict(layer=0, round=0, overlapping=shared.numpy(), size=size.double().numpy(),
                          distance=distance.double().numpy(), std=0.0, sign_flip=False))
    m = layer_matched(t.assign(size_bin=size_bins(t, by=("round",))), by=("round",), strata=BY_SIZE)
    mean = m.set_index("group")["mean_distance"]
    return {True: float(mean[SHARED]), False: float(mean[MATCHED])}


def jaccards(runs, round):
    """jaccard_table of every seed at ``round``, with a seed column."""
    return pd.concat([jaccard_table({m: load_ticket(p, round)["mask"] for m, p in paths.items()}).assign(seed=seed)
                      for seed, paths in by_seed(runs).items()], ignore_index=True)


# --- Summaries over seeds: the tables the notebooks show ---

def _by_depth(table):
    """Rows input to output, then "all" (depth -1)."""
    return table.sort_values("depth", key=lambda d: d.where(d >= 0, float("inf"))).reset_index(drop=True)


def overlap_summary(ov):
    """overlap_table rows of several seeds -> per layer (and "all"): its weights, and the mean over seeds of the
    connections every ticket keeps, as % of all and of a ticket's unpruned ones, chance, and their ratio."""
    cols = ["overlap", "overlap_of_all", "overlap_of_kept", "expected_of_kept", "ratio"]
    table = _by_depth(ov.groupby(["layer", "depth", "weights"], sort=False)[cols].mean().reset_index())
    for c in ("overlap_of_all", "overlap_of_kept", "expected_of_kept"):
        table[c] = 100 * table[c]
    return table.rename(columns={"overlap_of_all": "% of all", "overlap_of_kept": "% of kept",
                                 "expected_of_kept": "chance % of kept", "ratio": "observed / chance"}).round(2)


def jaccard_summary(jac):
    """jaccard_table rows of several seeds -> per pair of metrics, over all layers: mean Jaccard index and chance."""
    return jac[jac.layer == "all"].groupby(["a", "b"])[["jaccard", "expected_jaccard"]].mean().reset_index().round(4)


def survival_summary(survival, min_expected=5):
    """survival_table rows of several ticket seeds, metrics and reinit seeds -> per layer (and "all"): mean kept,
    survived and expected connections, and the excess over chance (%): mean, lowest and highest, and where recorded
    the same over the redrawn connections of the same size (``excess_sized_*``); left blank where fewer than
    ``min_expected`` connections are expected, too few for a percentage to mean anything."""
    sized = "excess_sized" in survival
    table = survival.groupby(["layer", "depth"], sort=False).agg(
        kept=("kept", "mean"), survived=("survived", "mean"), expected=("expected", "mean"),
        excess_mean=("excess", "mean"), excess_min=("excess", "min"), excess_max=("excess", "max"),
        **(dict(expected_sized=("expected_sized", "mean"), excess_sized_mean=("excess_sized", "mean"),
                excess_sized_min=("excess_sized", "min"), excess_sized_max=("excess_sized", "max")) if sized else {})
    ).reset_index()
    excess = ["excess_mean", "excess_min", "excess_max"]
    table[excess] = table[excess].where(table.expected >= min_expected)
    if sized:
        excess = ["excess_sized_mean", "excess_sized_min", "excess_sized_max"]
        table[excess] = table[excess].where(table.expected_sized >= min_expected)
    return _by_depth(table).round(2)
