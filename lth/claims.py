"""docs/paper.md section 4's claims, each computed from a preset's runs: what our runs show, and a verdict.

Each claim is a function of ``Evidence`` (the tables of a preset's runs) that splits the claim into clauses and
returns a line of our numbers and the clauses, each ``HOLDS``, ``FAILS``, ``REVERSED`` (the runs show the opposite)
or ``NOT_SHOWN`` (the preset's settings or sparsities do not reach it). Its docstring is the rule. One rule turns
clauses into a verdict (``verdict``): "reproduced" where every clause that can be shown holds, "contradicted"
where none holds and some is reversed, "not reproduced" where none holds, "partly" otherwise, and "not shown"
where no clause can be shown. The failing clauses are named beside the verdict. A setting without runs of a
metric the claim compares (a preset's ``metrics_of`` runs fewer on some settings) gives a not-shown clause naming
it (``running``), and the line of our numbers says so.

Shared definitions. Accuracies are compared by each metric's paired difference to magnitude, seed by seed (runs of
a seed share theta_0, the data order and round 0; ``analysis.paired_differences``): a metric is *behind* or *ahead*
where the mean difference is beyond ``GAP`` points and every seed agrees in sign, *level* otherwise. Table 2's
rounds are every 5th and the last. A layer is *pruned much less* where it keeps at least ``LESS`` times the
network's density. Numbers are means over seeds unless a range is given.
"""

from functools import cached_property

import numpy as np
import pandas as pd

from lth import analysis, figures, presets, runs as runs_

HOLDS, FAILS, REVERSED, NOT_SHOWN = "holds", "fails", "reversed", "not shown"
GAP, LESS = 1.0, 2.0


class Evidence:
    """The tables the claims read, from the completed runs of ``preset`` under ``runs_dir``, each loaded once."""

    def __init__(self, runs_dir, preset):
        self.runs_dir, self.preset = runs_dir, preset

    @cached_property
    def runs(self):
        return analysis.load_runs(figures._dir(self.runs_dir), self.preset)

    @cached_property
    def acc(self):
        return analysis.accuracy(self.runs)

    @cached_property
    def metrics(self):
        return set(self.acc.importance)

    @cached_property
    def metrics_of(self):
        """{setting: the metrics it has runs of} (a preset's ``metrics_of`` may run fewer on some settings)."""
        return {s: set(g.importance) for s, g in self.acc.groupby("setting", sort=False)}

    @cached_property
    def layers(self):
        return analysis.layer_density_table(self.runs)

    @cached_property
    def collapse(self):
        return analysis.collapse(self.runs)

    @cached_property
    def roles(self):
        """{setting: the roles its model declares for its layers (``analysis.recorded_roles``)}."""
        return {s: analysis.recorded_roles(g.path.iloc[0]) for s, g in self.runs.groupby("setting", sort=False)}

    @cached_property
    def names(self):
        return {s: figures.setting_name(self.preset, s) for s in presets.check(self.preset)["settings"]}

    @cached_property
    def short(self):
        """{setting: its model's name for a reader ("ResNet-8-16"); the setting's full name where two share a model}."""
        model = {s: presets.check(self.preset)["settings"][s]["model"] for s in self.names}
        unique = len(set(model.values())) == len(model)
        return {s: figures.NAMES.get(m, m) if unique else self.names[s] for s, m in model.items()}

    @cached_property
    def ticket_setting(self):
        return presets.TICKETS[self.preset]["setting"]

    @cached_property
    def overlap_by_round(self):
        """Figure 7's: per seed and round, all layers and the followed ones."""
        return figures.figure7(self.runs_dir, self.preset).overlap

    @cached_property
    def overlap_by_layer(self):
        """Section 5's overlap table at its round: every layer, and "all"."""
        return figures.overlap(self.runs_dir, self.preset).table

    @cached_property
    def connections(self):
        return figures.connections(self.runs_dir, self.preset)

    @cached_property
    def drift(self):
        return figures.figure3(self.runs_dir, self.preset).drift

    @cached_property
    def survival(self):
        return analysis.reinit_results(figures._dir(self.runs_dir), self.preset)

    @cached_property
    def ranges(self):
        """Per followed layer (role) and stage: the mean over the magnitude runs of its weights' max - min."""
        rows = []
        magnitude = runs_.groups(self.preset)["magnitude"]  # only these: Table 1's notebook needs no other run
        for r in analysis.load_runs(figures._dir(self.runs_dir), self.preset, magnitude).itertuples():
            w = analysis.weight_ranges(r.path)
            for role, layer in analysis.followed_layers(r.path).items():
                rows.append(w[w.layer == layer].assign(setting=r.setting, role=role))
        df = pd.concat(rows).assign(width=lambda d: d["max"] - d["min"])
        return df.groupby(["setting", "role", "layer", "stage"], sort=False).width.mean().unstack("stage").reset_index()


