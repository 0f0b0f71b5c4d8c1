"""The paper's claims on several tickets from one initialisation (Section 5, 5.1; Figures 1, 3, 5-7), judged from
a preset's runs by the rules of lth/report/claims.py's docstring."""

import numpy as np
import pandas as pd

from lth import presets
from lth.report import published, section5
from lth.report.stats import FAILS, MIN_CONNECTIONS, NOT_JUDGED, REVERSED, SIGN_TEST, rule, sign_test


# Section 5 at 96.48 % sparsity (round 15): the three tickets share 9.34 % of a ticket's unpruned connections,
# 0.33 % of all; "few" here: at most FEW times the paper's share of the unpruned ones.
PAPER_SHARED_OF_KEPT, PAPER_SHARED_OF_ALL, FEW = 9.34, 0.33, 2.0


def _ticket_round(e):
    return f"round {e.ticket_round} of {e.short[e.ticket_setting]}"


@rule(SIGN_TEST + " (per seed: the share against FEW x 9.34 %; a layer's rank by raw share)",
      _ticket_round)
def shared_few(e):
    """Section 5: the tickets of magnitude, l1 and l2 share few connections (9.34 % of the unpruned ones, 0.33 % of
    all), most in the first conv layer and the classifier. Clauses at Section 5's round, each a sign test over
    seeds: the share of a ticket's unpruned connections that all share is at most FEW times the paper's 9.34 % in
    every seed (holds; above in every seed: fails); the input layer and the output layer each rank among the two
    layers with the largest raw share in every seed (holds; in the lower half in every seed: reversed), as the
    paper ranks them. Their rank by observed / chance (the share over what tickets of the same per-layer sizes
    share by chance) is given beside it, not judged: a layer's observed / chance is at most 1 / chance, so that
    ranking follows the layers' densities. Layers with fewer than MIN_CONNECTIONS unpruned connections are not
    ranked, and a role layer among them is not judged. False "holds": 2^-n (a rank in the top two: (2/L)^n for L
    layers alike)."""
    ov = e.overlap_by_layer.assign(kept=lambda d: d.filter(like="kept_").mean(axis=1),
                                   share=lambda d: 100 * d.overlap_of_kept, of_all=lambda d: 100 * d.overlap_of_all)
    total = ov[ov.layer == "all"].set_index("seed")
    state, why = sign_test(total.share <= FEW * PAPER_SHARED_OF_KEPT, total.share > FEW * PAPER_SHARED_OF_KEPT)
    clauses = [(f"{total.share.mean():.1f} % of kept shared (paper {PAPER_SHARED_OF_KEPT} %)"
                + (f"; {why}" if why else ""), FAILS if state == REVERSED else state)]
    roles, layers = e.roles[e.ticket_setting], ov[(ov.layer != "all") & (ov.kept >= MIN_CONNECTIONS)]
    ranks = {}
    for col, label in (("share", "share"), ("ratio", "observed / chance")):
        rank = layers.groupby("seed")[col].rank(ascending=False)
        n = layers.groupby("seed").layer.transform("size")
        for role in ("input", "output"):
            mine = layers.layer == roles[role]
            kept = ov[ov.layer == roles[role]].kept.mean()
            if not mine.any():
                clauses.append((f"{role} layer's rank by {label}: {kept:.0f} unpruned connections (needs "
                                f"{MIN_CONNECTIONS})", NOT_JUDGED))
                continue
            ranks[(role, col)] = f"rank {rank[mine].mean():.1f} of {int(n[mine].iloc[0])}"
            if col == "share":  # the paper's ranking; observed / chance ranks by density too (at most 1 / chance)
                st, why = sign_test(rank[mine] <= 2, rank[mine] > n[mine] / 2)
                clauses.append((f"{role} layer ranks {rank[mine].mean():.1f} by {label}" + (f"; {why}" if why else ""),
                                st))
    mean = ov.groupby("layer", sort=False)[["share", "ratio", "kept"]].mean()
    role_parts = [f"{role} {mean.share[roles[role]]:.1f} % ({ranks.get((role, 'share'), 'not ranked')}), "
                  f"{mean.ratio[roles[role]]:.2f}x chance ({ranks.get((role, 'ratio'), 'not ranked')})"
                  for role in ("input", "output")]
    top = mean.drop("all")
    top = top[top.kept >= MIN_CONNECTIONS].sort_values("share", ascending=False).head(3)
    paper_ratio = PAPER_SHARED_OF_KEPT / (100 * (1 - published.PAPER_FRACTION) ** (2 * 15))
    return (f"round {e.ticket_round}: {total.share.mean():.1f} % of kept, {total.of_all.mean():.2f} % of all shared "
            f"({total.ratio.mean():.1f}x chance; paper at round 15: {PAPER_SHARED_OF_KEPT} %, {PAPER_SHARED_OF_ALL} "
            f"%, about {paper_ratio:.0f}x chance at one density in every layer); {'; '.join(role_parts)}; most: "
            + ", ".join(f"{x} {v:.1f} %" for x, v in top.share.items())), clauses


