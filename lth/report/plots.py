"""The look every figure shares: one colour, line style and marker per metric, in every figure; one colour
each for shared and not shared connections; round axes in whole rounds with their sparsity on top; bands
that show the range over seeds. Where a figure and its numbers are written: lth/report/output.py.
"""

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, MultipleLocator, NullFormatter
from matplotlib.transforms import offset_copy

from lth.importance import IMPORTANCE, OPTIONAL, PAPER
from lth.presets import ordered
from lth.report.evidence import seed_list

# Okabe & Ito's colour-blind-safe palette (yellow left out: too pale on white), then grey for the control.
_COLOURS = ["#000000", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#E69F00", "#7F7F7F", "#56B4E9",
            "#882255", "#44AA99", "#999933", "#AA4499"]  # then four of Paul Tol's muted colours: the optional metrics
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
METRICS = [*IMPORTANCE, *OPTIONAL]  # the registry's metrics (IMPORTANCE, then OPTIONAL), in its order: each keeps its style
PALETTE = {m: _COLOURS[i % len(_COLOURS)] for i, m in enumerate(METRICS)}
MARKERS = {m: _MARKERS[i % len(_MARKERS)] for i, m in enumerate(METRICS)}
DASHES = {m: "" if m in PAPER else (4, 2) for m in METRICS}  # the paper's metrics solid, the others dashed
CONNECTIONS = {"shared": "#D55E00", "not shared": "#7F7F7F"}  # Figures 1, 3, 5, 6
RANGE = ("pi", 100)  # seaborn's errorbar for the band from the lowest to the highest seed

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "font.size": 10, "axes.titlesize": 10, "figure.titlesize": 11,
                     "legend.fontsize": 9, "axes.spines.top": False, "axes.spines.right": False})


def metrics_in(df, column="importance"):
    """The metrics present in ``df``, in the registry's order, then metrics of your own (``module:function``)."""
    return ordered(df[column].unique())


def colour(metric):
    """A metric's colour: the registry's, or for a metric of your own one after the registry's, by its name."""
    return PALETTE.get(metric) or _COLOURS[(len(METRICS) + sum(map(ord, metric))) % len(_COLOURS)]


def _styles(order):
    """seaborn's palette, dashes and markers for the metrics ``order``, a metric of your own dotted."""
    return dict(palette={m: colour(m) for m in order}, dashes={m: DASHES.get(m, (1, 1)) for m in order},
                markers={m: MARKERS.get(m, "*") for m in order})


# More metrics than this on one panel draw their markers at every STAGGER-th point, each metric from its own
# offset, so that seven metrics on the same values do not hide each other's markers (Figure 4 before round 15).
STAGGER = 3


def _positive_range(values):
    """The band of a log axis: from the lowest seed above 0 to the highest (a run with no weight left is a cross on
    the edge, ``zeros``, not a band down to the axis' end)."""
    kept = values[values > 0]
    return (kept.min(), kept.max()) if len(kept) else (math.nan, math.nan)


def lines(df, x, y, ax, hue="importance", log=False, **kw):
    """Mean over seeds with the range over seeds as a band, one line per metric, each in its own style; on a ``log``
    axis the band spans the seeds above 0 and a mean of 0 breaks the line (``log_axis``)."""
    order = metrics_in(df, hue)
    sns.lineplot(df, x=x, y=y, hue=hue, style=hue, hue_order=order, style_order=order, **_styles(order),
                 errorbar=_positive_range if log else RANGE, markersize=5, ax=ax, **kw)
    if len(order) > STAGGER and df[x].nunique() > 2 * STAGGER:  # markers where the others' are not
        for line in ax.get_lines():
            metric = next((m for m in order if line.get_color() == colour(m)), None)
            if metric and len(line.get_xdata()):
                line.set_markevery((order.index(metric) % STAGGER, STAGGER))


def _percent(p):
    return f"{p:.0f}" if p < 99 else f"{p:.1f}" if p < 99.9 else f"{p:.2f}"