# --- Helpers ---

def _is_lenet(setting_or_model):
    return "lenet" in setting_or_model


def _rounds(acc, setting, metric):
    """Table 2's rounds (every 5th, and the last) at which ``metric`` has runs in ``setting``, round 0 left out."""
    rs = sorted(set(acc[(acc.setting == setting) & (acc.importance == metric)]["round"]))
    return [r for r in rs if r > 0 and (r % 5 == 0 or r == rs[-1])]


def gaps(acc):
    """``analysis.paired_differences`` with ``gap``: "behind", "ahead" or "level" (module docstring)."""
    d = analysis.paired_differences(acc)
    real = (d["mean"].abs() > GAP) & (d.agree == d.seeds)
    return d.assign(gap=np.where(real, np.where(d["mean"] < 0, "behind", "ahead"), "level"))


def _pair(row):
    return f"{row['mean']:+.2f} [{row['min']:+.2f}, {row['max']:+.2f}] {row.agree}/{row.seeds}"


def _at(g, setting, metric, round):
    return g[(g.setting == setting) & (g.importance == metric) & (g["round"] == round)].iloc[0]


def _final_layers(e, setting):
    """Per layer of ``setting``'s last ticket (its last round; metrics that stop earlier are left out): the
    mean density (%) over seeds by metric, and the network's density (%)."""
    ld = e.layers[e.layers.setting == setting]
    final = ld[ld["round"] == ld["round"].max()].assign(density=lambda d: 100 - d.layer_sparsity)
    return (final.pivot_table(index=["layer", "depth"], columns="importance", values="density").reset_index(),
            100 - final.sparsity.mean())


def _metrics(df):
    return [m for m in presets.PAPER_METRICS if m in set(df)]


def needs(*metrics):
    """The metrics a claim is about: where the runs lack one (``METRICS=...`` leaves it out), it is not shown."""
    def mark(claim):
        claim.needs = metrics
        return claim
    return mark


def running(e, settings, metrics):
    """Of ``settings``, those with runs of every one of ``metrics``; and a not-shown clause for each other one,
    naming what it lacks (the rehearsal runs magnitude alone on VGG-16, say)."""
    shown, clauses = [], []
    for s in settings:
        if lacking := presets.ordered(set(metrics) - e.metrics_of.get(s, set())):
            clauses.append((f"{e.short[s]}: no runs of {', '.join(lacking)} (preset={e.preset} does not run them "
                            "there)", NOT_SHOWN))
        else:
            shown.append(s)
    return shown, clauses


def _line(parts, unit=""):
    return "; ".join(parts) + unit if parts else ""


def judge(e, claim):
    """``claim(e)``: a line of our numbers, then what cannot be shown, and the clauses; where the runs lack a metric
    the claim is about, a line naming it and no clause."""
    left_out = set(getattr(claim, "needs", ())) - set(presets.metrics(e.preset))
    if absent := [m for m in getattr(claim, "needs", ()) if m in left_out and m not in e.metrics]:
        return f"no runs of {', '.join(absent)} (METRICS leaves them out)", []
    ours, clauses = claim(e)
    lacking = [text for text, s in clauses if s == NOT_SHOWN and ": no runs of " in text]
    return _line(([ours] if ours else []) + [f"not shown: {t}" for t in lacking]), clauses


