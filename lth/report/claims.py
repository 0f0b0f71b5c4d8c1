"""docs/paper.md section 4's claims, each computed from a preset's runs: what our runs show, and a verdict.

Each claim is a function of ``Evidence`` (the tables of a preset's runs) that splits the claim into clauses and
returns a line of our numbers and the clauses, each ``HOLDS``, ``FAILS`` (an "about equal" clause: a real gap;
a count: the runs do not show it), ``REVERSED`` (the runs show the opposite) or ``NOT_SHOWN`` (within the noise,
too few seeds or connections, or a round the setting does not reach; the clause says why). One rule turns clauses
into a verdict (``verdict``): "reproduced" where every clause that can be shown holds, "contradicted" where none
holds and some is reversed, "not reproduced" where none holds, "partly" otherwise, and "not shown" where no clause
can be shown. A setting without runs of a metric the claim compares gives a not-shown clause naming it
(``running``).

Where the paper decides. Each of our settings stands for the paper's setting of its model
(``published.paper_setting``: lenet_300_100 for LeNet-300-100 on MNIST, resnet8_16 and resnet20 for ResNet-20,
vgg16 and vgg16_8 for VGG-16, resnet18 for ResNet-18). Accuracy claims are judged at the rounds of Table 2 the
paper's numbers give (``lth/report/paper_results.csv``), its *late* rounds (all but a setting's first) unless the claim
is about the early ones; our round is the one of the same sparsity (the same round where both prune 20 % a round).
A paper round that our setting does not reach is not judged, and the clause says so.

The tests. Runs of one seed share theta_0, the data order and round 0, so a metric's difference to magnitude is
paired seed by seed (``analysis.differences``), and seeds are independent replicates. Under no effect a seed's
difference is as likely positive as negative, so *every one of n seeds on one side* happens with probability
2^-n (1/32 for n = ``MIN_SEEDS`` = 5: a false "holds" 1/32, a false "reversed" 1/32, either 1/16); a rule with
fewer seeds than ``MIN_SEEDS`` is "not shown". Every rule below is this sign test applied to a per-seed quantity:
a paired accuracy difference, or a per-seed comparison (a layer denser than the network, a share above a
threshold, a correlation above 0). Its docstring says which, and its error rate under no effect.

- **A gap the paper reports** (``|paper gap| > GAP``): holds where every seed's difference has the paper's sign
  and the mean is beyond ``gap_points`` (the setting's noise); reversed where every seed has the opposite sign
  and the mean is beyond it; not shown otherwise ("within the noise"). False positives: 1/32 each way.
- **"About equal"** (``|paper gap| <= GAP``): an equivalence test by signs (two one-sided sign tests): holds where
  every seed's difference is within +-``gap_points``; fails where a real gap (as above) shows either way; not
  shown otherwise. A false "holds" where the true median difference is the margin or more: at most 1/32.
- ``gap_points``: a gap is real beyond ``GAP`` = 1 point and beyond two binomial standard errors of one accuracy
  at 50 % on the setting's test images, 100/sqrt(N) points (1 point on the 10,000 test images of every dataset
  here; 3.2 on the smoke preset's 1,000).
- A clause resting on fewer than ``MIN_CONNECTIONS`` connections (a layer's shared or not-shared ones) is not
  shown.
- **Shared against not-shared connections** (Figures 1, 5, 6) are compared layer-matched (``matched_by_seed``): per
  seed, the shared connections against the not-shared ones weighted to the shared ones' layer mix
  (``section5.layer_matched``), over the layers where that seed has ``MIN_CONNECTIONS`` or more of each; pooled over
  layers, as the paper compares them, "shared" is mixed with "which layer" (most shared connections sit in small
  layers whose weights differ in scale from the rest). The pooled numbers are given for reference only.

Numbers in a line are means over seeds unless a range [lowest, highest] over seeds is given.
"""

import math