def rounds_axis(ax, rounds, fraction):
    """Whole pruning rounds below, and the sparsity some of them reach, 1 - (1 - fraction)^round, on top."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("pruning round")
    top = ax.secondary_xaxis("top")
    ticks = [r for r in ax.get_xticks() if 0 <= r <= max(rounds)]
    ticks = ticks[::-(-len(ticks) // 5)]  # at most five: legible on a narrow panel
    top.set_xticks(ticks, [_percent(100 * (1 - (1 - fraction) ** r)) for r in ticks])
    top.set_xlabel("network sparsity (%)")


class _Log125(LogLocator):
    """Ticks at 1, 2 and 5 times the powers of ten over at most three decades where the axis has room for their
    labels, at the powers of ten alone otherwise."""

    def tick_values(self, vmin, vmax):
        low, high = sorted((vmin, vmax))
        room = self.axis.get_tick_space() if self.axis is not None else 9  # labels that fit along the axis
        crowded = low <= 0 or high / low > 1e3 or 3 * (math.log10(high / low) + 1) > room
        self.set_params(subs=(1.0,) if crowded else (1.0, 2.0, 5.0))
        return super().tick_values(vmin, vmax)


def log_axis(ax):
    """A log-scale y axis with ticks at 1, 2 and 5 times the powers of ten (at the powers alone over more than three
    decades), labelled as plain numbers (0.2, 50)."""
    ax.set_yscale("log", nonpositive="mask")  # a mean of 0 breaks the line, never drawn down the axis
    ax.yaxis.set_major_locator(_Log125(base=10))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def difference_axis(ax, ylim):
    """A linear y axis for differences in points over ``ylim``: a line at 0 and a light grid at every point (or
    every 2, 5, ... where the range is wide), so that a gap of +1.9 reads apart from one of +3.5."""
    ax.set_ylim(ylim)
    ax.yaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10], integer=True, nbins=8))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:+g}" if y else "0"))
    if ylim[1] - ylim[0] <= 20:
        ax.yaxis.set_minor_locator(MultipleLocator(1))
    ax.grid(axis="y", which="both", color="0.9", lw=0.6)
    ax.axhline(0, color="k", lw=1)


OFF_LABEL = "a run off the scale, left out of the mean (triangle: off the axis)"


def mark_off(ax, off, y, ylim, digits=1):
    """Each run a panel leaves out of its means (rows of ``lth.report.figures._off``), in its metric's colour: an open
    circle at its value where it is on the axis, else a triangle at the edge, pointing out (side by side where
    several leave at one round); per edge, a note in the corner opposite the late rounds names each metric's
    rounds there and its furthest value; one entry in the figure's legend (``legend_outside``)."""
    ax.set_ylim(ylim)
    if off is None or not len(off):
        return
    on = off[off.side == "on"]
    ax.scatter(on["round"], on[y], marker="o", s=26, facecolor="none", edgecolor=on.importance.map(colour),
               linewidth=1.2, zorder=6)
    edge = ax.get_xaxis_transform()  # x in data, y in axes coordinates
    for side, marked in off[off.side != "on"].groupby("side", sort=False):
        at, marker, furthest = (0, "v", min) if side == "below" else (1, "^", max)
        nth, count = marked.groupby("round").cumcount(), marked.groupby("round")["round"].transform("size")
        ax.scatter(marked["round"] + 0.6 * (nth - (count - 1) / 2) / count.clip(lower=2), [at] * len(marked),
                   transform=edge, marker=marker, s=24, color=marked.importance.map(colour), edgecolor="k",
                   linewidth=0.4, zorder=6, clip_on=False)
        notes = [f"{m}: round{'s' if d['round'].nunique() > 1 else ''} {seed_list(sorted(set(map(int, d['round']))))} "
                 f"({len(d)} run{'s' if len(d) > 1 else ''}, {'lowest' if at == 0 else 'highest'} "
                 f"{furthest(d[y]):{'+' if y == 'difference' else ''}.{digits}f})"
                 for m in metrics_in(marked) for d in [marked[marked.importance == m]]]
        ax.text(0.02, 0.04 if at == 0 else 0.96, f"{side} the axis: " + "\n".join(notes), transform=ax.transAxes,
                ha="left", va="bottom" if at == 0 else "top", fontsize=7.5, zorder=7,
                bbox=dict(facecolor="white", edgecolor="0.8", alpha=0.9, boxstyle="round,pad=0.25"))
    ax.add_line(plt.Line2D([], [], ls="", marker="v", markersize=6, color="0.6", markeredgecolor="k", label=OFF_LABEL))


def accuracy_panel(ax, s, title_width=55):
    """Figure 4's upper panel for setting ``s`` (lth.report.figures.figure4): each metric's accuracy over the rounds
    (mean and band of the runs that hold, ``s.held``), the dense accuracy dashed, the paper's values as crosses where
    it reports them, the axis scaled to the runs that hold (``s.ylim``) and the others drawn alone (``mark_off``);
    the setting's caption wrapped at ``title_width``."""
    lines(s.held, "round", "test_accuracy", ax)
    ax.axhline(s.dense, ls="--", color="k", lw=1, label="dense")
    if len(s.paper):
        ax.scatter(s.paper["round"], s.paper["value"], c=s.paper.importance.map(colour), marker="x", s=50, zorder=5,
                   label="paper")
    mark_off(ax, s.outside, "test_accuracy", s.ylim)
    rounds_axis(ax, s.accuracy["round"], s.fraction)
    ax.set(title=wrapped(s.caption.split("\n"), title_width), ylabel="top-1 test accuracy (%)")