# --- The claims, in docs/paper.md's order ---

def table1_ranges(e):
    """Table 1: the weights' range (max - min) grows with training: each followed layer's range trained is wider
    than at initialisation (holds; narrower: reversed), mean over the magnitude runs."""
    clauses, parts = [], []
    for r in e.ranges.itertuples():
        ok = HOLDS if r.trained > r.init else REVERSED
        clauses.append((f"{e.short[r.setting]} {r.role} ({r.layer})", ok))
        parts.append(f"{e.short[r.setting] + ' ' if r.role == 'input' else ''}{r.role} {r.init:.2f} -> {r.trained:.2f}")
    return "; ".join(parts) + " (max - min, at init -> trained)", clauses


@needs("l1", "l2")
def equal_accuracy(e):
    """Table 2, Figure 4: magnitude, l1 and l2 are about equal: at each Table 2 round of each setting, l1 and l2 are
    level with magnitude (holds), or behind or ahead of it (reversed)."""
    settings, clauses = running(e, e.names, ("magnitude", "l1", "l2"))
    g, parts = gaps(e.acc), []
    for setting in settings:
        for m in ("l1", "l2"):
            rounds = _rounds(e.acc, setting, m)
            for r in rounds:
                row = _at(g, setting, m, r)
                clauses.append((f"{m} on {e.short[setting]} at round {r}: {row.gap}",
                                HOLDS if row.gap == "level" else REVERSED))
        parts.append(f"{e.short[setting]} round {rounds[-1]}: " + ", ".join(
            f"{m} {_pair(_at(g, setting, m, rounds[-1]))}" for m in ("l1", "l2")))
    return _line(parts, " (points vs magnitude: mean [range over seeds] seeds agreeing)"), clauses


def _minmax_softmax(e, settings, early):
    settings, clauses = running(e, settings, ("magnitude", "minmax", "softmax"))
    g, parts = gaps(e.acc), []
    for setting in settings:
        for m in ("minmax", "softmax"):
            rounds = _rounds(e.acc, setting, m)
            first, last = _at(g, setting, m, rounds[0]), _at(g, setting, m, rounds[-1])
            if early:
                clauses.append((f"{m} keeps up on {e.short[setting]} at round {rounds[0]}: {first.gap}",
                                FAILS if first.gap == "behind" else HOLDS))
                clauses.append((f"{m} behind on {e.short[setting]} at round {rounds[-1]}: {last.gap}",
                                {"behind": HOLDS, "ahead": REVERSED}.get(last.gap, FAILS)))
            else:
                clauses.append((f"{m} not behind on {e.short[setting]} at round {rounds[-1]}: {last.gap}",
                                REVERSED if last.gap == "behind" else HOLDS))
            parts.append(f"{e.short[setting]} {m}: round {rounds[0]} {_pair(first)}, round {rounds[-1]} {_pair(last)}")
    return _line(parts, " (points vs magnitude)"), clauses


@needs("minmax", "softmax")
def fall_behind(e):
    """Table 2, Figure 4: minmax and softmax keep up early and fall behind late: in each setting but LeNet, each is
    not behind magnitude at the first Table 2 round (holds; behind: fails) and behind it at the last (holds; ahead:
    reversed; level: fails)."""
    settings = [s for s in e.names if not _is_lenet(s)]
    return _minmax_softmax(e, settings, early=True) if settings else ("no setting but LeNet", [])


@needs("minmax", "softmax")
def lenet_exception(e):
    """Table 2, Figure 4: ... except on LeNet: on each LeNet setting, minmax and softmax are not behind magnitude at
    the last round (holds; behind: reversed)."""
    settings = [s for s in e.names if _is_lenet(s)]
    return _minmax_softmax(e, settings, early=False) if settings else ("no LeNet setting", [])