import numpy as np
import pandas as pd

from lth import presets

from lth.report import analysis, evidence, published, section5
from lth.report.stats import (FAILS, GAP, HOLDS, MIN_CONNECTIONS, MIN_SEEDS, NOT_SHOWN, REVERSED, direction, gap_points,
                              joined, level, needs, rate, rule, running, sign_test)

LESS = 2.0  # a layer is "pruned much less" where it keeps at least LESS times the network's density
# Section 5 at 96.48 % sparsity (round 15): the three tickets share 9.34 % of a ticket's unpruned connections,
# 0.33 % of all; "few" here: at most FEW times the paper's share of the unpruned ones.
PAPER_SHARED_OF_KEPT, PAPER_SHARED_OF_ALL, FEW = 9.34, 0.33, 2.0


# --- The tests (module docstring) ---


# --- Where the paper decides ---


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
    x, last = d[d["round"] == r].difference.to_numpy(), int(d["round"].max())
    if not len(x):
        return dict(row, seeds=0, seeds_agreeing=0, outcome=NOT_SHOWN,
                    why=f"round {paper_round} not reached ({name} stops at round {last})")
    sign = np.sign(paper_gap)
    state, why = level(x, gap) if expected == "level" else direction(x, sign, gap)
    agreeing = (np.abs(x) < gap).sum() if expected == "level" else (sign * x > 0).sum()
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
               "seeds_agreeing", "seeds", "outcome", "why"]
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
            text = f"{r.metric} on {e.short[s]} at round {r.round}: {paper}" + (f"; {r.why}" if r.why else "")
            clauses.append((text, r.outcome))
        if cells:
            parts.append(f"{e.short[s]} ({published.paper_setting(e.settings[s]['model'])}): " + ", ".join(cells))
        else:  # no paper round reached: our last round, for a reader
            late = True
            d = analysis.paired_differences(e.acc[(e.acc.setting == s) & e.acc.importance.isin(("magnitude",
                                                                                                 *metrics))])
            d = d[d["round"] == d["round"].max()]
            parts.append(f"{e.short[s]} round {d['round'].max()}: " + ", ".join(
                f"{r.importance} {r.mean:+.2f} [{r.min:+.2f}, {r.max:+.2f}] {r.agree}/{r.seeds}"
                for r in d.itertuples()) + " (its last round, before the paper's)")
    agreeing = "with the paper" + ("; at a last round before the paper's, with the mean" if late else "")
    return joined(parts, f" (points vs magnitude: mean [lowest, highest seed] seeds agreeing {agreeing})"), clauses


def _effect_rounds(e, claim):
    rows = effects(e).query("claim == @claim")
    judged = rows[rows.seeds > 0].groupby("setting", sort=False)["round"].unique()
    out = [f"{e.short[s]} {', '.join(map(str, sorted(rs)))}" for s, rs in judged.items()]
    missed = rows[rows.seeds == 0].groupby("setting", sort=False).paper_round.unique()
    out += [f"{e.short[s]}: paper's {', '.join(map(str, sorted(rs)))} not reached" for s, rs in missed.items()]
    return "; ".join(out) or "none"


# --- Helpers ---

def _metrics(df):
    return [m for m in presets.PAPER_METRICS if m in set(df)]


def judge(e, claim):
    """``claim(e)``: a line of our numbers, then what cannot be shown, and the clauses; where the runs lack a metric
    the claim is about, a line naming it and no clause."""
    left_out = set(getattr(claim, "needs", ())) - set(presets.metrics(e.preset))
    if absent := [m for m in getattr(claim, "needs", ()) if m in left_out and m not in e.metrics]:
        return f"no runs of {', '.join(absent)} (METRICS leaves them out)", []
    ours, clauses = claim(e)
    lacking = [text for text, s in clauses if s == NOT_SHOWN and ": no runs of " in text]
    return joined(([ours] if ours else []) + [f"not shown: {t}" for t in lacking]), clauses


