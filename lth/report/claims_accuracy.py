"""The paper's accuracy claims (Table 1, Table 2, Figure 4, layer collapse), judged from a preset's runs by the rules of
lth/report/claims.py's docstring."""

import math

import numpy as np
import pandas as pd

from lth import presets
from lth.report import analysis, evidence, published
from lth.report.stats import (CHANCE_POINTS, FAILS, GAP, HOLDS, MIN_SEEDS, NOT_JUDGED, SIGN_TEST, at_chance, direction,
                              gap_points, joined, level, needs, rule, running, sign_test)


def _picked(e, which):
    """Our settings that stand for a paper setting (``published.paper_setting``): "all", "lenet" or "not lenet"."""
    paper = {s: published.paper_setting(e.settings[s]["model"]) for s in e.names}
    return [s for s in e.names if paper[s] and (which == "all" or (which == "lenet") == published.is_lenet(paper[s]))]


def _effect(d, name, paper_round, paper_gap, config):
    """One ``effects`` row's numbers: the paper's gap at ``paper_round`` against ours (``d``: the setting's paired
    differences of one metric) at the round of its sparsity."""
    r, gap = published.our_round(paper_round, config["prune_fraction"]), gap_points(config)
    expected = "level" if abs(paper_gap) <= GAP else "ahead" if paper_gap > 0 else "behind"
    row = dict(round=r, sparsity_pct=100 * (1 - (1 - published.PAPER_FRACTION) ** paper_round), paper_gap_points=paper_gap,
               expected=expected, gap_points=gap)
    at, last = d[d["round"] == r], int(d["round"].max())
    if not len(at):
        return dict(row, seeds=0, seeds_agreeing=0, seeds_at_chance=0, outcome=NOT_JUDGED,
                    why=f"round {paper_round} not reached ({name} stops at round {last})")
    # a pair of runs both at chance has no gap: nothing learns
    stopped = at_chance(at.test_accuracy, config["dataset"]) & at_chance(at.test_accuracy - at.difference, config["dataset"])
    x, row["seeds_at_chance"] = at[~stopped].difference.to_numpy(), int(stopped.sum())
    if not len(x):
        return dict(row, seeds=0, seeds_agreeing=0, outcome=NOT_JUDGED,
                    why=f"at chance: both runs within {CHANCE_POINTS:g} points of chance in every seed")
    sign = np.sign(paper_gap)
    state, why = level(x, gap) if expected == "level" else direction(x, sign, gap)
    agreeing = (np.abs(x) < gap).sum() if expected == "level" else (sign * x > 0).sum()
    why = "; ".join(w for w in (why, f"{int(stopped.sum())} seeds at chance left out" if stopped.any() else "") if w)
    return dict(row, our_gap_points=x.mean(), our_low_points=x.min(), our_high_points=x.max(), seeds=len(x),
                seeds_agreeing=int(agreeing), outcome=state, why=why)


def effects(e):
    """One row per (claim, setting, metric, round) where the paper gives a number (Table 2), with its outcome:
    the rows the accuracy claims are judged from, and the results-at-a-glance figure's points.

    Columns: claim (``published.EFFECTS``' key), setting, paper_setting, metric, paper_round, round (ours, of the same
    sparsity), sparsity_pct (the paper round's), paper_gap_points (the paper's metric minus its magnitude),
    expected ("ahead", "behind" or "level": beyond GAP or not), gap_points (our least real gap,
    ``gap_points``), our_gap_points (mean over seeds of the paired difference), our_low_points and
    our_high_points (lowest and highest seed), seeds_agreeing (seeds with the paper's sign; for "level", within
    +-gap_points), seeds, outcome (holds / reversed / fails / not shown, by ``direction`` or ``level``) and
    why (where not shown). A paper round our setting does not reach has no numbers of ours."""
    paper, rows = published.table2().set_index(["setting", "round"]), []
    diffs = analysis.differences(e.acc)
    for claim, (metrics, which, rounds) in published.EFFECTS.items():
        for s in _picked(e, which):
            p, config = published.paper_setting(e.settings[s]["model"]), e.settings[s]
            for m in [m for m in metrics if {m, "magnitude"} <= e.metrics_of.get(s, set())]:  # ``running``: others
                d = diffs[(diffs.setting == s) & (diffs.importance == m)]
                for pr in published.rounds_of(p, rounds):
                    gap = paper.loc[(p, pr), m] - paper.loc[(p, pr), "magnitude"]
                    rows.append(dict(claim=claim, setting=s, paper_setting=p, metric=m, paper_round=pr,
                                     **_effect(d, e.short[s], pr, gap, config)))
    columns = ["claim", "setting", "paper_setting", "metric", "paper_round", "round", "sparsity_pct",
               "paper_gap_points", "expected", "gap_points", "our_gap_points", "our_low_points", "our_high_points",
               "seeds_agreeing", "seeds", "seeds_at_chance", "outcome", "why"]
    return pd.DataFrame(rows, columns=columns)