@needs("l1", "l2", "minmax", "softmax")
def layer_collapse(e):
    """Section 3.1.3: magnitude collapses a layer in every VGG and ResNet run, in ResNets a 1x1 shortcut; softmax
    collapses too; the importance metrics help avoid it. Clauses, per setting but LeNet: every magnitude run
    collapses (holds; some or none: fails); where the model has 1x1 shortcuts, each collapsing magnitude run's first
    collapsed layers include one (not shown without a collapse); some softmax run collapses; l1, l2 and minmax each
    collapse in fewer runs than magnitude (holds; more: reversed; as many: fails; neither any: not shown)."""
    settings, clauses = running(e, [s for s in e.names if not _is_lenet(s)], ("magnitude", "l1", "l2", "minmax",
                                                                           "softmax"))
    parts = []
    for setting in settings:
        c, name, sc = e.collapse[e.collapse.setting == setting], e.short[setting], e.roles[setting]["shortcuts"]
        n = c.groupby("importance", sort=False).first_collapse_round.count()
        mag = c[c.importance == "magnitude"]
        clauses.append((f"every magnitude run collapses on {name}: {n['magnitude']} of {len(mag)}",
                        HOLDS if n["magnitude"] == len(mag) else FAILS))
        if sc:
            first = [set(x.split(", ")) & set(sc) for x in mag.collapsed_layers if x]
            clauses.append((f"magnitude collapses a 1x1 shortcut first on {name}",
                            (HOLDS if all(first) else FAILS) if first else NOT_SHOWN))
        clauses.append((f"some softmax run collapses on {name}", HOLDS if n["softmax"] else FAILS))
        for m in ("l1", "l2", "minmax"):
            state = (NOT_SHOWN if n[m] == n["magnitude"] == 0 else HOLDS if n[m] < n["magnitude"] else
                     REVERSED if n[m] > n["magnitude"] else FAILS)
            clauses.append((f"{m} collapses less than magnitude on {name}: {n[m]} vs {n['magnitude']} runs", state))
        last = e.acc[e.acc.setting == setting].sparsity.max()
        parts.append(f"{name}, by {last:.2f} % sparsity: runs collapsed "
                     + ", ".join(f"{m} {k}/{(c.importance == m).sum()}" for m, k in n.items())
                     + f"; magnitude's sparsest layer {mag.sparsest_layer_density.min():.3g} % dense")
    return "; ".join(parts), clauses


def pruned_less(e):
    """Figures 2, 8-10: input and output layers, and ResNet 1x1 convs except under magnitude, are pruned much less.
    Clauses, per setting and paper metric in the last ticket: the input layer, the output layer (unless kept
    dense) and, but for magnitude, each 1x1 shortcut keep at least LESS times the network's density (holds; less
    than the network's: reversed; else fails); magnitude keeps each shortcut sparser than every other paper metric
    does (holds; denser than every other: reversed; else fails)."""
    clauses, parts = [], []
    for setting, roles in e.roles.items():
        table, dens = _final_layers(e, setting)
        d, metrics = table.set_index("layer"), _metrics(table)
        layers = [("input", roles["input"]), ("output", roles["output"])] + [("1x1", s) for s in roles["shortcuts"]]
        shown = []
        for role, layer in [(r, x) for r, x in layers if x not in roles["dense"]]:
            for m in metrics:
                v = d.loc[layer, m]
                if role == "1x1" and m == "magnitude":
                    others = [d.loc[layer, o] for o in metrics if o != m]
                    state = (NOT_SHOWN if not others else HOLDS if v < min(others) else REVERSED if v > max(others)
                             else FAILS)
                    clauses.append((f"magnitude prunes {layer} on {e.short[setting]} more than the others", state))
                else:
                    state = HOLDS if v >= LESS * dens else REVERSED if v < dens else FAILS
                    clauses.append((f"{m} keeps {v:.3g} % of {layer} on {e.short[setting]}", state))
            shown.append(f"{role if role != '1x1' else layer} " + " / ".join(f"{d.loc[layer, m]:.3g}" for m in metrics))
        parts.append(f"{e.short[setting]} ({' / '.join(metrics)}, % dense; network {dens:.3g} %): " + ", ".join(shown))
    return "; ".join(parts), clauses