def _last_ticket(e, setting):
    """Per seed, metric and layer of ``setting``'s last ticket (its last round; metrics that stop earlier are
    left out): the layer's density and the network's (%)."""
    ld = e.layers[e.layers.setting == setting]
    return ld[ld["round"] == ld["round"].max()].assign(density=lambda d: 100 - d.layer_sparsity,
                                                          network=lambda d: 100 - d.sparsity)


def _last_round(e, setting=None):
    ld = e.layers if setting is None else e.layers[e.layers.setting == setting]
    return ", ".join(f"{e.short[s]} {int(g['round'].max())}" for s, g in ld.groupby("setting", sort=False))


SIGN_TEST = "sign test over seeds: every one of n >= 5 agreeing, false 'holds' {one} (n = {n}) under no effect"


# --- The claims, in docs/paper.md's order ---

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


EFFECT_TEST = ("paired sign test on the difference to magnitude: a paper gap beyond 1 point: every one of n >= 5 "
               "seeds with its sign and the mean beyond the setting's noise (1 point on 10,000 test images), false "
               "'holds' {one}, false 'reversed' {one} (n = {n}); 'about equal' (paper gap within 1 point): every "
               "seed within +-the noise, false 'holds' at most {one}")


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
            clauses.append((f"{e.short[s]}: no runs of magnitude", NOT_SHOWN))
            continue
        c, name, config = e.collapse[e.collapse.setting == s], e.short[s], e.settings[s]
        p, last = published.paper_setting(config["model"]), int(e.acc[e.acc.setting == s]["round"].max())
        others = [m for m in ("l1", "l2") if m in e.metrics_of[s]]
        for pr in published.rounds_of(p, "late"):
            r = published.our_round(pr, config["prune_fraction"])
            for m in others:
                text = f"{m} collapses less than magnitude on {name} by round {r}"
                if r > last:
                    clauses.append((f"{text}: round {pr} not reached ({name} stops at round {last})", NOT_SHOWN))
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
            state = (NOT_SHOWN if r_end > last or n < MIN_SEEDS else HOLDS if ok else FAILS)
            why = (f"round {presets.PAPER[p]['rounds']} not reached ({name} stops at round {last})" if r_end > last else
                   f"{n} runs (needs {MIN_SEEDS})" if n < MIN_SEEDS else f"{k} of {n}")
            clauses.append((f"{text} on {name} by round {r_end}: {why}", state))
        if sc := e.roles[s]["shortcuts"]:
            mag = c[(c.importance == "magnitude") & c.first_collapse_round.notna()]
            first = [bool(set(x.split(", ")) & set(sc)) for x in mag.collapsed_layers]
            state = NOT_SHOWN if len(first) < MIN_SEEDS else HOLDS if all(first) else FAILS
            clauses.append((f"magnitude collapses a 1x1 shortcut first on {name}: {sum(first)} of {len(first)} "
                            "collapsing runs" + (f"; {len(first)} collapsing runs (needs {MIN_SEEDS})"
                                                 if state == NOT_SHOWN else ""), state))
        n = c.groupby("importance", sort=False).first_collapse_round
        first = {m: g.dropna() for m, g in n}
        parts.append(f"{name}, runs collapsed by round {last} (first round): " + ", ".join(
            f"{m} {len(f)}/{(c.importance == m).sum()}" + (f" ({int(f.min())})" if len(f) else "")
            for m, f in first.items())
            + f"; magnitude's sparsest layer {c[c.importance == 'magnitude'].sparsest_layer_density.min():.3g} % dense")
    return "; ".join(parts), clauses