@rule(SIGN_TEST + " (per seed: the share at the last round against round 1, and against chance)",
      lambda e: f"rounds 1-{int(e.overlap_by_round['round'].max())} of {e.short[e.ticket_setting]}")
def shared_over_rounds(e):
    """Figure 7 (the paper shows it without a claim; our reading): the share of a ticket's unpruned connections that
    every ticket keeps, over all layers: lower at the last round than at round 1 in every seed (holds; higher in
    every seed: reversed); above chance at every round in every seed (holds; below at some round in every seed:
    reversed). False "holds": 2^-n."""
    ov = e.overlap_by_round[(e.overlap_by_round.layer == "all") & (e.overlap_by_round["round"] > 0)]
    by = ov.pivot_table(index="seed", columns="round", values="observed")
    first, last = by.iloc[:, 0], by.iloc[:, -1]
    above = (ov.observed > ov.chance).groupby(ov.seed).all()
    below = (ov.observed < ov.chance).groupby(ov.seed).any()
    clauses = [(f"falls{'; ' + w if w else ''}", s) for s, w in [sign_test(last < first, last > first)]]
    clauses += [(f"above chance{'; ' + w if w else ''}", s) for s, w in [sign_test(above, below)]]
    mean = ov.groupby("round")[["observed", "chance"]].mean()
    picks = mean.iloc[[0, len(mean) // 2, -1]]
    return ", ".join(f"round {r} {o:.1f} % (chance {c:.1f} %)" for r, (o, c) in picks.iterrows()), clauses


def matched_by_seed(c):
    """Per metric, round and seed of the connection table ``c``: its shared connections against its not-shared ones
    weighted to their layer mix (``section5.layer_matched``'s "shared" and "not shared, layer-matched": columns
    ``<quantity>_shared`` and ``<quantity>_matched``), and against them weighted to their mix of layer and size
    (the control for size, ``section5.BY_SIZE``: ``<quantity>_sized`` for the shared ones that have a match and
    ``<quantity>_control``), over the layers where that seed has at least MIN_CONNECTIONS connections in each
    group (counted by ``section5.by_layer``); the others are left out, and a seed with no such layer has no row.
    Columns: metric, round, seed, ``layers`` (how many layers it compares), then per quantity (mean_std,
    sign_flip_percent, mean_distance where recorded) those four."""
    keys = [k for k in ("metric", "round", "seed") if k in c]
    layers = section5.by_layer(c, by=keys)
    enough = (layers.connections_shared >= MIN_CONNECTIONS) & (layers.connections_not_shared >= MIN_CONNECTIONS)
    count = enough.rename("layers").groupby([layers[k] for k in keys], observed=True).sum()
    picked = pd.MultiIndex.from_frame(c[keys + ["layer"]]).isin(layers[enough].set_index(keys + ["layer"]).index)
    quantities = ["mean_std", "sign_flip_percent"] + (["mean_distance"] if "distance" in c else [])
    columns = [f"{q}_{g}" for q in quantities for g in ("shared", "matched", "sized", "control")]
    chosen = c[picked].assign(size_bin=lambda t: section5.size_bins(t, keys))
    parts = {}
    for strata, (shared, matched) in ((section5.BY_LAYER, ("shared", "matched")),
                                      (section5.BY_SIZE, ("sized", "control"))):
        m = section5.layer_matched(chosen, by=keys, strata=strata)
        if m.empty:
            return pd.DataFrame(columns=[*keys, "layers", *columns])
        for group, name in ((section5.SHARED, shared), (section5.MATCHED, matched)):
            parts[name] = m[m.group == group].set_index(keys)[quantities].add_suffix(f"_{name}")
    out = pd.concat(parts.values(), axis=1)[columns]
    return count.to_frame().join(out, how="inner").reset_index()


def _pooled(c, quantity):
    """Per metric at the connection table's last round, pooled over seeds and layers (the paper's comparison):
    ``quantity`` (a ``section5.layer_matched`` column) of the shared and of the not-shared connections."""
    last = c[c["round"] == c["round"].max()]
    g = section5.layer_matched(last, by=("metric",)).set_index(["metric", "group"])[quantity]
    return {m: (g.get((m, section5.SHARED), np.nan), g.get((m, section5.NOT_SHARED), np.nan))
            for m in presets.ordered(last.metric.astype(str).unique())}


def _span(x):
    lo, hi = int(x.min()), int(x.max())
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _layer_matched(c, quantity, label, fmt):
    """Per metric and round of the connection table ``c``: the sign test over seeds on ``quantity`` of the shared
    connections against the not-shared ones matched on layer and size (``matched_by_seed``'s control): the shared
    lower in every seed holds, higher in every seed reversed. The line gives the last round's numbers against the
    control, layer-matched only and, for reference, pooled over layers."""
    per_seed, layers = matched_by_seed(c), c.groupby("layer", observed=True).ngroups
    pair = lambda a, b: f"{fmt.format(a)} vs {fmt.format(b)}"  # noqa: E731
    seeds = f"seeds with a layer of {MIN_CONNECTIONS}+ connections in each group"
    clauses = []
    for (m, r), _ in c.groupby(["metric", "round"], observed=True, sort=False):
        x = per_seed[(per_seed.metric == m) & (per_seed["round"] == r)]
        a, b = x[f"{quantity}_sized"].astype(float), x[f"{quantity}_control"].astype(float)
        tie = np.isclose(a, b, rtol=1e-9, atol=1e-12)  # equal but for rounding (the weights s / n): neither side
        lower, higher = (a < b) & ~tie, (a > b) & ~tie
        state, why = sign_test(lower, higher, seeds)
        over = (f" matched on size over {_span(x.layers)} of {layers} layers (layer-matched only: "
                f"{pair(x[f'{quantity}_shared'].mean(), x[f'{quantity}_matched'].mean())})" if len(x) else "")
        clauses.append((f"{m} round {r}: " + (pair(a.mean(), b.mean()) if len(x) else "") + over
                        + (f"; {why}" if why else ""), state))
    last = c["round"].max()
    x = per_seed[per_seed["round"] == last].groupby("metric", observed=True)
    mean = x[[f"{quantity}_{g}" for g in ("sized", "control", "shared", "matched")]].mean()
    parts = [f"{m} " + (f"{pair(*mean.loc[m].iloc[:2])} matched on size, {pair(*mean.loc[m].iloc[2:])} "
                        f"layer-matched, over {_span(x.get_group(m).layers)} layers" if m in mean.index
                        else "no layer") + f" (pooled {pair(*p)})" for m, p in _pooled(c, quantity).items()]
    return (f"round {last}, {label} shared vs not shared matched on layer and |w| (what decides: the control for "
            f"size, in the layers with {MIN_CONNECTIONS}+ of each in a seed, of {layers}; layer-matched only and "
            "pooled over every layer for reference): " + ", ".join(parts)), clauses


def _connection_rounds(e):
    return (f"rounds {', '.join(map(str, sorted(e.connections['round'].unique())))} of {e.short[e.ticket_setting]}, "
            f"matched on layer and |w| in the layers with {MIN_CONNECTIONS}+ shared and not-shared connections")


LAYER_MATCHED = ("per seed: the shared connections' {} against the not-shared ones' weighted to the shared ones' "
                 f"mix of layer and |w| (tenths of the layer), over the layers with {MIN_CONNECTIONS}+ of each")


@rule(SIGN_TEST + f" ({LAYER_MATCHED.format('mean std')})", _connection_rounds)
def shared_vary_less(e):
    """Figures 1, 5: shared connections' trained values vary less over the rounds: per metric and round of the
    connection table (R/3, 2R/3, R of Section 5), the sign test over seeds on the shared connections' mean standard
    deviation against the not-shared ones' matched on layer and size (``matched_by_seed``'s control: weighted to
    the shared ones' mix of layer and tenth of the layer by |w|, over the layers where the seed has at least
    MIN_CONNECTIONS of each). Magnitude, l1 and l2 all keep a layer's largest |w|, so their tickets nest and the
    shared connections are the largest, which vary less for that alone; matched on size, a difference is one of
    sharing. Below in every seed holds, above in every seed reversed, 2^-n each under no difference within layer
    and size. A seed with no such layer is left out. Layer-matched and pooled numbers (the paper's comparison,
    which mixes "shared" with "which layer" and "how large") are given beside them."""
    return _layer_matched(e.connections, "mean_std", "mean std", "{:#.3g}")


@rule(SIGN_TEST + f" ({LAYER_MATCHED.format('share of sign flips')})", _connection_rounds)
def shared_flip_less(e):
    """Figures 1, 6: shared connections flip sign less: per metric and round of the connection table, the sign test
    over seeds on the share of shared connections that flip sign against the not-shared ones' matched on layer and
    size (as ``shared_vary_less``: large weights rarely flip sign, and the shared ones are the largest): below in
    every seed holds, above in every seed reversed, 2^-n each under no difference within layer and size (a seed
    where both are equal, as both 0 %, agrees with neither). Layer-matched and pooled numbers beside them."""
    return _layer_matched(e.connections, "sign_flip_percent", "% flipping", "{:.2f}")


@rule(SIGN_TEST + " (per seed: shared minus not-shared distance in the first conv, one layer, matched on |w|, mean "
      "over the rounds with 30+ of each)",
      lambda e: f"rounds 1-{int(e.drift['round'].max())} with {MIN_CONNECTIONS}+ connections in each group")
def shared_move_further(e):
    """Figure 3: in the first conv layer, shared connections move further from theta_0 than the others: per metric,
    the sign test over seeds on the mean over rounds of the shared connections' mean distance minus the others'
    matched on size (``section5.sized_distance``: tenths of the layer by |w|; magnitude, l1 and l2 keep the largest
    |w|, which are further from theta_0 for that alone), over the rounds where each group has at least
    MIN_CONNECTIONS connections (further in every seed: holds; closer in every seed: reversed; 2^-n each). A seed
    with no such round is left out. The unmatched gap (the paper's comparison) stands beside it. Figure 1's distance
    (every layer, Section 5's round), which bears on the same claim, is given beside it against the control for
    size (``matched_by_seed``, with the seeds where the shared are further) and pooled; the claim, as the paper
    states it, is the first conv's, so Figure 1's does not decide."""
    d = e.drift.pivot_table(index=["metric", "seed", "round"], columns="connections",
                            values=["distance", "distance_sized", "count"])
    d = d[(d["count"] >= MIN_CONNECTIONS).all(axis=1)]
    def per_seed(column):  # shared minus not shared, mean over a seed's rounds
        gap = (d[column, "shared"] - d[column, "not shared"]).dropna()
        return gap.groupby(level=["metric", "seed"], sort=False).mean()

    gap, raw = per_seed("distance_sized"), per_seed("distance")
    fewest = e.drift[~e.drift.overlapping].groupby("metric", sort=False)["count"].agg(["min", "max"])
    metrics = presets.ordered(e.drift.metric.unique())
    clauses = []
    for m in metrics:
        g = gap[m] if m in gap.index.get_level_values("metric") else pd.Series(dtype=float)
        state, why = sign_test(g > 0, g < 0, f"seeds with {MIN_CONNECTIONS}+ connections in each group")
        by = f" by {g.mean():+.3f} matched on |w|" if len(g) else ""
        clauses.append((f"{m}: shared further{by} (not shared: {fewest['min'][m]}-{fewest['max'][m]} connections)"
                        + (f"; {why}" if why else ""), state))
    c = e.connections
    last = c[c["round"] == c["round"].max()]
    fig1 = matched_by_seed(last).groupby("metric", observed=True)
    further = fig1.apply(lambda x: f"{x.mean_distance_sized.mean():#.3g} vs {x.mean_distance_control.mean():#.3g}, "
                                   f"{(x.mean_distance_sized > x.mean_distance_control).sum()}/{len(x)} seeds "
                                   "further", include_groups=False)
    def at(v, m):
        return f"{v[m].mean():+.3f}" if m in v.index.get_level_values("metric") else "-"

    return ("decided in the first conv (one layer), shared minus not-shared distance from theta_0 matched on |w| "
            "(unmatched): " + ", ".join(f"{m} {at(gap, m)} ({at(raw, m)})" for m in metrics)
            + "; not-shared connections per seed and round: "
            + ", ".join(f"{m} {r['min']}-{r['max']}" for m, r in fewest.iterrows())
            + f"; Figure 1 (every layer, round {c['round'].max()}; not judged) mean distance shared vs not shared "
              f"matched on layer and |w| ({MIN_CONNECTIONS}+ of each): "
            + ", ".join(f"{m} {further.get(m, 'no layer')} (pooled {a:#.3g} vs {b:#.3g})"
                        for m, (a, b) in _pooled(c, "mean_distance").items())), clauses


@rule("sign test over the ticket seeds reinitialised (each its own theta_0: a seed's value is the mean over its "
      "metrics and reinit seeds), every one of n >= 5 agreeing, false 'holds' 1/32 (n = 5); layers compared by their "
      "excess over its ceiling", _ticket_round)
def survive_reinit(e):
    """Section 5.1: connections kept from theta_0 survive in the new tickets more than chance, the first conv
    layer's (+8.5 to +70 %) and the classifier's (+440 to +480 %) most, the 1x1 convs' (-3.2 to +20 %) least.
    Clauses over the ticket seeds reinitialised (``reinit_tickets``), each a sign test over them (at least
    MIN_SEEDS): a seed's value is the mean over its metrics and reinit seeds, since those share its theta_0, data
    order and tickets, and only seeds are independent replicates. The excess over all layers, in the input layer and
    in the output layer is positive in every seed (holds; negative in every one: reversed), against chance and
    against the control for size: the kept connections carry the theta_0 their tickets selected, so each is
    compared with the redrawn connections of its layer and tenth by |initial value| (``section5.survival_table``'s
    ``excess_sized``: what decides; the excess over chance beside it). Layers are compared by
    what their density allows: a layer's excess cannot pass its ceiling, kept / expected - 1 = 1 / density - 1
    (every kept connection surviving), so a layer 75 % dense is capped at +33 % and one 5 % dense at +1900 %; each
    comparison is of the excess as a share of the ceiling (raw numbers beside it): the output layer's the largest
    in every seed (holds; another layer's in every one: fails); every 1x1 shortcut's below the input layer's in
    every seed (holds; above in every one: reversed). Layers with fewer than 5 expected survivors are left out.
    False "holds": 2^-n with n seeds (1/32 with 5)."""
    roles = e.roles[e.ticket_setting]
    s = e.survival[e.survival.expected >= 5]
    s = s.assign(of_ceiling=s.excess / (100 * (s.kept / s.expected - 1)))
    by, share = (s.pivot_table(index="seed", columns="layer", values=v) for v in ("excess", "of_ceiling"))
    sized = (s[s.expected_sized >= 5].pivot_table(index="seed", columns="layer", values="excess_sized")
             if "excess_sized" in s else pd.DataFrame())
    clauses = []
    for name, layer in (("all layers", "all"), ("input", roles["input"]), ("output", roles["output"])):
        if layer not in sized:
            st, why = NOT_JUDGED, ("too few expected" if "excess_sized" in s else
                                   "no size control in these reinitialisations' survival.csv: run them again")
        else:
            st, why = sign_test(sized[layer] > 0, sized[layer] < 0, "ticket seeds")
        clauses.append((f"{name} above the redrawn connections of its size" + (f"; {why}" if why else ""), st))
    layers = share.drop(columns="all", errors="ignore")
    if roles["output"] in layers:
        largest = layers.idxmax(axis=1)
        st, why = sign_test(largest == roles["output"], largest != roles["output"], "ticket seeds")
        clauses.append((f"output layer's excess the largest of its ceiling (the largest: "
                        f"{', '.join(largest.value_counts().index)})" + (f"; {why}" if why else ""),
                        FAILS if st == REVERSED else st))
    shortcuts = [x for x in roles["shortcuts"] if x in by]
    if shortcuts and roles["input"] in by:
        below = (share[shortcuts].max(axis=1) < share[roles["input"]])
        above = (share[shortcuts].min(axis=1) > share[roles["input"]])
        st, why = sign_test(below, above, "ticket seeds")
        clauses.append(("1x1 shortcuts' excess below the input layer's, of their ceilings" + (f"; {why}" if why else ""),
                        st))
    show = [("all", "all"), ("input", roles["input"]), ("output", roles["output"])] + [(x, x) for x in shortcuts]
    values = s.pivot_table(index=["seed", "metric", "reinit_seed"], columns="layer", values="excess")
    control = "; over the redrawn connections of the same size (what decides): " + ", ".join(
        f"{n} {sized[x].mean():+.0f} % [{sized[x].min():+.0f}, {sized[x].max():+.0f}]" for n, x in show
        if x in sized) if len(sized) else ""
    return (f"excess over chance, mean [min, max] over {len(values)} values from {len(by)} ticket "
            f"seed{'s' if len(by) > 1 else ''} (mean over seeds), and of its ceiling: " + ", ".join(
                f"{n} {values[x].mean():+.0f} % [{values[x].min():+.0f}, {values[x].max():+.0f}] ({share[x].mean():.2f})"
                for n, x in show if x in by) + control), clauses