def _effect_claim(e, claim, metrics, settings):
    """An accuracy claim from its ``effects`` rows: a clause per row, and our numbers beside the paper's."""
    clauses = running(e, settings, ("magnitude", *metrics))[1]  # the rows leave out what a setting lacks
    rows = effects(e).query("claim == @claim")
    parts, late = [], False
    for s, g in rows.groupby("setting", sort=False):
        cells = []
        for r in g.itertuples():
            paper = f"paper {r.paper_gap_points:+.2f} ({r.expected})"
            if r.seeds:
                ours = (f"{r.our_gap_points:+.2f} [{r.our_low_points:+.2f}, {r.our_high_points:+.2f}] "
                        f"{r.seeds_agreeing}/{r.seeds}")
                cells.append(f"round {r.round} {r.metric} {ours} vs {paper}")
            elif r.seeds_at_chance:  # no gap between runs that have stopped learning
                cells.append(f"round {r.round} {r.metric} at chance vs {paper}")
            text = f"{r.metric} on {e.short[s]} at round {r.round}: {paper}" + (f"; {r.why}" if r.why else "")
            clauses.append((text, r.outcome))
        if cells:
            parts.append(f"{e.short[s]} ({published.paper_setting(e.settings[s]['model'])}): " + ", ".join(cells))
        else:  # no paper round reached: our last round, for a reader
            late = True
            acc = e.acc[(e.acc.setting == s) & e.acc.importance.isin(("magnitude", *metrics))]
            last_round = acc[acc["round"] == acc["round"].max()]
            d = analysis.paired_differences(last_round)
            stopped = _at_chance(last_round, e.settings[s])
            parts.append(f"{e.short[s]} round {d['round'].max()}: " + ", ".join(
                f"{r.importance} at chance" if stopped else
                f"{r.importance} {r.mean:+.2f} [{r.min:+.2f}, {r.max:+.2f}] {r.agree}/{r.seeds}"
                for r in d.itertuples()) + " (its last round, before the paper's)")
    agreeing = "with the paper" + ("; at a last round before the paper's, with the mean" if late else "")
    return joined(parts, f" (points vs magnitude: mean [lowest, highest seed] seeds agreeing {agreeing})"), clauses


def _at_chance(acc, config):
    """Whether every run of ``acc`` (one setting's, at one round) is within ``CHANCE_POINTS`` of chance."""
    return bool(at_chance(acc.test_accuracy, config["dataset"]).all())


def _effect_rounds(e, claim):
    rows = effects(e).query("claim == @claim")
    judged = rows[rows.seeds > 0].groupby("setting", sort=False)["round"].unique()
    out = [f"{e.short[s]} {', '.join(map(str, sorted(rs)))}" for s, rs in judged.items()]
    stopped = rows[(rows.seeds == 0) & (rows.seeds_at_chance > 0)].groupby("setting", sort=False)["round"].unique()
    out += [f"{e.short[s]} {', '.join(map(str, sorted(rs)))} (at chance)" for s, rs in stopped.items()]
    missed = rows[(rows.seeds == 0) & (rows.seeds_at_chance == 0)].groupby("setting", sort=False).paper_round.unique()
    out += [f"{e.short[s]}: paper's {', '.join(map(str, sorted(rs)))} not reached" for s, rs in missed.items()]
    return "; ".join(out) or "none"


@rule(SIGN_TEST + " (the range trained minus at init, per magnitude run)", lambda e: "round 0 (trained) against init")
def table1_ranges(e):
    """Table 1: the weights' range (max - min) grows with training: per followed layer, the sign test on each
    magnitude run's range trained minus at initialisation: wider in every seed holds, narrower in every seed
    reversed (false positives 2^-n each under no change)."""
    clauses, parts = [], []
    for (setting, role, layer), g in e.ranges.groupby(["setting", "role", "layer"], sort=False):
        grow = (g.trained - g.init).to_numpy()
        state, why = sign_test(grow > 0, grow < 0)
        clauses.append((f"{e.short[setting]} {role} ({layer})" + (f": {why}" if why else ""), state))
        parts.append(f"{e.short[setting] + ' ' if role == 'input' else ''}{role} {g.init.mean():.2f} -> "
                     f"{g.trained.mean():.2f} ({(grow > 0).sum()}/{len(grow)} seeds wider)")
    return "; ".join(parts) + " (max - min, at init -> trained)", clauses


