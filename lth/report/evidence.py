"""What a preset's runs hold, as the claims and the figures read it: the runs' tables, each loaded once
(``Evidence``), Section 5's tickets and their connection table, and how a reader names settings and runs."""

import hashlib
import inspect
import json
from functools import cached_property

import pandas as pd

from lth import presets, store, tickets
from lth.runs import REPOSITORY, default_dir, groups
from lth.report import analysis, section5


class Evidence:
    """The tables the claims read, from the completed runs of ``preset`` under ``runs_dir``, each loaded once."""

    def __init__(self, runs_dir, preset):
        self.runs_dir, self.preset = runs_dir, preset

    @cached_property
    def settings(self):
        """{setting: its config} (the preset's)."""
        return presets.get(self.preset).settings

    @cached_property
    def runs(self):
        return analysis.load_runs(runs_folder(self.runs_dir), self.preset)

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
    def sizes(self):
        """{setting: {prunable layer: its weights}} (from a run's round-0 ticket; every run of a setting alike)."""
        return {s: {layer: m.numel() for layer, m in tickets.load_ticket(g.path.iloc[0], 0)["mask"].items()}
                for s, g in self.runs.groupby("setting", sort=False)}

    @cached_property
    def names(self):
        return {s: setting_name(self.preset, s) for s in self.settings}

    @cached_property
    def short(self):
        """{setting: its model's name for a reader ("ResNet-8-16"); the setting's full name where two share a model}."""
        model = {s: self.settings[s]["model"] for s in self.names}
        unique = len(set(model.values())) == len(model)
        return {s: NAMES.get(m, m) if unique else self.names[s] for s, m in model.items()}

    @cached_property
    def ticket_setting(self):
        return presets.get(self.preset).tickets["setting"]

    @cached_property
    def ticket_round(self):
        return presets.get(self.preset).tickets["round"]

    @cached_property
    def overlap_by_round(self):
        """Figure 7's: per seed and round, all layers and the followed ones."""
        return overlap_by_round(self.runs_dir, self.preset)

    @cached_property
    def overlap_by_layer(self):
        """Section 5's overlap table (``section5.overlap_table``) per seed at its round: every layer, and "all"."""
        runs = analysis.ticket_runs(runs_folder(self.runs_dir), self.preset)
        return section5.overlap_over_rounds(runs, [self.ticket_round])

    @cached_property
    def connections(self):
        return connections(self.runs_dir, self.preset)

    @cached_property
    def drift(self):
        return drift(self.runs_dir, self.preset)

    @cached_property
    def survival(self):
        return analysis.reinit_results(runs_folder(self.runs_dir), self.preset)

    @cached_property
    def ranges(self):
        """Per magnitude run (seed) and followed layer (role): its weights' max - min at each stage."""
        rows = []
        magnitude = groups(self.preset)["magnitude"]  # only these: Table 1's notebook needs no other run
        for r in analysis.load_runs(runs_folder(self.runs_dir), self.preset, magnitude).itertuples():
            w = analysis.weight_ranges(r.path)
            for role, layer in analysis.followed_layers(r.path).items():
                rows.append(w[w.layer == layer].assign(setting=r.setting, role=role, seed=r.seed))
        df = pd.concat(rows).assign(width=lambda d: d["max"] - d["min"])
        return df.pivot_table(index=["setting", "role", "layer", "seed"], columns="stage", values="width",
                              sort=False).reset_index()


def runs_folder(runs_dir):
    """Where the runs are: ``runs_dir`` from the repository's root (a notebook runs wherever it was opened), or
    $LTH_RUNS (the repository's runs/) when None."""
    return REPOSITORY / runs_dir if runs_dir else default_dir()


def seed_list(seeds):
    """Seeds as a reader reads them: "0, 1", "0-4", "0-2, 7" (three or more in a row as a range)."""
    groups = []
    for s in seeds:
        if groups and s == groups[-1][-1] + 1:
            groups[-1].append(s)
        else:
            groups.append([s])
    return ", ".join(f"{g[0]}-{g[-1]}" if len(g) >= 3 else ", ".join(map(str, g)) for g in groups)


def seeds_text(runs):
    """The runs' seeds, and those of a metric run on fewer (a preset's ``seeds_of``): "0-4 (lamp: 0-2)"."""
    every = sorted(runs["seed"].unique())
    fewer = {m: sorted(g.seed.unique()) for m, g in runs.groupby("importance", sort=False) if g.seed.nunique() < len(every)}
    return seed_list(every) + (f" ({'; '.join(f'{m}: {seed_list(s)}' for m, s in fewer.items())})" if fewer else "")


# How a reader names the models and datasets (captions and titles; tables keep the settings' ids).
NAMES = {"lenet_300_100": "LeNet-300-100", "resnet8_16": "ResNet-8-16", "resnet20": "ResNet-20", "vgg16": "VGG-16",
         "vgg16_8": "VGG-16 at 1/8 width", "resnet18": "ResNet-18", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
         "tinyimagenet": "TinyImageNet"}