def deeper_faster(e):
    """Figure 8: deeper layers are pruned faster: per setting with at least 3 hidden layers (neither input nor
    output nor a 1x1 shortcut nor kept dense) and paper metric, the rank correlation of depth and sparsity over
    those layers in the last ticket is positive (holds; negative: reversed; zero: fails)."""
    clauses, parts = [], []
    for setting, roles in e.roles.items():
        table, _ = _final_layers(e, setting)
        hidden = table[~table.layer.isin([roles["input"], roles["output"], *roles["shortcuts"], *roles["dense"]])]
        if len(hidden) < 3:
            clauses.append((f"{e.short[setting]}: {len(hidden)} hidden layers", NOT_SHOWN))
            continue
        # Spearman's rho: the Pearson correlation of ranks (sparsity ranks = density ranks reversed)
        rho = {m: hidden.depth.rank().corr(hidden[m].rank(ascending=False)) for m in _metrics(hidden)}
        clauses += [(f"{m} on {e.short[setting]}: rho {r:+.2f}", HOLDS if r > 0 else REVERSED if r < 0 else FAILS)
                    for m, r in rho.items()]
        parts.append(f"{e.short[setting]}, rank correlation of depth and sparsity over {len(hidden)} layers: "
                     + ", ".join(f"{m} {r:+.2f}" for m, r in rho.items()))
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
def softmax_spiky(e):
    """Figures 2, 9, 10: softmax is spiky: in each setting, every softmax run has a layer that stays unpruned for at
    least 2 rounds, then loses more than a round's pruning fraction (20 %) of its weights in one round (holds; some
    runs: fails; none: fails). Layers kept dense are left out; the other metrics' counts are given for contrast."""
    settings, clauses = running(e, e.roles, ("softmax",))
    parts = []
    for setting in settings:
        roles = e.roles[setting]
        ld = e.layers[(e.layers.setting == setting) & ~e.layers.layer.isin(roles["dense"])]
        s = _spikes(ld, figures._fraction(e.preset, setting)).groupby(level=0, sort=False).agg(["sum", "size"])
        k, n = s.loc["softmax"]
        clauses.append((f"softmax spiky on {e.short[setting]} in {k} of {n} runs", HOLDS if k == n else FAILS))
        counts = ", ".join(f"{m} {a}/{b}" for m, (a, b) in s.iterrows())
        parts.append(f"{e.short[setting]}, runs with a spike: {counts}")
    return "; ".join(parts), clauses


@needs("minmax")
def minmax_tracks(e):
    """Figures 2, 8-10: minmax tracks the global sparsity best: per setting, minmax has the smallest mean over
    rounds, seeds and pruned layers of |log10(layer density / network density)| of the paper metrics (holds;
    the largest: reversed; else fails). A log ratio, so that 1 % against 0.5 % counts as much as 50 % against 25 %."""
    settings, clauses = running(e, e.roles, ("magnitude", "minmax"))  # minmax beside another metric at least
    parts = []
    for setting in settings:
        roles = e.roles[setting]
        ld = e.layers[(e.layers.setting == setting) & (e.layers["round"] > 0) & ~e.layers.layer.isin(roles["dense"])]
        ld = ld[ld.importance.isin(presets.PAPER_METRICS)]
        off = (np.log10((100 - ld.layer_sparsity).clip(lower=1e-3) / (100 - ld.sparsity))).abs()
        score = off.groupby(ld.importance).mean().sort_values()
        state = HOLDS if score.index[0] == "minmax" else REVERSED if score.index[-1] == "minmax" else FAILS
        clauses.append((f"minmax closest on {e.short[setting]} (ranks {list(score.index).index('minmax') + 1})", state))
        parts.append(f"{e.short[setting]}, mean abs(log10 layer density / network density): "
                     + ", ".join(f"{m} {v:.2f}" for m, v in score.items()))
    return "; ".join(parts), clauses