def difference_panel(ax, s, why=""):
    """Figure 4's lower panel for setting ``s`` (lth.report.figures.figure4): each metric's accuracy minus magnitude's,
    seed by seed, over the rounds (mean and band of the pairs that hold, ``s.diff_held``), on a linear axis scaled
    to them (``s.diff_ylim``), the others drawn alone (``mark_off``); where the setting runs no metric beside
    magnitude, the panel says ``why`` instead."""
    if s.difference.empty:
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    lines(s.diff_held, "round", "difference", ax)
    difference_axis(ax, s.diff_ylim)
    mark_off(ax, s.diff_outside, "difference", s.diff_ylim)
    rounds_axis(ax, s.difference["round"], s.fraction)
    ax.set(ylabel="minus magnitude, same seed (points)")


SAME_DOSE, SIDE, ARM_MARKERS = 1.25, 1.15, "osD^"  # regime_panel: arms within 25 % of a decay, drawn 15 % apart


def regime_panel(ax, gaps, title, paper=None):
    """The regime study (lth.report.study): one metric's gap to magnitude at one round, seed by seed (a point each,
    spread a little sideways), against the sum of lr x weight decay a round sees (log axis), the median over seeds
    joined across the arms; a pair of runs both at chance is drawn as a grey cross on 0 ("at chance": no gap);
    ``paper``: the paper's setting's sum, a dotted line."""
    decays = sorted(gaps.lr_x_weight_decay.unique())
    # arms at about the same decay (within SAME_DOSE) share a tick and sit side by side, each with its marker
    clusters = [[decays[0]]]
    for d in decays[1:]:
        if d < clusters[-1][0] * SAME_DOSE:
            clusters[-1].append(d)
        else:
            clusters.append([d])
    place = {d: (c[0] * SIDE ** (2 * j - len(c) + 1), ARM_MARKERS[j]) for c in clusters for j, d in enumerate(c)}
    if paper:
        ax.axvline(paper, color="0.4", ls=":", lw=1, label="the paper's setting")
    for i, (decay, g) in enumerate(gaps.groupby("lr_x_weight_decay")):
        x, marker = place[decay]
        spread = x * 1.06 ** (g.seed.rank(method="first") - (len(g) + 1) / 2)
        real = g.gap_points.notna()
        ax.scatter(spread[real], g.gap_points[real], s=22, color=colour(g.metric.iloc[0]), edgecolor="k", marker=marker,
                   linewidth=0.4, zorder=4, label=f"{g.metric.iloc[0]} minus magnitude, one seed" if i == 0 else
                   f"{g.metric.iloc[0]}, the arm beside: {g.arm.iloc[0]}" if marker != "o" else None)
        ax.scatter(spread[~real], [0] * (~real).sum(), marker="x", s=28, color="0.5", zorder=4,
                   label="both at chance (no gap)" if (~real).any() else None)
    medians = gaps.groupby("lr_x_weight_decay").gap_points.median()
    ax.plot([place[d][0] for d in medians.index], medians.values, color="k", lw=1, zorder=3, label="median over seeds")
    ax.set_xscale("log")
    ax.set_xticks([c[0] for c in clusters], [f"{c[0]:.2g}" for c in clusters], rotation=30)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(min(decays[0], paper or decays[0]) / 1.6, max(decays[-1], paper or decays[-1]) * 1.6)
    values = gaps.gap_points.dropna()
    top = max(2.0, float(values.abs().max()) * 1.1) if len(values) else 2.0
    difference_axis(ax, (-top, top))
    ax.set(title=title, xlabel="sum of lr x weight decay over a round", ylabel="minus magnitude, same seed (points)")


def share_y(axes):
    """One y range for panels that are compared with each other: the union of their own."""
    lows, highs = zip(*(ax.get_ylim() for ax in axes))
    for ax in axes:
        ax.set_ylim(min(lows), max(highs))