def setting_name(preset, setting):
    """A setting as a reader names it, e.g. "ResNet-20 on CIFAR-10"."""
    s = presets.get(preset).settings[setting]
    return f"{NAMES.get(s['model'], s['model'])} on {NAMES.get(s['dataset'], s['dataset'])}"


def caption(preset, runs):
    """Which preset, settings (to which round and sparsity) and seeds a figure shows, on one line (a title wraps
    it), e.g. "LeNet-300-100 on MNIST to round 24 (99.53 % sparse); preset=paper, seeds 0-2", or for several
    settings "preset=paper, seeds 0-2: LeNet-300-100 on MNIST to round 24 (99.53 % sparse); ResNet-20 on ...",
    the dataset named once where they share it ("preset=small, Fashion-MNIST, seeds 0-4: LeNet-300-100 to round
    24 ..."): what a preset does not reach, its figures cannot show."""
    settings, seeds = list(runs["setting"].unique()), seeds_text(runs)
    if len(settings) == 1:
        return f"{reached(preset, runs, settings[0])}; preset={preset}, seeds {seeds}"
    datasets = {presets.get(preset).settings[s]["dataset"] for s in settings}
    if len(datasets) == 1:  # named once
        [dataset] = datasets
        return (f"preset={preset}, {NAMES.get(dataset, dataset)}, seeds {seeds}: "
                + "; ".join(reached(preset, runs, s, dataset=False) for s in settings))
    return f"preset={preset}, seeds {seeds}: " + "; ".join(reached(preset, runs, s) for s in settings)


def reached(preset, runs, setting, dataset=True):
    """A setting and how far its runs go: "LeNet-300-100 on MNIST to round 24 (99.53 % sparse)" (``dataset``
    False: "LeNet-300-100 to round 24 ...")."""
    rounds, model = int(runs[runs.setting == setting]["rounds"].max()), presets.get(preset).settings[setting]["model"]
    return (f"{setting_name(preset, setting) if dataset else NAMES.get(model, model)} to round {rounds} "
            f"({100 * (1 - (1 - fraction(preset, setting)) ** rounds):.2f} % sparse)")


def fraction(preset, setting):
    return presets.get(preset).settings[setting]["prune_fraction"]


def ticket_runs(runs_dir, preset):
    """The runs Section 5 compares (the preset's ``tickets``), after checking that each seed's runs share theta_0 and
    round 0 bitwise."""
    runs = analysis.ticket_runs(runs_folder(runs_dir), preset)
    section5.by_seed(runs)  # raises unless the metrics of a seed start from one dense network
    return runs


def last_round(runs):
    return int(analysis.accuracy(runs)["round"].max())


def overlap_by_round(runs_dir, preset):
    """Figure 7's table: per seed, round and followed layer (and "all"), the share of a ticket's unpruned connections
    that every ticket keeps, observed and by chance (%)."""
    runs = ticket_runs(runs_dir, preset)
    ov = section5.overlap_over_rounds(runs, range(last_round(runs) + 1))
    followed = ["all", *analysis.followed_layers(runs.path.iloc[0]).values()]
    return ov[ov.layer.isin(followed)].assign(observed=lambda d: 100 * d.overlap_of_kept,
                                              chance=lambda d: 100 * d.expected_of_kept)


def drift(runs_dir, preset):
    """Figure 3's table: per seed, metric and round from 1, the mean distance from theta_0 of the input layer's
    shared and other unpruned connections (``section5.drift_over_rounds``), ``connections`` naming which."""
    runs = ticket_runs(runs_dir, preset)
    layer = analysis.recorded_roles(runs.path.iloc[0])["input"]
    d = section5.drift_over_rounds(runs, layer, range(1, last_round(runs) + 1))
    return d.assign(connections=d.overlapping.map({True: "shared", False: "not shared"}))


def connections(runs_dir, preset):
    """The connection table (section5.connection_table) of every seed at rounds R/3, 2R/3 and R of Section 5,
    computed once per sweep and kept in $LTH_RUNS/tables/ (computed anew when its runs or the table's code change)."""
    runs, t = ticket_runs(runs_dir, preset), presets.get(preset).tickets
    rounds = sorted({r for r in (t["round"] // 3, 2 * t["round"] // 3, t["round"]) if r > 0})
    code = inspect.getsource(section5.connection_table)  # a table of other columns is computed anew
    key = hashlib.sha1(json.dumps([sorted(p.name for p in runs.path), rounds, code]).encode()).hexdigest()[:12]
    cache = runs_folder(runs_dir) / "tables" / f"{preset}-connections.pkl"
    if cache.exists():
        saved = pd.read_pickle(cache)
        if saved["key"] == key:
            return saved["table"]
    table = pd.concat([section5.connections_at(runs, r) for r in rounds], ignore_index=True)
    table["connections"] = table.overlapping.map({True: "shared", False: "not shared"})
    # Categories, not strings: a ResNet-18 sweep has tens of millions of rows, which seaborn groups 3x faster so.
    table = table.astype({c: "category" for c in ("metric", "layer", "connections")})
    cache.parent.mkdir(parents=True, exist_ok=True)
    with store.atomic(cache) as tmp:  # several notebooks may compute it at once (make -j)
        pd.to_pickle({"key": key, "table": table}, tmp, compression=None)
    return table