def shared_few(e):
    """Section 5: the tickets of magnitude, l1 and l2 share few connections (9.34 % of the unpruned ones), most in
    the first conv layer and the classifier. Clauses at Section 5's round: under half of a ticket's unpruned
    connections are shared (holds; else fails); the input layer and the output layer each rank among the two
    layers with the largest shared share (holds; in the lower half: reversed; else fails)."""
    t = presets.TICKETS[e.preset]
    ov = e.overlap_by_layer.set_index("layer").rename(columns={"% of kept": "observed", "chance % of kept": "chance"})
    roles, layers = e.roles[e.ticket_setting], ov.drop("all").observed.sort_values(ascending=False)
    clauses = [(f"{ov.observed['all']:.1f} % of kept shared", HOLDS if ov.observed["all"] < 50 else FAILS)]
    ranks = []
    for role in ("input", "output"):
        rank = list(layers.index).index(roles[role]) + 1
        ranks.append(f"{role} {layers[roles[role]]:.1f} % (rank {rank} of {len(layers)})")
        state = HOLDS if rank <= 2 else REVERSED if rank > len(layers) / 2 else FAILS
        clauses.append((f"{role} layer ranks {rank}", state))
    top = ", ".join(f"{x} {v:.1f} %" for x, v in layers.head(3).items())
    return (f"round {t['round']}: {ov.observed['all']:.1f} % of kept shared (chance {ov.chance['all']:.1f} %); "
            f"{'; '.join(ranks)}; most: {top}"), clauses