def network_lines(ax, network, x="round"):
    """The network's density (%) over every prunable layer, dotted, and where the setting keeps a layer dense, the
    pruned layers' own, dash-dotted (rows of ``lth.report.figures._network``); horizontal lines where ``network`` is one
    row (Figure 8)."""
    ax.plot(network[x], network.network_density, ls=":", color="k", lw=1.5, label="network (every layer)")
    if network.pruned_density.notna().any():
        ax.plot(network[x], network.pruned_density, ls="-.", color="k", lw=1, label="pruned layers only")


def zeros(ax, density, x, y="layer_density"):
    """A cross on the bottom edge, in the metric's colour, for each run whose layer has no weight left (``y`` = 0,
    which a log axis cannot show), and a legend entry."""
    cut = density[density[y] == 0]
    if len(cut):
        ax.scatter(cut[x], [0] * len(cut), transform=ax.get_xaxis_transform(), c=cut.importance.map(colour),
                   marker="x", s=30, zorder=6, clip_on=False)
        ax.plot([], [], ls="", marker="x", color="k", label="a run with no weight left in the layer")


def legend_outside(fig, axes, columns=4):
    """One legend for the whole figure, under it (never over the data), with the handles of every axis (a setting
    may run fewer metrics than another), metrics in the registry's order, then the rest; the axes' own legends go."""
    found = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            found.setdefault(label, handle)
        if ax.get_legend():
            ax.get_legend().remove()
    metrics = ordered([label for label in found if label in PALETTE or ":" in label])
    labels = metrics + [label for label in found if label not in metrics]
    handles = [found[label] for label in labels]
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), columns), frameon=False)


