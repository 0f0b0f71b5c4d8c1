"""The regime study (`make regime`): how the gaps between metrics move with the weight decay a round sees.

Each arm of a preset's ``regime`` trains one setting's schedule with another weight decay or length (its
``lth.regime.Regime``: a round's iterations and sum of lr x weight decay). Per arm and seed, every metric starts
from the same theta_0, data order and round 0, so the gaps are paired: a metric's accuracy minus magnitude's, seed
by seed, at the rounds the paper reports for the setting it stands for (our round of the same sparsity: both
prune 20 % a round) and at our last round. A gap where both runs are within ``CHANCE_POINTS`` of chance is not a
gap: nothing learns there (``at_chance``). How far a run learns is its last round above chance, over every round.
"""


import pandas as pd

from lth import presets, tickets
from lth.regime import regime
from lth.report import analysis, evidence, published, views
from lth.report.stats import CHANCE_POINTS, at_chance
from lth.runs import every


def _rounds(config):
    """The rounds a setting is judged at: the paper's Table 2 rounds of the setting it stands for that it
    reaches, and its last."""
    paper = published.paper_setting(config["model"])
    table2 = published.paper_results("table2")
    reported = sorted({int(r) for r in table2[table2.setting == paper]["round"] if 0 < int(r) <= config["rounds"]})
    return [*reported, config["rounds"]] if config["rounds"] not in reported else reported


def _shortcut_share(path, round_):
    """The share (%) of the ticket's remaining weights that sit in the model's 1x1 shortcuts; None without any."""
    shortcuts = analysis.recorded_roles(path)["shortcuts"]
    if not shortcuts:
        return None
    kept = {layer: int(m.sum()) for layer, m in tickets.load_ticket(path, round_)["mask"].items()}
    return 100 * sum(kept[s] for s in shortcuts) / sum(kept.values())


def runs_table(runs_dir, preset):
    """One row per run of the study and judged round: setting, arm, its regime (iterations, lr_x_weight_decay),
    metric, seed, round, sparsity, test accuracy, at_chance, shortcut_share (% of the remaining weights),
    first_collapse_round (None: no layer emptied), last_round_learning (its last round above chance, of every
    round) and dense_accuracy_percent (its round 0)."""
    records = every(preset, study=True)
    loaded = analysis.load_runs(runs_dir, preset, records)
    acc = analysis.accuracy(loaded).set_index(["setting", "importance", "seed", "round"])
    collapsed = analysis.collapse(loaded).set_index(["setting", "importance", "seed"])["first_collapse_round"]
    rows = []
    for r, path in zip(records, loaded["path"]):
        setting, arm = r.setting.split("@")
        reg = regime(r.config)
        run = acc.loc[(r.setting, r.importance, r.seed)].test_accuracy
        learning = [i for i, a in run.items() if not at_chance(a, r.config["dataset"])]
        for i in _rounds(r.config):
            a = acc.loc[(r.setting, r.importance, r.seed, i)]
            rows.append(dict(setting=setting, arm=arm, iterations=reg.iterations, lr_x_weight_decay=reg.decay,
                             importance=r.importance, seed=r.seed, round=i, sparsity=a.sparsity,
                             test_accuracy=a.test_accuracy, at_chance=at_chance(a.test_accuracy, r.config["dataset"]),
                             shortcut_share_percent=_shortcut_share(path, i),
                             first_collapse_round=collapsed.loc[(r.setting, r.importance, r.seed)],
                             last_round_learning=max(learning, default=None),
                             dense_accuracy_percent=acc.loc[(r.setting, r.importance, r.seed, 0)].test_accuracy))
    return pd.DataFrame(rows)


def gaps(table):
    """Per setting, arm, round, seed and metric other than magnitude: its accuracy minus magnitude's (points), and
    whether both are at chance (then it is no gap: ``gap_points`` is left empty)."""
    keys = ["setting", "arm", "lr_x_weight_decay", "round", "seed"]
    base = table[table.importance == "magnitude"].set_index(keys)
    rows = []
    for r in table[table.importance != "magnitude"].itertuples():
        m = base.loc[tuple(getattr(r, k) for k in keys)]
        both = bool(r.at_chance and m.at_chance)
        rows.append(dict(**{k: getattr(r, k) for k in keys}, metric=r.importance, both_at_chance=both,
                         gap_points=None if both else r.test_accuracy - m.test_accuracy))
    return pd.DataFrame(rows)


def summary(table):
    """Per setting, arm and judged round: each metric's gap to magnitude (mean [min, max] over seeds, and seeds
    ahead / behind / within 1 point), each metric's shortcut share (median over seeds), runs with a collapsed
    layer, runs at chance, the last round above chance (median [min, max] over runs) and the dense accuracy (mean
    over seeds)."""
    g, rows = gaps(table), []
    for (setting, arm, decay, round_), t in table.groupby(["setting", "arm", "lr_x_weight_decay", "round"], sort=False):
        row = dict(setting=setting, arm=arm, lr_x_weight_decay=round(decay, 4), iterations=t.iterations.iloc[0],
                   round=round_, sparsity=round(t.sparsity.iloc[0], 2),
                   dense_accuracy_percent=round(t.dense_accuracy_percent.mean(), 2))
        for m, d in g[(g.setting == setting) & (g.arm == arm) & (g["round"] == round_)].groupby("metric", sort=False):
            x = d.gap_points.dropna()
            row[f"{m}_minus_magnitude_points"] = (f"{x.mean():+.2f} [{x.min():+.2f}, {x.max():+.2f}] "
                                                  f"{(x > 0).sum()} ahead, {(x < 0).sum()} behind, "
                                                  f"{(x.abs() <= 1).sum()} within 1" if len(x) else "at chance")
        for m, d in t.groupby("importance", sort=False):
            if d.shortcut_share_percent.notna().all():
                row[f"{m}_shortcut_share_percent"] = round(d.shortcut_share_percent.median(), 1)
        collapsed = t.first_collapse_round.notna() & (t.first_collapse_round <= round_)
        row["runs_collapsed"] = f"{collapsed.sum()} of {len(t)}"
        row["runs_at_chance"] = f"{t.at_chance.sum()} of {len(t)}"
        last = t.last_round_learning.dropna()
        row["last_round_learning"] = (f"{last.median():g} [{last.min():g}, {last.max():g}]" if len(last) == len(t) else
                                      f"{len(t) - len(last)} of {len(t)} never above chance")
        rows.append(row)
    return pd.DataFrame(rows)


def view(runs_dir, preset):
    """What the regime notebook shows (``views.Regime``); None where the preset has no regime study."""
    study = presets.get(preset).regime
    if not study:
        return None
    table = runs_table(evidence.runs_folder(runs_dir), preset)
    seeds = "; ".join(f"{s}: {', '.join(study[s]['metrics'])} on seeds {', '.join(map(str, study[s]['seeds']))}"
                      for s in study)
    paper = {s: regime(dict(presets.DEFAULT, **presets.PAPER[published.paper_setting(study[s]["base"]["model"])])).decay
             for s in study}
    return views.Regime(table=table, gaps=gaps(table), summary=summary(table), paper=paper,
                caption=f"preset={preset}; {seeds}; at chance: within {CHANCE_POINTS:g} points of 100 / classes")
