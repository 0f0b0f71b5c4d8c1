"""What each notebook receives (lth/report/figures.py and study.py make them): one typed view per table or figure,
its fields the tidy tables it plots and the caption naming the preset, settings and seeds that made them.

Tables are pandas DataFrames; ``ylim``-like fields are (low, high) pairs; every percentage is in %.
"""

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Tables:
    """Table 1, Table 2 and the extra metrics' table: ``table`` and its ``caption``; Table 2's and the extra's also
    ``paired`` (each metric minus magnitude, seed by seed) and its ``paired_caption``."""

    table: pd.DataFrame
    caption: str
    paired: pd.DataFrame = None
    paired_caption: str = ""


@dataclass
class Axes:
    """Figure 4's axes for one setting, scaled to the runs that hold: the accuracy rows its means are of
    (``held``), ``ylim``, the runs it draws alone (``outside``), and the same for the difference panel
    (``difference``: every row; ``diff_held``, ``diff_ylim``, ``diff_outside``)."""

    ylim: tuple
    held: pd.DataFrame
    outside: pd.DataFrame
    difference: pd.DataFrame
    diff_held: pd.DataFrame
    diff_ylim: tuple
    diff_outside: pd.DataFrame


@dataclass
class Accuracy(Axes):
    """Figure 4, one setting: ``accuracy`` (a row per run and round), ``dense`` (round 0's mean accuracy), ``paper``
    (its values, if any), ``fraction`` pruned a round, ``alone`` (why there is no difference panel, or "")."""

    name: str
    accuracy: pd.DataFrame
    dense: float
    paper: pd.DataFrame
    fraction: float
    caption: str
    alone: str


@dataclass
class Figure4:
    settings: list  # of Accuracy
    data: pd.DataFrame  # every row plotted
    paired: bool  # some setting runs a metric beside magnitude


@dataclass
class FinalDensity:
    """Figure 8, one setting: each layer's ``density`` in the final ticket (a row per run and layer), the layers'
    ``labels`` by depth, the network's and its pruned layers' density (%) at that round, the panel's ``title``."""

    name: str
    density: pd.DataFrame
    labels: list
    network_density: float
    pruned_density: float
    title: str


@dataclass
class Figure8:
    settings: list  # of FinalDensity
    data: pd.DataFrame
    notes: list  # of str: what a setting's kept-dense layer does to the network's sparsity


@dataclass
class LayerPanel:
    """Figures 2, 9 and 10, one panel: a layer's ``density`` over the rounds, its setting's ``network`` density, the
    layer's ``role`` and ``label``, whether the setting keeps it ``dense``."""

    setting: str
    name: str
    role: str
    layer: str
    label: str
    dense: bool
    density: pd.DataFrame
    network: pd.DataFrame
    fraction: float


@dataclass
class LayerPanels:
    panels: list  # of LayerPanel
    data: pd.DataFrame
    why: str  # why there is no panel, where there is none
    caption: str
    notes: list  # of str: what a setting's kept-dense layer does to the network's sparsity


@dataclass
class SparsestLayer:
    """The collapse figure, one setting: each run's sparsest layer's density per round (``sparsest``, with its
    ``test_accuracy`` and ``at_chance``), ``collapsed`` ("collapsed at round 22: minmax 2 of 3 runs"), and the
    first round from which every run is at chance (``chance_from``, None where none is)."""

    name: str
    sparsest: pd.DataFrame
    fraction: float
    caption: str
    collapsed: str
    chance_from: int | None = None


@dataclass
class Collapse:
    runs: pd.DataFrame  # per run: the first round with a fully pruned layer, the last ticket's sparsest layer
    table: pd.DataFrame  # per setting and metric: how many runs collapse, when, which layers
    caption: str
    settings: list  # of SparsestLayer
    data: pd.DataFrame


@dataclass
class Tickets:
    """Section 5's tickets (one setting, several metrics from one theta_0): which were ``checked`` to share theta_0
    and round 0, the ``round`` compared, its ``sparsity`` (%), ``fraction`` pruned a round."""

    checked: str
    caption: str
    round: int
    sparsity: float
    fraction: float


@dataclass
class Overlap(Tickets):
    table: pd.DataFrame  # per layer and over all: connections every ticket keeps, against chance
    jaccard: pd.DataFrame  # per pair of metrics


@dataclass
class Figure7(Tickets):
    panels: dict  # {layer or "all": its title}
    overlap: pd.DataFrame  # per seed, round and panel: observed and chance share (%)
    rounds: list


@dataclass
class Connections(Tickets):
    """Figures 1, 5 and 6: ``connections`` (a row per unpruned connection: shared or not, its std over rounds, sign
    flip, distance from theta_0), ``table`` (pooled and layer-matched), ``layers`` (within each layer), ``findings``
    and ``note`` (Figure 1: a sentence per quantity; Figures 5 and 6: {"std": ..., "flips": ...}, for the tables' titles); Figure 1 also ``mix`` (each
    layer's share of the weights, shared and not shared) and ``metrics``; Figures 5 and 6 ``rounds``."""

    connections: pd.DataFrame = None
    table: pd.DataFrame = None
    layers: pd.DataFrame = None
    findings: list = field(default_factory=list)
    note: object = None
    mix: pd.DataFrame = None
    metrics: list = field(default_factory=list)
    rounds: list = field(default_factory=list)


@dataclass
class Drift(Tickets):
    """Figure 3: the input ``layer``'s shared and other connections' mean distance from theta_0 (``drift``), the
    fewest and most connections a "not shared" point rests on per metric (``not_shared``), the panels' ``titles``
    and ``metrics``."""

    layer: str
    drift: pd.DataFrame
    rounds: list
    not_shared: dict
    titles: dict
    metrics: list


@dataclass
class Reinit(Tickets):
    table: pd.DataFrame  # per layer: connections kept from theta_0 that survive, against chance


@dataclass
class Glance:
    """The README's results at a glance (``figures.glance_view`` says what each field holds)."""

    points: pd.DataFrame
    missing: pd.DataFrame
    noise: list
    level: float
    xlim: tuple
    ylim: tuple
    settings: list
    verdicts: pd.DataFrame
    note: str
    preset: str
    caption: str
    data: pd.DataFrame


@dataclass
class Regime:
    """The regime study (lth/report/study.py): ``table`` (per run and judged round), ``gaps`` (paired, per seed),
    ``summary`` (per arm and round), ``paper`` ({setting: the sum of lr x weight decay a round of the paper's
    setting sees})."""

    table: pd.DataFrame
    gaps: pd.DataFrame
    summary: pd.DataFrame
    paper: dict
    caption: str