EFFECT_TEST = ("paired sign test on the difference to magnitude against the setting's noise (1 point on 10,000 test "
               "images): a paper gap beyond 1 point: every one of n >= 5 seeds beyond the noise with its sign, false "
               "'holds' {one}, false 'reversed' {one} (n = {n}); 'about equal' (paper gap within 1 point): every "
               "seed within +-the noise, false 'holds' at most {one}; fails: every seed beyond it on one side")


@needs("l1", "l2")
@rule(EFFECT_TEST, lambda e: _effect_rounds(e, "equal"))
def equal_accuracy(e):
    """Table 2, Figure 4: magnitude, l1 and l2 are about equal: at each late Table 2 round of the paper's setting
    (module docstring), l1's and l2's paired difference to magnitude against the paper's: "about equal" where
    the paper's gap is within GAP (``level``), the paper's direction where it is beyond (``direction``: VGG-16's
    l1 and l2 are 32 points ahead at round 30, where magnitude collapses). False positives: 2^-n."""
    return _effect_claim(e, "equal", ("l1", "l2"), _picked(e, "all"))


@needs("minmax", "softmax")
@rule(EFFECT_TEST, lambda e: _effect_rounds(e, "behind"))
def fall_behind(e):
    """Table 2, Figure 4: minmax and softmax keep up early and fall behind late: in each setting but LeNet, at each
    Table 2 round of the paper's setting (the first: keeping up; the others: falling behind), minmax's and
    softmax's paired difference to magnitude against the paper's there (``level`` or ``direction``; the paper
    has softmax 3.15 points behind already at ResNet-20's round 10, and 0.70 at round 20). False positives: 2^-n."""
    settings = _picked(e, "not lenet")
    return _effect_claim(e, "behind", ("minmax", "softmax"), settings) if settings else ("no setting but LeNet", [])


@needs("minmax", "softmax")
@rule(EFFECT_TEST, lambda e: _effect_rounds(e, "lenet"))
def lenet_exception(e):
    """Table 2, Figure 4: ... except on LeNet: on each LeNet setting, at the paper's late round (24), minmax's and
    softmax's paired difference to magnitude against the paper's (minmax +1.20 ahead; softmax +0.67, about
    equal). False positives: 2^-n."""
    settings = _picked(e, "lenet")
    return _effect_claim(e, "lenet", ("minmax", "softmax"), settings) if settings else ("no LeNet setting", [])


def _collapsed_by(c, metric, r):
    """Per seed: whether ``metric``'s run has collapsed a layer by round ``r``."""
    runs = c[c.importance == metric].set_index("seed").first_collapse_round
    return runs.notna() & (runs.fillna(math.inf) <= r)


def _collapse_rounds(e):
    out = []
    for s in _picked(e, "not lenet"):
        p, config = published.paper_setting(e.settings[s]["model"]), e.settings[s]
        last = int(e.acc[e.acc.setting == s]["round"].max())
        rs = [(pr, published.our_round(pr, config["prune_fraction"])) for pr in
              published.rounds_of(p, "late") + [presets.PAPER[p]["rounds"]]]
        out.append(f"{e.short[s]} " + ", ".join(str(r) if r <= last else f"{pr} not reached" for pr, r in
                                                dict(rs).items()))
    return "; ".join(out) or "none"


@rule("paired sign test on the seeds where exactly one of magnitude and l1 (l2) has collapsed by the round: "
      "n >= 5 of them all magnitude's, false 'holds' {one} (n = {n}) under no effect; counts of every run (every "
      "magnitude run, some softmax run, a shortcut first): no chance model, and at least 5 runs",
      _collapse_rounds)