@rule(SIGN_TEST + " (a layer's density against the network's in the last ticket)", _last_round)
def pruned_less(e):
    """Figures 2, 8-10: input and output layers, and ResNet 1x1 convs except under magnitude, are pruned much less.
    Clauses, per setting and paper metric in the last ticket, each a sign test over seeds: the input layer, the
    output layer (unless kept dense) and, but for magnitude, each 1x1 shortcut keep at least LESS times the
    network's density in every seed (holds), less than the network's in every seed (reversed), between in every
    seed (fails); magnitude keeps each shortcut sparser than every other paper metric in every seed (holds;
    denser than every other in every seed: reversed). False "holds": 2^-n where the median is at the bound."""
    clauses, parts = [], []
    for setting, roles in e.roles.items():
        last = _last_ticket(e, setting)
        dens = last.pivot_table(index=["layer", "seed"], columns="importance", values="density")
        network = last.groupby(["importance", "seed"]).network.first()
        metrics = _metrics(dens)
        layers = [("input", roles["input"]), ("output", roles["output"])] + [("1x1", s) for s in roles["shortcuts"]]
        shown = []
        for role, layer in [(r, x) for r, x in layers if x not in roles["dense"]]:
            d = dens.loc[layer]
            for m in metrics:
                if role == "1x1" and m == "magnitude":
                    others = [o for o in metrics if o != m]
                    state, why = (sign_test(d[m] < d[others].min(axis=1), d[m] > d[others].max(axis=1)) if others
                                  else (NOT_SHOWN, "no other metric"))
                    clauses.append((f"magnitude prunes {layer} on {e.short[setting]} more than the others"
                                    + (f": {why}" if why else ""), state))
                else:
                    v, n = d[m], network[m].reindex(d.index)
                    state, why = sign_test(v >= LESS * n, v < n)
                    if state == NOT_SHOWN and len(v) >= MIN_SEEDS and ((v >= n) & (v < LESS * n)).all():
                        state, why = FAILS, ""
                    clauses.append((f"{m} keeps {v.mean():.3g} % of {layer} on {e.short[setting]}"
                                    + (f": {why}" if why else ""), state))
            shown.append(f"{role if role != '1x1' else layer} " + " / ".join(f"{d[m].mean():.3g}" for m in metrics))
        parts.append(f"{e.short[setting]} ({' / '.join(metrics)}, % dense; network {last.network.mean():.3g} %): "
                     + ", ".join(shown))
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
            clauses.append((f"{e.short[setting]} has {n_layers} hidden layers (needs 3)", NOT_SHOWN))
            continue
        means = []
        for m in _metrics(set(hidden.importance)):
            # Spearman's rho per seed: the Pearson correlation of ranks (sparsity ranks = density ranks reversed)
            rho = hidden[hidden.importance == m].groupby("seed").apply(
                lambda g: g.depth.rank().corr(g.density.rank(ascending=False)), include_groups=False)
            if rho.isna().any():
                clauses.append((f"{m} on {e.short[setting]}: no correlation in {rho.isna().sum()} of {len(rho)} "
                                "seeds (every hidden layer at one density)", NOT_SHOWN))
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


def _ticket_round(e):
    return f"round {e.ticket_round} of {e.short[e.ticket_setting]}"


@rule(SIGN_TEST + " (per seed: the share against FEW x 9.34 %; a layer's rank by share and by observed / chance)",
      _ticket_round)