def grid(n, columns=2, width=4.2, height=3.4):
    """Axes for ``n`` panels, at most ``columns`` per row: about 8 inches wide at most, so that the text stays
    legible where GitHub shows the PNG at about 1000 pixels."""
    rows, cols = -(-n // columns), min(n, columns)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.6), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, list(axes.flat[:n])


def layer_panels(panels, title, columns, why=""):
    """Figures 2, 9 and 10: one panel per followed layer (rows of ``lth.report.figures._layer_panels``), its density over
    the rounds per metric on a log axis (1 % and 0.03 % dense apart), beside the network's density and, where the
    setting keeps a layer dense, the pruned layers' own; one y range for all (they are compared); a kept-dense
    layer's panel says so. ``title(panel)`` names a panel; with no panel, the figure says ``why``."""
    if not panels:
        fig, (ax,) = grid(1, height=1.5)
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    fig, axes = grid(len(panels), columns=columns, width=8.4 / columns, height=8.4 / columns + 0.3)
    for ax, p in zip(axes, panels):
        lines(p.density, "round", "layer_density", ax, log=True)
        network_lines(ax, p.network)
        zeros(ax, p.density, "round")
        log_axis(ax)
        rounds_axis(ax, p.density["round"], p.fraction)
        ax.set(title=title(p), ylabel="layer density (%)")
        if p.dense:
            ax.text(0.04, 0.06, "kept dense:\nnever pruned", ha="left", va="bottom", transform=ax.transAxes)
    share_y(axes)
    legend_outside(fig, axes)
    return fig


def layer_profile(ax, s):
    """Figure 8's panel for setting ``s`` (``lth.report.figures.figure8``): each layer's density in the final ticket
    against its depth, per metric, on a log axis, beside the network's density and, where the setting keeps a layer
    dense, the pruned layers' own."""
    lines(s.density, "depth", "layer_density", ax, log=True)
    for label, y, ls, lw in (("network (every layer)", s.network_density, ":", 1.5),
                             ("pruned layers only", s.pruned_density, "-.", 1)):
        if pd.notna(y):
            ax.axhline(y, ls=ls, color="k", lw=lw, label=label)
    zeros(ax, s.density, "depth")
    log_axis(ax)
    ax.set_ylim(top=130)  # 100 %, a dense layer, in view
    ax.set_xticks(range(len(s.labels)), s.labels, rotation=90)
    ax.set(title=wrapped([s.title], 100), xlabel="layer, input to output", ylabel="layer density in the final ticket (%)")


# Figures 1, 5 and 6: shared, not shared, and not shared weighted to the shared ones' layer mix, as
# lth.report.section5.layer_matched names them (section5.GROUPS).
GROUPS = {**CONNECTIONS, "not shared, layer-matched": "#BDBDBD"}
HATCHES = {"not shared, layer-matched": "////"}


def _slots(ax, stats, x):
    """Where each group goes: one slot per value of ``x`` (in its order in ``stats``), the groups side by side."""
    values, width = list(dict.fromkeys(stats[x])), 0.8 / len(GROUPS)
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    return {(v, g): i - 0.4 + width * (j + 0.5) for i, v in enumerate(values) for j, g in enumerate(GROUPS)}, width


def group_boxes(ax, stats, x):
    """Per value of ``x``, a box per group of ``stats`` (rows of lth.report.section5.layer_matched) on a log axis: the
    median, the quartiles, whiskers at the 5th and 95th percentiles, the mean as a white dot."""
    slots, width = _slots(ax, stats, x)
    labelled = set()
    for row in stats.itertuples():
        if not row.connections or row.std_p50 != row.std_p50:
            continue
        box = dict(med=row.std_p50, q1=row.std_p25, q3=row.std_p75, whislo=row.std_p5, whishi=row.std_p95,
                   mean=row.mean_std, fliers=[])
        drawn = ax.bxp([box], positions=[slots[getattr(row, x), row.group]], widths=0.9 * width, showmeans=True,
                       patch_artist=True, manage_ticks=False, medianprops=dict(color="k"),
                       boxprops=dict(facecolor=GROUPS[row.group], hatch=HATCHES.get(row.group), edgecolor="0.25"),
                       meanprops=dict(marker="o", markerfacecolor="white", markeredgecolor="k", markersize=3))
        if row.group not in labelled:
            drawn["boxes"][0].set_label(row.group)
            labelled.add(row.group)
    ax.set_yscale("log", nonpositive="mask")  # a mean of 0 breaks the line, never drawn down the axis


def group_bars(ax, stats, x, y):
    """Per value of ``x``, a bar per group of ``stats`` (rows of lth.report.section5.layer_matched): its ``y``."""
    slots, width = _slots(ax, stats, x)
    labelled = set()
    for row in stats.itertuples():
        ax.bar(slots[getattr(row, x), row.group], getattr(row, y), width=width, color=GROUPS[row.group],
               hatch=HATCHES.get(row.group), edgecolor="0.25", lw=0.5,
               label=None if row.group in labelled else row.group)
        labelled.add(row.group)


def connections_by_metric(stats, draw, ylabel, **kw):
    """Figures 5 and 6: one panel per metric, the groups of lth.report.section5.layer_matched side by side at each round;
    ``draw`` is ``group_boxes`` or ``group_bars`` (given ``kw``)."""
    metrics = metrics_in(stats, "metric")
    fig, axes = grid(len(metrics), columns=3, width=2.8, height=3.2)
    for ax, m in zip(axes, metrics):
        draw(ax, stats[stats.metric == m], "round", **kw)
        ax.set(title=m, xlabel="pruning round", ylabel=ylabel)
    share_y(axes)  # the metrics' panels are compared
    legend_outside(fig, axes, columns=3)
    return fig


def layer_mix(ax, mix):
    """Figure 1's last panel: per layer, input to output, its share of the shared and of the not-shared connections
    (bars) and of the network's weights (a black dash), from lth.report.figures._layer_mix."""
    ax.bar(mix.depth - 0.2, mix.shared_percent, 0.4, color=GROUPS["shared"])
    ax.bar(mix.depth + 0.2, mix.not_shared_percent, 0.4, color=GROUPS["not shared"])
    ax.scatter(mix.depth, mix.weights_percent, marker="_", s=200, color="k", zorder=5,
               label="the layer's share of the weights")
    ax.set_xticks(mix.depth, mix.label, rotation=60, ha="right", fontsize=8)
    ax.set(title="where the connections are", ylabel="share of the group's connections (%)")


def wrapped(lines, width=110):
    """``lines`` wrapped at ``width`` characters, for a figure's title (which the layout makes room for)."""
    return "\n".join(textwrap.fill(line, width) for line in lines)


# A collapsed run in the collapse figure: a marker no metric has (MARKERS), on a strip below the log axis.
COLLAPSED = "$\\varnothing$"


def collapse_panel(ax, sparsest, fraction, chance_from=None):
    """The collapse figure's panel: each metric's sparsest layer's density (%) over the rounds, on a log axis, the
    median over seeds with the range over seeds; every run counts, a collapsed one (a layer at 0 %) at 0, on a grey
    strip below the axis labelled "0 (collapsed)", where each metric with a collapsed run gets a mark (side by
    side where several do; hollow where the run was already at chance: it had stopped learning), and the figure's
    legend an entry; the rounds from ``chance_from`` on, where every run is at chance, hatched."""
    positive = sparsest.layer_density[~sparsest.collapsed]
    low = 10 ** math.floor(math.log10(positive.min() if len(positive) else 1))  # at or below every other run
    zero = low / 5
    lines(sparsest.assign(layer_density=sparsest.layer_density.where(~sparsest.collapsed, zero)), "round",
          "layer_density", ax, estimator="median")
    log_axis(ax)
    ticks = [t for t in _Log125(base=10).tick_values(low, 100) if low <= t <= 100]  # 1, 2, 5 over 3 decades at most
    ax.set_yticks([zero, *ticks], ["0 (collapsed)", *[f"{t:g}" for t in ticks]])
    ax.set_ylim(low / 12, 150)
    ax.axhspan(low / 12, low / 2.4, color="0.92", lw=0, zorder=0)
    cut = sparsest[sparsest.collapsed]
    metrics = metrics_in(cut) if len(cut) else []
    for i, m in enumerate(metrics):
        rows = cut[cut.importance == m]
        stopped = rows.at_chance.to_numpy(bool) if "at_chance" in rows else np.zeros(len(rows), bool)
        ax.scatter(rows["round"] + 0.25 * (i - (len(metrics) - 1) / 2), [zero] * len(rows), marker=COLLAPSED, s=70,
                   facecolor=[("white" if s else colour(m)) for s in stopped], edgecolor=colour(m), zorder=6,
                   clip_on=False)
    if len(cut):
        ax.add_line(plt.Line2D([], [], ls="", marker=COLLAPSED, markersize=9, color="k",
                               label="a collapsed run: a layer at 0 %, drawn at 0"))
    if len(cut) and "at_chance" in cut and cut.at_chance.any():
        ax.add_line(plt.Line2D([], [], ls="", marker=COLLAPSED, markersize=9, color="k", markerfacecolor="white",
                               label="hollow: the run already at chance"))
    if chance_from is not None:
        ax.axvspan(chance_from - 0.5, sparsest["round"].max() + 0.5, facecolor="none", edgecolor="0.6", hatch="//",
                   lw=0, zorder=0, label="every run at chance (stopped learning)")
    rounds_axis(ax, sparsest["round"], fraction)
    ax.set(ylabel="sparsest layer's density (%)")


# --- Results at a glance (lth.report.figures.glance): the paper's gaps beside ours, every claim's verdict ---

VERDICTS = {"reproduced": ("#009E73", "white"), "partly": ("#E69F00", "black"), "not shown": ("#D9D9D9", "black"),
            "not reproduced": ("#D55E00", "white"), "contradicted": ("#882255", "white"),
            "observation": ("#FFFFFF", "black")}  # (box, text)
REGIONS = {"agree": "#009E73", "opposite": "#D55E00"}
SETTING_MARKERS = ["o", "s", "^", "D", "v", "P"]  # in the glance figure a marker is a setting (colour: the metric)


def _regions(ax, v):
    """The glance panel's background: where the paper gives a gap (beyond its "about equal"), the quadrants where
    ours has the paper's sign green and the others orange (within "about equal" the paper's sign means nothing:
    no shade); where both are about equal, green; our noise a grey band, the paper's "about equal" a hatched one."""
    from matplotlib.patches import Rectangle

    (x0, x1), (y0, y1), w = v.xlim, v.ylim, v.level
    for (a, b), (c, d), kind in (((w, x1), (0, y1), "agree"), ((x0, -w), (y0, 0), "agree"),
                                 ((x0, -w), (0, y1), "opposite"), ((w, x1), (y0, 0), "opposite")):
        ax.add_patch(Rectangle((a, c), b - a, d - c, color=REGIONS[kind], alpha=0.10, lw=0, zorder=0))
    for n in v.noise:
        ax.axhspan(-n, n, color="0.55", alpha=0.22, lw=0, zorder=0.5)
        ax.add_patch(Rectangle((-v.level, -n), 2 * v.level, 2 * n, color=REGIONS["agree"], alpha=0.25, lw=0,
                               zorder=0.6))
    ax.axvspan(-v.level, v.level, fill=False, hatch="////", edgecolor="0.7", lw=0, zorder=0.4)
    ax.axhline(0, color="0.3", lw=0.8, zorder=1)
    ax.axvline(0, color="0.3", lw=0.8, zorder=1)
    lo, hi = max(x0, y0), min(x1, y1)
    if lo < hi:
        ax.plot([lo, hi], [lo, hi], ls=":", color="0.3", lw=1, zorder=1)


def gap_axes(ax, v):
    """Both axes of the glance panel in points on an asinh scale: linear within the paper's "about equal" (±1
    point), logarithmic beyond, so that a gap of +0.5 and one of +32 both read; the same scale on both, so that
    "ours = the paper's" is the diagonal. Ticks at 0, ±1, ±2, ±5, ±10, ±20, ±50, a light grid at each."""
    ticks = [s * t for t in (1, 2, 5, 10, 20, 50, 100) for s in (-1, 1)] + [0]
    for axis, (lo, hi), set_scale in ((ax.xaxis, v.xlim, ax.set_xscale), (ax.yaxis, v.ylim, ax.set_yscale)):
        set_scale("asinh", linear_width=v.level)
        axis.set_ticks(sorted(t for t in ticks if lo <= t <= hi))
        axis.set_major_formatter(FuncFormatter(lambda t, _: f"{t:+g}" if t else "0"))
        axis.set_minor_formatter(NullFormatter())
        axis.set_minor_locator(plt.NullLocator())
    ax.set(xlim=v.xlim, ylim=v.ylim)
    ax.grid(which="major", color="white", lw=0.8, zorder=0.8)


DODGE = 9.0  # points between two glance points whose paper gaps would put them on each other


def _dodges(ax, xs):
    """A horizontal offset (points) per x: where paper gaps lie within DODGE of each other on the page, their points
    and bars sit side by side, centred on the gap, rather than on each other (seaborn's dodge, for a scatter)."""
    page = ax.transData.transform([(x, 0) for x in xs])[:, 0] * 72 / ax.figure.dpi if len(xs) else []
    order, groups = sorted(range(len(xs)), key=lambda i: page[i]), []
    for i in order:
        if groups and page[i] - page[groups[-1][-1]] < DODGE:
            groups[-1].append(i)
        else:
            groups.append([i])
    out = [0.0] * len(xs)
    for g in groups:
        for k, i in enumerate(g):
            out[i] = DODGE * (k - (len(g) - 1) / 2)
    return out


def _apart(ax, labels, step=8):
    """Moves each point's label down by ``step`` points until it overlaps no label placed before it (points close
    on the page, or drawn on one another, would otherwise write their labels on each other)."""
    renderer, placed = ax.figure.canvas.get_renderer(), []
    for label in labels:
        for _ in range(len(labels)):
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            x, y = label.xyann
            label.xyann = (x, y - step)
        placed.append(label.get_window_extent(renderer))


# Our gaps beyond this many times the noise level are written beside their point: asinh compresses them.
WRITTEN = 5


def effects_panel(ax, v):
    """Each paper gap to magnitude (x) beside ours (y: mean paired difference over seeds, the bar from the lowest
    to the highest seed), one point per setting (marker), metric (colour) and round (written beside it, with our
    gap where the scale compresses it: beyond ``WRITTEN`` times the noise level); filled
    where the sign test decides, hollow where it does not; points whose paper gaps nearly coincide side by side
    (``_dodges``); the paper's gaps at rounds our runs do not reach as ticks along the bottom. With no point, the
    panel says why."""
    gap_axes(ax, v)
    _regions(ax, v)
    marker = {s: SETTING_MARKERS[i % len(SETTING_MARKERS)] for i, s in enumerate(v.settings)}
    labels = []
    for r, dx in zip(v.points.itertuples(), _dodges(ax, v.points.paper_gap_points)):
        c, at = colour(r.metric), offset_copy(ax.transData, fig=ax.figure, x=dx, units="points")
        ax.errorbar(r.paper_gap_points, r.our_gap_points, yerr=[[r.our_gap_points - r.our_low_points],
                                                                [r.our_high_points - r.our_gap_points]],
                    color=c, lw=1, capsize=2, zorder=3, transform=at)
        ax.plot(r.paper_gap_points, r.our_gap_points, ls="", marker=marker[r.setting], markersize=7, color=c,
                markerfacecolor=c if r.decided else "white", markeredgewidth=1.4, zorder=4, transform=at)
        far = abs(r.our_gap_points) > WRITTEN * v.level  # where asinh compresses: -34 would read near -5
        labels.append(ax.annotate(f"{r.round}: {r.our_gap_points:+.1f}" if far else f"{r.round}",
                                  (r.paper_gap_points, r.our_gap_points), xytext=(dx + 5, 3),
                                  textcoords="offset points", fontsize=7, color="0.25", zorder=5))
    _apart(ax, labels)
    if len(v.missing):
        ax.scatter(v.missing.paper_gap_points, [0.0] * len(v.missing), transform=ax.get_xaxis_transform(),
                   marker="|", s=90, color="0.35", zorder=4, clip_on=False)
    if v.note:
        ax.text(0.5, 0.62, wrapped([v.note], 60), transform=ax.transAxes, ha="center", va="center", fontsize=9,
                bbox=dict(fc="white", ec="0.6", boxstyle="round,pad=0.4"), zorder=6)
    scale = f"asinh scale: linear within ±{v.level:g} point"
    ax.set(xlabel=f"the paper's gap to magnitude (points, Table 2; {scale})",
           ylabel="ours: mean paired gap to magnitude (points)\nbar: lowest to highest seed")
    _effects_legend(ax, v, marker)


def _effects_legend(ax, v, marker):
    """Under the panel, three columns: the metrics; the settings and what a filled point means; the regions."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    metrics = [Patch(color=colour(m), label=m) for m in ordered(v.points.metric.unique())]
    settings = [Line2D([], [], ls="", marker=marker[s], color="0.4", markerfacecolor="0.4", label=wrapped([name], 44))
                for s, name in dict(zip(v.points.setting, v.points.setting_name)).items()]
    if settings:
        settings.append(Line2D([], [], ls="", marker="o", color="0.4", markerfacecolor="white", markeredgewidth=1.4,
                               label="hollow: the sign test does not decide\n(seeds, noise); filled: it does"))
    noise = ", ".join(f"±{n:.2g}" for n in v.noise) + (" point" if v.noise == [1] else " points")
    regions = [Patch(color=REGIONS["agree"], alpha=0.25, label="ours has the paper's sign"),
               Patch(color=REGIONS["opposite"], alpha=0.25, label="ours has the other sign"),
               Patch(color="0.55", alpha=0.35, label=f"ours within the noise ({noise})" if v.noise else
                     "ours within the noise"),
               Patch(fill=False, hatch="////", edgecolor="0.6", label=f"the paper: about equal (±{v.level:g} point)"),
               Line2D([], [], ls=":", color="0.3", label="ours = the paper's")]
    if len(v.missing):
        regions.append(Line2D([], [], ls="", marker="|", markersize=9, color="0.35",
                              label=f"a paper gap at a round our runs do not\nreach ({len(v.missing)} of them)"))
    columns = [c for c in (metrics, settings, regions) if c]
    rows = max(map(len, columns))
    blank = Line2D([], [], alpha=0, label=" ")
    handles = [h for c in columns for h in c + [blank] * (rows - len(c))]  # filled column by column
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=len(columns), frameon=False,
              fontsize=7.5, title_fontsize=7.5,
              title=f"beside a point: our round (and our gap, where beyond ±{WRITTEN * v.level:g} points)")


def verdict_panel(ax, v):
    """Every claim's verdict (``claims.evaluate``) as a coloured box with the clauses that hold, the claim beside it;
    under a claim judged from the plotted gaps, what they show."""
    ax.set_axis_off()
    counts = v.verdicts.verdict.value_counts()
    ax.set_title("Every claim's verdict (clauses holding of those judged; half must hold: wrong at most 1 in 16): "
                 + ", ".join(f"{counts[w]} {w}" for w in VERDICTS if w in counts), loc="left", fontsize=9)
    lines = [2 if p else 1 for p in v.verdicts.points]
    step, y = 1 / max(sum(lines), 1), 1.0
    for r, n in zip(v.verdicts.itertuples(), lines):
        box, ink = VERDICTS.get(r.verdict, ("white", "black"))
        ax.text(0.0, y, f"{r.verdict} {r.clauses}".strip(), transform=ax.transAxes, ha="left", va="top", fontsize=8,
                color=ink, bbox=dict(boxstyle="round,pad=0.25", fc=box, ec="none"))
        for dy, text, size, ink in ((0, r.claim, 8, "black"), (step, r.points and "above: " + r.points, 7, "0.35")):
            if text:  # beside the widest box ("not reproduced 10 of 12"), whatever the panel's width
                ax.annotate(text, (0.0, y - dy), xycoords="axes fraction", xytext=(104, 0), textcoords="offset points",
                            ha="left", va="top", fontsize=size, color=ink)
        y -= n * step


def glance(v):
    """The README's figure (``lth.report.figures.glance``): the paper's gaps beside ours above, every verdict below."""
    rows = sum(2 if p else 1 for p in v.verdicts.points)
    table = 0.19 * rows + 0.3  # inches: a line per claim, and one under each claim judged from the points
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.4, 5.9 + table + 0.25 * len(v.caption.splitlines())),
                                      layout="constrained", height_ratios=[5.9, table])
    effects_panel(top, v)
    verdict_panel(bottom, v)
    fig.suptitle("\n".join(["Results at a glance: the paper's accuracy gaps to magnitude beside ours, and every "
                            "claim's verdict", *v.caption.splitlines()]))  # wrapped where it is saved
    return fig