def layer_collapse(e):
    """Section 3.1.3, Table 2: magnitude collapses a layer in every VGG and ResNet run (in ResNets a 1x1 shortcut);
    softmax collapses too; l1 and l2 help avoid it (VGG-16 at round 30: l1 and l2 83.70 and 84.03 %, magnitude
    51.53 +- 36 %; at round 35 magnitude 10.00 %). Clauses, per setting but LeNet:
    - at each late Table 2 round of the paper's setting that we reach, l1 (l2) collapses in fewer runs than
      magnitude: the sign test on the seeds where exactly one of the two has collapsed (holds: at least
      MIN_SEEDS such seeds, all magnitude's; reversed: all the other's; else not shown), 2^-n under no effect;
    - by the paper's last round (VGG-16 35, the ResNets 40), every magnitude run collapses and some softmax run
      does (counts over at least MIN_SEEDS runs: holds, or fails); not shown where we stop earlier;
    - where the model has 1x1 shortcuts, every magnitude run that collapses (at least MIN_SEEDS) loses one first
      (holds; else fails)."""
    clauses, parts = [], []
    for s in _picked(e, "not lenet"):
        if "magnitude" not in e.metrics_of.get(s, set()):
            clauses.append((f"{e.short[s]}: no runs of magnitude", NOT_JUDGED))
            continue
        c, name, config = e.collapse[e.collapse.setting == s], e.short[s], e.settings[s]
        p, last = published.paper_setting(config["model"]), int(e.acc[e.acc.setting == s]["round"].max())
        others = [m for m in ("l1", "l2") if m in e.metrics_of[s]]
        for pr in published.rounds_of(p, "late"):
            r = published.our_round(pr, config["prune_fraction"])
            for m in others:
                text = f"{m} collapses less than magnitude on {name} by round {r}"
                if r > last:
                    clauses.append((f"{text}: round {pr} not reached ({name} stops at round {last})", NOT_JUDGED))
                    continue
                mag, other = _collapsed_by(c, "magnitude", r), _collapsed_by(c, m, r)
                alone = pd.Series("magnitude", index=mag.index).where(mag & ~other, m).where(mag != other)
                alone = alone.dropna()  # the seeds where one of the two has collapsed
                state, why = sign_test(alone == "magnitude", alone == m, "seeds with one of the two collapsed")
                clauses.append((f"{text}: {(alone == 'magnitude').sum()} seeds magnitude's alone, "
                                f"{(alone == m).sum()} {m}'s alone" + (f"; {why}" if why else ""), state))
        r_end = published.our_round(presets.PAPER[p]["rounds"], config["prune_fraction"])
        for m, text in (("magnitude", "every magnitude run collapses"), ("softmax", "some softmax run collapses")):
            if m not in e.metrics_of[s]:
                continue
            k, n = int(_collapsed_by(c, m, r_end).sum()), int((c.importance == m).sum())
            ok = k == n if m == "magnitude" else k > 0
            state = (NOT_JUDGED if r_end > last or n < MIN_SEEDS else HOLDS if ok else FAILS)
            why = (f"round {presets.PAPER[p]['rounds']} not reached ({name} stops at round {last})" if r_end > last else
                   f"{n} runs (needs {MIN_SEEDS})" if n < MIN_SEEDS else f"{k} of {n}")
            clauses.append((f"{text} on {name} by round {r_end}: {why}", state))
        if sc := e.roles[s]["shortcuts"]:
            mag = c[(c.importance == "magnitude") & c.first_collapse_round.notna()]
            first = [bool(set(x.split(", ")) & set(sc)) for x in mag.collapsed_layers]
            state = NOT_JUDGED if len(first) < MIN_SEEDS else HOLDS if all(first) else FAILS
            clauses.append((f"magnitude collapses a 1x1 shortcut first on {name}: {sum(first)} of {len(first)} "
                            "collapsing runs" + (f"; {len(first)} collapsing runs (needs {MIN_SEEDS})"
                                                 if state == NOT_JUDGED else ""), state))
        n = c.groupby("importance", sort=False).first_collapse_round
        first = {m: g.dropna() for m, g in n}
        parts.append(f"{name}, runs collapsed by round {last} (first round): " + ", ".join(
            f"{m} {len(f)}/{(c.importance == m).sum()}" + (f" ({int(f.min())})" if len(f) else "")
            for m, f in first.items())
            + f"; magnitude's sparsest layer {c[c.importance == 'magnitude'].sparsest_layer_density.min():.3g} % dense")
    return "; ".join(parts), clauses


def paper_gaps(claim):
    """The paper's gaps to magnitude (points) that an accuracy claim of ``published.EFFECTS`` is judged against."""
    metrics, which, rounds = published.EFFECTS[claim]
    t, parts = published.table2(), []
    for p, g in t.groupby("setting", sort=False):
        if which != "all" and (which == "lenet") != published.is_lenet(p):
            continue
        cells = [f"{r} " + ", ".join(f"{m} {row[m] - row['magnitude']:+.2f}" for m in metrics)
                 for r, row in g.set_index("round").iterrows() if r in published.rounds_of(p, rounds)]
        parts.append(f"{evidence.NAMES[presets.PAPER[p]['model']]} round " + "; ".join(cells))
    return "; ".join(parts) + " (points vs magnitude)"