def shared_few(e):
    """Section 5: the tickets of magnitude, l1 and l2 share few connections (9.34 % of the unpruned ones, 0.33 % of
    all), most in the first conv layer and the classifier. Clauses at Section 5's round, each a sign test over
    seeds: the share of a ticket's unpruned connections that all share is at most FEW times the paper's 9.34 % in
    every seed (holds; above in every seed: fails); the input layer and the output layer each rank among the two
    layers with the largest share in every seed (holds; in the lower half in every seed: reversed), once by the
    raw share and once by observed / chance (the share over what tickets of the same per-layer sizes share by
    chance). Layers with fewer than MIN_CONNECTIONS unpruned connections are not ranked, and a role layer among
    them is not shown. False "holds": 2^-n (a rank in the top two: (2/L)^n for L layers alike)."""
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
                                f"{MIN_CONNECTIONS})", NOT_SHOWN))
                continue
            st, why = sign_test(rank[mine] <= 2, rank[mine] > n[mine] / 2)
            ranks[(role, col)] = f"rank {rank[mine].mean():.1f} of {int(n[mine].iloc[0])}"
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
def overlap_over_rounds(e):
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
    weighted to their layer mix (``section5.layer_matched``'s "shared" and "not shared, layer-matched"), over the
    layers where that seed has at least MIN_CONNECTIONS connections in each group (counted by
    ``section5.by_layer``); the others are left out, and a seed with no such layer has no row. Columns: metric,
    round, seed, ``layers`` (how many layers it compares), and per quantity (mean_std, sign_flip_percent,
    mean_distance where recorded) ``<quantity>_shared`` and ``<quantity>_matched``."""
    keys = [k for k in ("metric", "round", "seed") if k in c]
    layers = section5.by_layer(c, by=keys)
    enough = (layers.connections_shared >= MIN_CONNECTIONS) & (layers.connections_not_shared >= MIN_CONNECTIONS)
    count = enough.rename("layers").groupby([layers[k] for k in keys], observed=True).sum()
    picked = pd.MultiIndex.from_frame(c[keys + ["layer"]]).isin(layers[enough].set_index(keys + ["layer"]).index)
    m = section5.layer_matched(c[picked], by=keys)
    quantities = ["mean_std", "sign_flip_percent"] + (["mean_distance"] if "distance" in c else [])
    if m.empty:
        return pd.DataFrame(columns=[*keys, "layers", *(f"{q}_{g}" for q in quantities for g in ("shared", "matched"))])
    groups = {g: m[m.group == g].set_index(keys)[quantities] for g in (section5.SHARED, section5.MATCHED)}
    out = groups[section5.SHARED].add_suffix("_shared").join(groups[section5.MATCHED].add_suffix("_matched"))
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
    connections against the not-shared ones layer-matched (``matched_by_seed``): the shared lower in every seed
    holds, higher in every seed reversed. The line gives the last round's numbers, layer-matched and, for
    reference, pooled over layers."""
    per_seed, layers = matched_by_seed(c), c.groupby("layer", observed=True).ngroups
    pair = lambda a, b: f"{fmt.format(a)} vs {fmt.format(b)}"  # noqa: E731
    seeds = f"seeds with a layer of {MIN_CONNECTIONS}+ connections in each group"
    clauses = []
    for (m, r), _ in c.groupby(["metric", "round"], observed=True, sort=False):
        x = per_seed[(per_seed.metric == m) & (per_seed["round"] == r)]
        a, b = x[f"{quantity}_shared"].astype(float), x[f"{quantity}_matched"].astype(float)
        tie = np.isclose(a, b, rtol=1e-9, atol=1e-12)  # equal but for rounding (the weights s / n): neither side
        lower, higher = (a < b) & ~tie, (a > b) & ~tie
        state, why = sign_test(lower, higher, seeds)
        over = f" layer-matched over {_span(x.layers)} of {layers} layers" if len(x) else ""
        clauses.append((f"{m} round {r}: " + (pair(a.mean(), b.mean()) if len(x) else "") + over
                        + (f"; {why}" if why else ""), state))
    last = c["round"].max()
    x = per_seed[per_seed["round"] == last].groupby("metric", observed=True)
    mean = x[[f"{quantity}_shared", f"{quantity}_matched"]].mean()
    parts = [f"{m} " + (pair(*mean.loc[m]) + f" over {_span(x.get_group(m).layers)} layers" if m in mean.index
                        else "no layer") + f" (pooled {pair(*p)})" for m, p in _pooled(c, quantity).items()]
    return (f"round {last}, {label} shared vs not shared, layer-matched (what decides: the layers with "
            f"{MIN_CONNECTIONS}+ of each in a seed, of {layers}; pooled over every layer for reference): "
            + ", ".join(parts)), clauses


def _connection_rounds(e):
    return (f"rounds {', '.join(map(str, sorted(e.connections['round'].unique())))} of {e.short[e.ticket_setting]}, "
            f"layer-matched in the layers with {MIN_CONNECTIONS}+ shared and not-shared connections")


LAYER_MATCHED = ("per seed: the shared connections' {} against the not-shared ones' weighted to the shared ones' "
                 f"layer mix, over the layers with {MIN_CONNECTIONS}+ of each")


@rule(SIGN_TEST + f" ({LAYER_MATCHED.format('mean std')})", _connection_rounds)
def shared_vary_less(e):
    """Figures 1, 5: shared connections' trained values vary less over the rounds: per metric and round of the
    connection table (R/3, 2R/3, R of Section 5), the sign test over seeds on the shared connections' mean standard
    deviation against the not-shared ones' layer-matched (``matched_by_seed``: weighted to the shared ones' layer
    mix, over the layers where the seed has at least MIN_CONNECTIONS of each, so that a difference of layers is not
    read as one of sharing): below in every seed holds, above in every seed reversed, 2^-n each under no
    difference within layers. A seed with no such layer is left out. The pooled numbers (the paper's comparison,
    which mixes "shared" with "which layer") are given beside them."""
    return _layer_matched(e.connections, "mean_std", "mean std", "{:#.3g}")


@rule(SIGN_TEST + f" ({LAYER_MATCHED.format('share of sign flips')})", _connection_rounds)
def shared_flip_less(e):
    """Figures 1, 6: shared connections flip sign less: per metric and round of the connection table, the sign test
    over seeds on the share of shared connections that flip sign against the not-shared ones' layer-matched (as
    ``shared_vary_less``): below in every seed holds, above in every seed reversed, 2^-n each under no difference
    within layers (a seed where both are equal, as both 0 %, agrees with neither). Pooled numbers beside them."""
    return _layer_matched(e.connections, "sign_flip_percent", "% flipping", "{:.2f}")


@rule(SIGN_TEST + " (per seed: shared minus not-shared distance in the first conv, one layer, mean over the rounds "
      "with 30+ of each)",
      lambda e: f"rounds 1-{int(e.drift['round'].max())} with {MIN_CONNECTIONS}+ connections in each group")
def shared_move_further(e):
    """Figure 3: in the first conv layer, shared connections move further from theta_0 than the others: per metric,
    the sign test over seeds on the mean over rounds of the shared connections' mean distance minus the others',
    over the rounds where each group has at least MIN_CONNECTIONS connections (further in every seed: holds;
    closer in every seed: reversed; 2^-n each). One layer: no layer mix to match. A seed with no such round is
    left out. Figure 1's distance (every layer, Section 5's round), which bears on the same claim, is given beside
    it layer-matched (``matched_by_seed``, with the seeds where the shared are further) and pooled; the claim, as
    the paper states it, is the first conv's, so Figure 1's does not decide."""
    d = e.drift.pivot_table(index=["metric", "seed", "round"], columns="connections", values=["distance", "count"])
    d = d[(d["count"] >= MIN_CONNECTIONS).all(axis=1)]
    gap = (d["distance", "shared"] - d["distance", "not shared"]).groupby(level=["metric", "seed"], sort=False).mean()
    fewest = e.drift[~e.drift.overlapping].groupby("metric", sort=False)["count"].agg(["min", "max"])
    clauses = []
    for m in presets.ordered(e.drift.metric.unique()):
        g = gap[m] if m in gap.index.get_level_values("metric") else pd.Series(dtype=float)
        state, why = sign_test(g > 0, g < 0, f"seeds with {MIN_CONNECTIONS}+ connections in each group")
        by = f" by {g.mean():+.3f}" if len(g) else ""
        clauses.append((f"{m}: shared further{by} (not shared: {fewest['min'][m]}-{fewest['max'][m]} connections)"
                        + (f"; {why}" if why else ""), state))
    c = e.connections
    last = c[c["round"] == c["round"].max()]
    fig1 = matched_by_seed(last).groupby("metric", observed=True)
    further = fig1.apply(lambda x: f"{x.mean_distance_shared.mean():#.3g} vs {x.mean_distance_matched.mean():#.3g}, "
                                   f"{(x.mean_distance_shared > x.mean_distance_matched).sum()}/{len(x)} seeds "
                                   "further", include_groups=False)
    return ("decided in the first conv (one layer), shared minus not-shared distance from theta_0: "
            + ", ".join(f"{m} {gap[m].mean():+.3f}" if m in gap.index.get_level_values("metric") else f"{m} -"
                        for m in presets.ordered(e.drift.metric.unique()))
            + "; not-shared connections per seed and round: "
            + ", ".join(f"{m} {r['min']}-{r['max']}" for m, r in fewest.iterrows())
            + f"; Figure 1 (every layer, round {c['round'].max()}; not judged) mean distance shared vs not shared "
              f"layer-matched ({MIN_CONNECTIONS}+ of each): "
            + ", ".join(f"{m} {further.get(m, 'no layer')} (pooled {a:#.3g} vs {b:#.3g})"
                        for m, (a, b) in _pooled(c, "mean_distance").items())), clauses


@rule("sign test over every metric and reinit seed (at least 5 values; they share one seed's tickets, so not "
      "independent): all of n values on one side, 2^-n were they independent", _ticket_round)
def survive_reinit(e):
    """Section 5.1: connections kept from theta_0 survive in the new tickets more than chance, the first conv
    layer's (+8.5 to +70 %) and the classifier's (+440 to +480 %) most, the 1x1 convs' (-3.2 to +20 %) least.
    Clauses over every metric and reinit seed, each a sign test over those values (at least MIN_SEEDS): the excess
    over all layers, in the input layer and in the output layer is positive in every one (holds; negative in every
    one: reversed); the output layer's excess is the largest of the layers in every one (holds; else not shown);
    every 1x1 shortcut's excess is below the input layer's in every one (holds; above in every one: reversed).
    Layers with fewer than 5 expected survivors are left out. False "holds": 2^-n for n values were they
    independent; they share one seed's tickets (Section 5's), so the rate is understated."""
    roles = e.roles[e.ticket_setting]
    s = e.survival[e.survival.expected >= 5]
    by = s.pivot_table(index=["metric", "reinit_seed"], columns="layer", values="excess")
    clauses = []
    for name, layer in (("all layers", "all"), ("input", roles["input"]), ("output", roles["output"])):
        st, why = sign_test(by[layer] > 0, by[layer] < 0, "values") if layer in by else (NOT_SHOWN, "too few expected")
        clauses.append((f"{name} above chance" + (f"; {why}" if why else ""), st))
    layers = by.drop(columns="all", errors="ignore")
    if roles["output"] in layers:
        st, why = sign_test(layers.idxmax(axis=1) == roles["output"], layers.idxmax(axis=1) != roles["output"], "values")
        clauses.append(("output layer's excess the largest" + (f"; {why}" if why else ""),
                        NOT_SHOWN if st == REVERSED else st))
    shortcuts = [x for x in roles["shortcuts"] if x in by]
    if shortcuts and roles["input"] in by:
        below = (by[shortcuts].max(axis=1) < by[roles["input"]])
        above = (by[shortcuts].min(axis=1) > by[roles["input"]])
        st, why = sign_test(below, above, "values")
        clauses.append(("1x1 shortcuts' excess below the input layer's" + (f"; {why}" if why else ""), st))
    show = [("all", "all"), ("input", roles["input"]), ("output", roles["output"])] + [(x, x) for x in shortcuts]
    return ("excess over chance, mean [min, max]: " + ", ".join(
        f"{n} {by[x].mean():+.0f} % [{by[x].min():+.0f}, {by[x].max():+.0f}]" for n, x in show if x in by)), clauses


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


# (claim, the paper's numbers, function): the rows of claims.md, in docs/paper.md's order.
CLAIMS = [
    ("Table 1: weight ranges grow with training", "ResNet-18: Conv1 [-0.47, 0.41] -> [-1.07, 0.90], FC [-0.30, 0.27]"
     " -> [-0.45, 1.19]", table1_ranges),
    ("magnitude, l1 and l2 about equal (Table 2, Figure 4)", paper_gaps("equal"), equal_accuracy),
    ("minmax and softmax keep up early, fall behind late", paper_gaps("behind"), fall_behind),
    ("... except on LeNet", paper_gaps("lenet"), lenet_exception),
    ("layer collapse under magnitude (a 1x1 shortcut in ResNets), softmax too; importance metrics help avoid it",
     "in every VGG and ResNet magnitude run; VGG-16 round 30: magnitude 51.53 +- 36 %, l1 83.70 %, l2 84.03 %; "
     "round 35: magnitude 10.00 %", layer_collapse),
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


def rule_of(claim, preset):
    """A claim's test and false-positive rate (its ``rule``) at the preset's number of seeds."""
    n = len(presets.check(preset)["seeds"])
    text = claim.test.format(n=n, one=rate(n))
    return text + (f"; preset={preset} has {n} seeds: not shown" if n < MIN_SEEDS and "{n}" in claim.test else "")


def evaluate(runs_dir, preset):
    """One row per claim: the claim, the paper's numbers, ours, the rounds judged, the verdict, its test and
    false-positive rate, the clauses that do not hold, and those not shown (each saying why)."""
    e, rows = evidence.Evidence(runs_dir, preset), []
    for claim, paper, function in CLAIMS:
        ours, clauses = judge(e, function)
        v, failing = verdict(clauses)
        held = sum(s == HOLDS for _, s in clauses)
        shown = sum(s != NOT_SHOWN for _, s in clauses)
        rows.append(dict(claim=claim, paper=paper, ours=ours, **{"rounds judged": function.rounds(e)},
                         verdict=f"{v} ({held} of {shown} clauses)", test=rule_of(function, preset),
                         **{"clauses that do not hold": "; ".join(failing), "not shown": not_shown(clauses)}))
    return pd.DataFrame(rows)


def not_shown(clauses):
    """Why a claim's clauses are not shown: each reason once, with how many clauses it stops (a clause's reason is
    its text after the last "; ", else after the last ": "; a setting lacking runs is named whole)."""
    reasons = [t if ": no runs of " in t else t.rsplit("; ", 1)[-1] if "; " in t else t.rsplit(": ", 1)[-1]
               for t, s in clauses if s == NOT_SHOWN]
    return "; ".join(f"{r} ({k} clauses)" if k > 1 else r for r, k in pd.Series(reasons, dtype=str)
                     .value_counts(sort=False).items())


def title(preset):
    """claims.md's title: the preset and its settings, seeds and last rounds."""
    p = presets.check(preset)
    settings = ", ".join(f"{evidence.setting_name(preset, s)} to round {c['rounds']}" for s, c in p["settings"].items())
    cut = "".join(f"; {m} to round {r}" for m, r in p.get("rounds_of", {}).items())
    chosen = presets.metrics(preset)
    cut += f"; METRICS: {', '.join(chosen)} only" if chosen != p["metrics"] else ""
    return (f"The paper's claims on the {preset} preset ({settings}{cut}; seeds {', '.join(map(str, p['seeds']))}), "
            "computed by lth/report/claims.py")