def overlap_over_rounds(e):
    """Figure 7 (the paper shows it without a claim; our reading): the share of a ticket's unpruned connections that
    every ticket keeps falls from round 1 to the last (holds; rises: reversed) and stays above chance at every
    round (holds; else fails), over all layers, mean over seeds."""
    ov = e.overlap_by_round[(e.overlap_by_round.layer == "all") & (e.overlap_by_round["round"] > 0)]
    ov = ov.groupby("round")[["observed", "chance"]].mean()
    first, last = ov.iloc[0], ov.iloc[-1]
    clauses = [("falls", HOLDS if last.observed < first.observed else REVERSED),
               ("above chance", HOLDS if (ov.observed > ov.chance).all() else FAILS)]
    picks = ov.iloc[[0, len(ov) // 2, -1]]
    return ", ".join(f"round {r} {o:.1f} % (chance {c:.1f} %)" for r, (o, c) in picks.iterrows()), clauses


def _groups(c, column, label, digits):
    """Per metric and round of the connection table ``c``: the mean of ``column`` over shared and over not-shared
    connections, pooled over seeds; a clause per metric and round that the shared mean is the lower."""
    g = c.groupby(["metric", "round", "connections"], observed=True, sort=False)[column].mean().unstack("connections")
    pair = lambda row: f"{row['shared']:.{digits}f} vs {row['not shared']:.{digits}f}"  # noqa: E731
    clauses = [(f"{m} round {r}: {pair(row)}", HOLDS if row["shared"] < row["not shared"] else
                REVERSED if row["shared"] > row["not shared"] else FAILS) for (m, r), row in g.iterrows()]
    last = g.index.get_level_values("round").max()
    return (f"round {last}, {label} shared vs not: "
            + ", ".join(f"{m} {pair(row)}" for m, row in g.xs(last, level="round").iterrows())), clauses


def shared_vary_less(e):
    """Figures 1, 5: shared connections' trained values vary less over the rounds: per metric and round of the
    connection table (R/3, 2R/3, R of Section 5), their mean standard deviation is below the not-shared
    connections' (holds; above: reversed), pooled over seeds."""
    return _groups(e.connections, "std", "mean std", 3)


def shared_flip_less(e):
    """Figures 1, 6: shared connections flip sign less: per metric and round of the connection table, the share of
    them that flip sign is below the not-shared connections' (holds; above: reversed; equal: fails)."""
    return _groups(e.connections.assign(flip=lambda d: 100 * d.sign_flip.astype(float)), "flip", "% flipping", 2)


def shared_move_further(e):
    """Figure 3: in the first conv layer, shared connections move further from theta_0 than the others: per metric,
    the seed-mean distance of the shared is above the others' in at least 3/4 of the rounds (holds; in at most 1/4:
    reversed; else fails). The fewest not-shared connections a round rests on is given."""
    d = e.drift.groupby(["metric", "round", "connections"], sort=False).agg(distance=("distance", "mean"),
                                                                             count=("count", "min"))
    wide = d.distance.unstack("connections").dropna()  # rounds where a group has no connection say nothing
    ahead = (wide["shared"] > wide["not shared"]).groupby(level="metric", sort=False).mean()
    fewest = d["count"].xs("not shared", level="connections").groupby(level="metric", sort=False).min()
    clauses = [(f"{m}: shared further in {100 * a:.0f} % of rounds", HOLDS if a >= 0.75 else REVERSED if a <= 0.25
                else FAILS) for m, a in ahead.items()]
    return ("shared further from theta_0 in " + ", ".join(f"{m} {100 * a:.0f} %" for m, a in ahead.items())
            + " of rounds; fewest not-shared connections in a round: "
            + ", ".join(f"{m} {n}" for m, n in fewest.items())), clauses


def survive_reinit(e):
    """Section 5.1: connections kept from theta_0 survive in the new tickets more than chance, the first conv
    layer's (+8.5 to +70 %) and the classifier's (+440 to +480 %) most, the 1x1 convs' (-3.2 to +20 %) least.
    Clauses over every metric and reinit seed: the excess over all layers, in the input layer and in the output
    layer is positive in every one (holds; negative in every one: reversed; else fails); the output layer has the
    largest mean excess of the layers (holds; else fails); every 1x1 shortcut's mean excess is below the input
    layer's (holds; else fails). Layers with fewer than 5 expected survivors are left out."""
    roles = e.roles[e.ticket_setting]
    s = e.survival[e.survival.expected >= 5]
    by = s.groupby("layer", sort=False).excess
    lo, hi, mean = by.min(), by.max(), by.mean()
    clauses = []
    for name, layer in (("all layers", "all"), ("input", roles["input"]), ("output", roles["output"])):
        state = (NOT_SHOWN if layer not in mean else HOLDS if lo[layer] > 0 else REVERSED if hi[layer] < 0 else FAILS)
        clauses.append((f"{name} above chance", state))
    layers = mean.drop("all", errors="ignore")
    clauses.append(("output layer's excess the largest", HOLDS if layers.idxmax() == roles["output"] else FAILS))
    shortcuts = [x for x in roles["shortcuts"] if x in mean]
    if shortcuts and roles["input"] in mean:
        clauses.append(("1x1 shortcuts' excess below the input layer's",
                        HOLDS if all(mean[x] < mean[roles["input"]] for x in shortcuts) else FAILS))
    show = [("all", "all"), ("input", roles["input"]), ("output", roles["output"])] + [(x, x) for x in shortcuts]
    return ("excess over chance, mean [min, max]: " + ", ".join(
        f"{n} {mean[x]:+.0f} % [{lo[x]:+.0f}, {hi[x]:+.0f}]" for n, x in show if x in mean)), clauses


# (claim, the paper's numbers, function): the rows of claims.md, in docs/paper.md's order.
CLAIMS = [
    ("Table 1: weight ranges grow with training", "ResNet-18: Conv1 [-0.47, 0.41] -> [-1.07, 0.90], FC [-0.30, 0.27]"
     " -> [-0.45, 1.19]", table1_ranges),
    ("magnitude, l1 and l2 about equal (Table 2, Figure 4)", "ResNet-20 round 30: 45.66, 45.36, 43.65; LeNet round 24: "
     "90.62, 90.89, 91.05", equal_accuracy),
    ("minmax and softmax keep up early, fall behind late", "ResNet-20 round 10: minmax 90.51, softmax 87.75 "
     "(magnitude 90.90); round 30: 31.50, 38.42 (45.66)", fall_behind),
    ("... except on LeNet", "LeNet round 24: minmax 91.82, softmax 91.29 (magnitude 90.62)", lenet_exception),
    ("layer collapse under magnitude (a 1x1 shortcut in ResNets), softmax too; importance metrics help avoid it",
     "in every VGG and ResNet magnitude run; VGG-16 at 10.00 % by round 35", layer_collapse),
    ("input, output and 1x1 layers pruned much less (1x1: except under magnitude)", "Figures 2, 8-10", pruned_less),
    ("deeper layers pruned faster", "Figure 8", deeper_faster),
    ("softmax is spiky", "Figures 2, 9, 10", softmax_spiky),
    ("minmax tracks the global sparsity best", "Figures 2, 8-10", minmax_tracks),
    ("Section 5: few connections shared, first conv and classifier most", "ResNet-18 at 96.48 %: 0.33 % of all, "
     "9.34 % of kept; first conv 68.78 %", shared_few),
    ("Figure 7: shared share over the rounds", "Figure 7 (no claim stated)", overlap_over_rounds),
    ("Figures 1, 5: shared connections vary less", "Figures 1, 5", shared_vary_less),
    ("Figures 1, 6: shared connections flip sign less", "Figures 1, 6", shared_flip_less),
    ("Figure 3: shared connections move further from theta_0 (first conv)", "Figure 3", shared_move_further),
    ("Section 5.1: kept connections survive more than chance", "first conv +8.5 to +70 %, classifier +440 to +480 %, "
     "1x1 convs -3.2 to +20 %", survive_reinit),
]


def verdict(clauses):
    """The verdict of a claim's clauses (module docstring), and the clauses that do not hold."""
    shown = [(text, s) for text, s in clauses if s != NOT_SHOWN]
    held = [s == HOLDS for _, s in shown]
    if not shown:
        v = "not shown"
    elif all(held):
        v = "reproduced"
    elif not any(held):
        v = "contradicted" if any(s == REVERSED for _, s in shown) else "not reproduced"
    else:
        v = "partly"
    return v, [f"{text} ({s})" for text, s in shown if s != HOLDS]


def evaluate(runs_dir, preset):
    """One row per claim: the claim, the paper's numbers, ours, the verdict, and the clauses that do not hold."""
    e, rows = Evidence(runs_dir, preset), []
    for claim, paper, function in CLAIMS:
        ours, clauses = judge(e, function)
        v, failing = verdict(clauses)
        held = sum(s == HOLDS for _, s in clauses)
        shown = sum(s != NOT_SHOWN for _, s in clauses)
        rows.append(dict(claim=claim, paper=paper, ours=ours, verdict=f"{v} ({held} of {shown} clauses)",
                         **{"clauses that do not hold": "; ".join(failing)}))
    return pd.DataFrame(rows)


def title(preset):
    """claims.md's title: the preset and its settings, seeds and last rounds."""
    p = presets.check(preset)
    settings = ", ".join(f"{figures.setting_name(preset, s)} to round {c['rounds']}" for s, c in p["settings"].items())
    cut = "".join(f"; {m} to round {r}" for m, r in p.get("rounds_of", {}).items())
    chosen = presets.metrics(preset)
    cut += f"; METRICS: {', '.join(chosen)} only" if chosen != p["metrics"] else ""
    return (f"The paper's claims on the {preset} preset ({settings}{cut}; seeds {', '.join(map(str, p['seeds']))}), "
            "computed by lth/claims.py")
