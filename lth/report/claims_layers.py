"""The paper's layerwise claims (Figures 2, 8-10: which layers each metric prunes, how fast), judged from a preset's
runs by the rules of lth/report/claims.py's docstring."""

import numpy as np
import pandas as pd

from lth import presets
from lth.report.stats import (FAILS, MIN_SEEDS, NOT_JUDGED, NOT_SHOWN, REVERSED, SIGN_TEST, needs, rule, running,
                              sign_test)


LESS = 2.0  # a layer is "pruned much less" where it keeps at least LESS times the other pruned layers' density


def _paper_metrics(df):
    return [m for m in presets.PAPER_METRICS if m in set(df)]


def _last_ticket(e, setting):
    """Per seed, metric and layer of ``setting``'s last ticket (its last round; metrics that stop earlier are
    left out): the layer's density and the network's (%)."""
    ld = e.layers[e.layers.setting == setting]
    return ld[ld["round"] == ld["round"].max()].assign(density=lambda d: 100 - d.layer_sparsity,
                                                          network=lambda d: 100 - d.sparsity)


def _last_round(e, setting=None):
    ld = e.layers if setting is None else e.layers[e.layers.setting == setting]
    return ", ".join(f"{e.short[s]} {int(g['round'].max())}" for s, g in ld.groupby("setting", sort=False))


def _others(dens, sizes, layer, dense):
    """Per seed (rows) and metric (columns): the density (%) of the pruned layers but ``layer``, pooled by their
    weights (``sizes``); never the network's, which counts the weights kept dense that no metric can prune."""
    others = [x for x in sizes if x != layer and x not in dense]
    w = pd.Series({x: sizes[x] for x in others})
    kept = dens.loc[others].mul(w, level="layer", axis=0).groupby(level="seed").sum()
    return kept / w.sum()


@rule(SIGN_TEST + " (a layer's density against the other pruned layers' in the last ticket)", _last_round)
def pruned_less(e):
    """Figures 2, 8-10: input and output layers, and ResNet 1x1 convs except under magnitude, are pruned much less.
    Clauses, per setting and paper metric in the last ticket, each a sign test over seeds: the input layer, the
    output layer (unless kept dense) and, but for magnitude, each 1x1 shortcut keep at least LESS times the density
    of the other pruned layers (pooled by weights; layers kept dense left out, as no metric can prune them) in every
    seed (holds), less than theirs in every seed (reversed), between in every seed (fails); magnitude keeps each
    shortcut sparser than every other paper metric in every seed (holds; denser than every other in every seed:
    reversed). False "holds": 2^-n where the median is at the bound."""
    clauses, parts = [], []
    for setting, roles in e.roles.items():
        last = _last_ticket(e, setting)
        dens = last.pivot_table(index=["layer", "seed"], columns="importance", values="density")
        metrics = _paper_metrics(dens)
        layers = [("input", roles["input"]), ("output", roles["output"])] + [("1x1", s) for s in roles["shortcuts"]]
        shown = []
        for role, layer in [(r, x) for r, x in layers if x not in roles["dense"]]:
            d, others = dens.loc[layer], _others(dens, e.sizes[setting], layer, roles["dense"])
            for m in metrics:
                if role == "1x1" and m == "magnitude":
                    rest = [o for o in metrics if o != m]
                    state, why = (sign_test(d[m] < d[rest].min(axis=1), d[m] > d[rest].max(axis=1)) if rest
                                  else (NOT_JUDGED, "no other metric"))
                    clauses.append((f"magnitude prunes {layer} on {e.short[setting]} more than the others"
                                    + (f": {why}" if why else ""), state))
                else:
                    v, n = d[m], others[m].reindex(d.index)
                    state, why = sign_test(v >= LESS * n, v < n)
                    if state == NOT_SHOWN and len(v) >= MIN_SEEDS and ((v >= n) & (v < LESS * n)).all():
                        state, why = FAILS, ""
                    clauses.append((f"{m} keeps {v.mean():.3g} % of {layer} on {e.short[setting]} (the other pruned "
                                    f"layers {n.mean():.3g} %)" + (f": {why}" if why else ""), state))
            shown.append(f"{role if role != '1x1' else layer} " + " / ".join(
                f"{d[m].mean():.3g} vs {others[m].mean():.3g}" for m in metrics))
        parts.append(f"{e.short[setting]} ({' / '.join(metrics)}, % dense, the layer vs the other pruned layers; "
                     f"network {last.network.mean():.3g} %): " + ", ".join(shown))
    return "; ".join(parts), clauses


