"""The look every figure shares: one colour, line style and marker per metric, in every figure; one colour
each for shared and not shared connections; round axes in whole rounds with their sparsity on top; bands
that show the range over seeds; figures saved as PNG and PDF with the numbers they plot as CSV.
"""

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from lth.importance import IMPORTANCE, OPTIONAL, PAPER
from lth.presets import ordered
from lth.runs import REPOSITORY
from lth.store import atomic, write_atomic

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


def lines(df, x, y, ax, hue="importance", **kw):
    """Mean over seeds with the range over seeds as a band, one line per metric, each in its own style."""
    order = metrics_in(df, hue)
    sns.lineplot(df, x=x, y=y, hue=hue, style=hue, hue_order=order, style_order=order, **_styles(order),
                 errorbar=RANGE, markersize=5, ax=ax, **kw)


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
    top.set_xlabel("sparsity (%)")


def log_axis(ax):
    """A log-scale y axis with ticks at 1, 2 and 5 times the powers of ten, labelled as plain numbers (0.2, 50)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def difference_axis(ax):
    """A y axis for differences in points: linear within +-2 points, where metrics differ by a point, and
    logarithmic beyond, where a collapsed run falls by tens (symlog), so that neither hides the other."""
    ax.set_yscale("symlog", linthresh=2, linscale=1)
    ax.yaxis.set_major_locator(FixedLocator([s * t for t in (0.5, 1, 2, 10, 50) for s in (-1, 1)] + [0]))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:+g}" if y else "0"))
    ax.axhline(0, color="k", lw=1)


def difference_panel(ax, differences, fraction, why=""):
    """Figure 4's lower panel: each metric's accuracy minus magnitude's, seed by seed, over the rounds; where the
    setting runs no metric beside magnitude, the panel says ``why`` instead."""
    if differences.empty:
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    lines(differences, "round", "difference", ax)
    difference_axis(ax)
    rounds_axis(ax, differences["round"], fraction)
    ax.set(ylabel="minus magnitude, same seed (points; log beyond ±2)")


def share_y(axes):
    """One y range for panels that are compared with each other: the union of their own."""
    lows, highs = zip(*(ax.get_ylim() for ax in axes))
    for ax in axes:
        ax.set_ylim(min(lows), max(highs))


def diagonal(ax):
    """The line on which a layer is pruned exactly as much as the network."""
    ax.plot([0, 100], [0, 100], ls=":", color="grey", lw=1, label="layer = global")


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


def _folder(figures_dir):
    """``figures_dir`` from the repository's root (a notebook runs wherever it was opened), created."""
    folder = REPOSITORY / figures_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# What each figure shows, as its title says it above the notebook's own (``save``).
TITLES = {
    "figure1": "Figure 1: the final tickets' shared and not-shared connections, their trained values over the rounds",
    "figure2": "Figure 2: selected layers' sparsity against the global sparsity",
    "figure3": "Figure 3: the first conv layer's connections, distance from theta_0 over the rounds",
    "figure4": "Figure 4: top-1 test accuracy of the tickets over the pruning rounds",
    "figure5": "Figure 5: std of each connection's trained values over the rounds, at three sparsities",
    "figure6": "Figure 6: connections whose trained values flip sign over the rounds, at three sparsities",
    "figure7": "Figure 7: share of a ticket's connections that every ticket keeps, over the rounds",
    "figure8": "Figure 8: each layer's sparsity in the final ticket, input to output",
    "figure9": "Figure 9: input, middle and output layers' sparsity against the global sparsity",
    "figure10": "Figure 10: the 1x1 shortcut convolutions' sparsity against the global sparsity",
    "collapse": "Layer collapse (Section 3.1.3): each metric's sparsest layer over the rounds",
}


def save(fig, figures_dir, name, data=None):
    """PNG and PDF (with no creation date: same runs, same bytes), and ``data``, what the figure plots, as CSV. The
    figure's title (``TITLES``) goes above the notebook's own."""
    folder = _folder(figures_dir)
    if name in TITLES:
        fig.suptitle("\n".join(t for t in (TITLES[name], fig.get_suptitle()) if t))
    for ext, metadata in (("png", {}), ("pdf", {"CreationDate": None})):
        with atomic(folder / f"{name}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", metadata=metadata)
    if data is not None:
        _csv(data, folder / f"{name}.csv")


def _csv(df, path):
    with atomic(path) as tmp:
        df.to_csv(tmp, index=False)


def save_table(df, figures_dir, name, title):
    """CSV, and Markdown under its title; prints the title and returns the table, for the notebook to show."""
    folder = _folder(figures_dir)
    _csv(df, folder / f"{name}.csv")
    write_atomic(folder / f"{name}.md", f"{title}\n\n{df.to_markdown(index=False)}\n".encode())
    print(title)
    return df


def layer_panels(panels, title, columns):
    """Figures 2, 9 and 10: one panel per followed layer, its sparsity against the global sparsity per metric,
    with the diagonal on which it is pruned as much as the network; ``title(panel)`` names a panel."""
    fig, axes = grid(len(panels), columns=columns, width=8.4 / columns, height=8.4 / columns)
    for ax, p in zip(axes, panels):
        lines(p.sparsity, "sparsity", "layer_sparsity", ax)
        diagonal(ax)
        ax.set(title=title(p), xlabel="global sparsity (%)", ylabel="layer sparsity (%)", xlim=(0, 100), ylim=(0, 101))
    legend_outside(fig, axes)
    return fig


def connections_by_metric(c, plot, y, ylabel, **kw):
    """Figures 5 and 6: one panel per metric, shared and not shared connections side by side at each round;
    ``plot`` a seaborn function (boxplot, barplot) given ``kw``."""
    metrics = metrics_in(c, "metric")
    fig, axes = grid(len(metrics), columns=3, width=2.8, height=3.2)
    for ax, m in zip(axes, metrics):
        plot(c[c.metric == m], x="round", y=y, hue="connections", hue_order=list(CONNECTIONS), palette=CONNECTIONS,
             ax=ax, **kw)
        ax.set(title=m, xlabel="pruning round", ylabel=ylabel)
    share_y(axes)  # the metrics' panels are compared
    legend_outside(fig, axes)
    return fig