@rule(SIGN_TEST + " (Spearman's rho of depth and sparsity over the hidden layers, per seed)", _last_round)
def deeper_faster(e):
    """Figure 8: deeper layers are pruned faster: per setting with at least 3 hidden layers (neither input nor
    output nor a 1x1 shortcut nor kept dense) and paper metric, the sign test on each seed's rank correlation of
    depth and sparsity over those layers in the last ticket: positive in every seed holds, negative in every seed
    reversed (2^-n each under no relation); a seed whose hidden layers all keep one density has no correlation,
    and the clause is not shown, saying so."""
    clauses, parts = [], []
    for setting, roles in e.roles.items():
        last = _last_ticket(e, setting)
        hidden = last[~last.layer.isin([roles["input"], roles["output"], *roles["shortcuts"], *roles["dense"]])]
        n_layers = hidden.layer.nunique()
        if n_layers < 3:
            clauses.append((f"{e.short[setting]} has {n_layers} hidden layers (needs 3)", NOT_JUDGED))
            continue
        means = []
        for m in _paper_metrics(set(hidden.importance)):
            # Spearman's rho per seed: the Pearson correlation of ranks (sparsity ranks = density ranks reversed)
            rho = hidden[hidden.importance == m].groupby("seed").apply(
                lambda g: g.depth.rank().corr(g.density.rank(ascending=False)), include_groups=False)
            if rho.isna().any():
                clauses.append((f"{m} on {e.short[setting]}: no correlation in {rho.isna().sum()} of {len(rho)} "
                                "seeds (every hidden layer at one density)", NOT_JUDGED))
                means.append(f"{m} none")
                continue
            state, why = sign_test(rho > 0, rho < 0)
            clauses.append((f"{m} on {e.short[setting]}: rho {rho.mean():+.2f}" + (f"; {why}" if why else ""), state))
            means.append(f"{m} {rho.mean():+.2f} [{rho.min():+.2f}, {rho.max():+.2f}]")
        parts.append(f"{e.short[setting]}, rank correlation of depth and sparsity over {n_layers} layers: "
                     + ", ".join(means))
    return "; ".join(parts), clauses


def _spikes(ld, fraction):
    """Per run: whether some layer stays unpruned for at least 2 rounds and then loses more than the pruning
    fraction of its remaining weights in one round."""
    out = {}
    for key, run in ld.groupby(["importance", "seed"], sort=False):
        out[key] = False
        for _, layer in run.groupby("layer", sort=False):
            dens = (100 - layer.sort_values("round").layer_sparsity).to_numpy()
            flat = 0
            for before, after in zip(dens[:-1], dens[1:]):
                if flat >= 2 and after < before * (1 - fraction):
                    out[key] = True
                flat = flat + 1 if after == before else 0
    return pd.Series(out)


@needs("softmax")
@rule("a count: every one of n >= 5 softmax runs spiky; a property half the runs have shows in all of them {one} "
      "(n = {n})", lambda e: "every round")
def softmax_spiky(e):
    """Figures 2, 9, 10: softmax is spiky: in each setting, every softmax run has a layer that stays unpruned for at
    least 2 rounds, then loses more than a round's pruning fraction (20 %) of its weights in one round: holds where
    all of at least MIN_SEEDS runs do, fails where none does, else not shown (a sign test: 2^-n where half the
    runs would). Layers kept dense are left out; the other metrics' counts are given for contrast."""
    settings, clauses = running(e, e.roles, ("softmax",))
    parts = []
    for setting in settings:
        roles = e.roles[setting]
        ld = e.layers[(e.layers.setting == setting) & ~e.layers.layer.isin(roles["dense"])]
        spiky = _spikes(ld, e.settings[setting]["prune_fraction"])
        soft = spiky.loc["softmax"].to_numpy()
        state, why = sign_test(soft, ~soft, "softmax runs")
        clauses.append((f"softmax spiky on {e.short[setting]} in {soft.sum()} of {len(soft)} runs"
                        + (f"; {why}" if len(soft) < MIN_SEEDS else ""), FAILS if state == REVERSED else state))
        counts = ", ".join(f"{m} {a}/{b}" for m, (a, b) in spiky.groupby(level=0, sort=False).agg(["sum", "size"])
                           .iterrows())
        parts.append(f"{e.short[setting]}, runs with a spike: {counts}")
    return "; ".join(parts), clauses


@needs("minmax")
@rule(SIGN_TEST + " (minmax the closest of the paper metrics in a seed)", lambda e: "every round")
def minmax_tracks(e):
    """Figures 2, 8-10: minmax tracks the global sparsity best: per setting and seed, the mean over rounds and
    pruned layers of |log10(layer density / network density)| of each paper metric; minmax the smallest in every
    seed holds, the largest in every seed reversed (with M metrics alike, (1/M)^n, at most 2^-n). A log ratio, so
    that 1 % against 0.5 % counts as much as 50 % against 25 %."""
    settings, clauses = running(e, e.roles, ("magnitude", "minmax"))  # minmax beside another metric at least
    parts = []
    for setting in settings:
        roles = e.roles[setting]
        ld = e.layers[(e.layers.setting == setting) & (e.layers["round"] > 0) & ~e.layers.layer.isin(roles["dense"])]
        ld = ld[ld.importance.isin(presets.PAPER_METRICS)]
        off = (np.log10((100 - ld.layer_sparsity).clip(lower=1e-3) / (100 - ld.sparsity))).abs()
        per_seed = off.groupby([ld.importance, ld.seed]).mean().unstack("importance")
        state, why = sign_test(per_seed.idxmin(axis=1) == "minmax", per_seed.idxmax(axis=1) == "minmax")
        score = per_seed.mean().sort_values()
        clauses.append((f"minmax closest on {e.short[setting]} (ranks {list(score.index).index('minmax') + 1} on "
                        "the mean)" + (f"; {why}" if why else ""), state))
        parts.append(f"{e.short[setting]}, mean abs(log10 layer density / network density): "
                     + ", ".join(f"{m} {v:.2f}" for m, v in score.items()))
    return "; ".join(parts), clauses
