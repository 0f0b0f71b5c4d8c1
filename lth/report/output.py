"""Where a notebook's results go: ``figures/<preset>/NAME`` as PNG and PDF (the same runs give the same bytes) with
the numbers it plots as CSV, and its tables as CSV and Markdown; every density, sparsity, accuracy, std or distance
column named with its unit.
"""

import sys
import textwrap

import pandas as pd

from lth.runs import REPOSITORY
from lth.store import atomic, write_atomic
from lth.report import readable
from lth.report.section5 import QUANTILES


def _folder(figures_dir):
    """``figures_dir`` from the repository's root (a notebook runs wherever it was opened), created."""
    folder = REPOSITORY / figures_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# What each figure shows, as its title says it above the notebook's own (``save``).
TITLES = {
    "figure1": "Figure 1: the final tickets' shared and not-shared connections, their trained values over the rounds",
    "figure2": "Figure 2: selected layers' density over the pruning rounds, beside the network's",
    "figure3": "Figure 3: the first conv layer's connections, distance from theta_0 over the rounds",
    "figure4": "Figure 4: top-1 test accuracy of the tickets over the pruning rounds",
    "figure5": "Figure 5: std of each connection's trained values over the rounds, at three sparsities",
    "figure6": "Figure 6: connections whose trained values flip sign over the rounds, at three sparsities",
    "figure7": "Figure 7: share of a ticket's connections that every ticket keeps, over the rounds",
    "figure8": "Figure 8: each layer's density in the final ticket, input to output, beside the network's",
    "figure9": "Figure 9: input, middle and output layers' density over the pruning rounds, beside the network's",
    "figure10": "Figure 10: the 1x1 shortcut convolutions' density over the pruning rounds, beside the network's",
    "collapse": "Layer collapse (Section 3.1.3): each metric's sparsest layer over the rounds",
    "regime": "The regime study: each metric's gap to magnitude against the weight decay a round sees",
}


TITLE_WIDTH = 120  # characters a title's line holds before it wraps


def save(fig, figures_dir, name, data=None):
    """PNG and PDF (with no creation date: same runs, same bytes), and ``data``, what the figure plots, as CSV. The
    figure's title (``TITLES``) goes above the notebook's own, each wrapped at TITLE_WIDTH. What would make it hard to
    read (``readable.problems``: a long title, text on text) is said on stderr, a line each."""
    folder = _folder(figures_dir)
    lines = (TITLES.get(name, ""), *fig.get_suptitle().splitlines())  # each wrapped alone: its line breaks kept
    fig.suptitle("\n".join(textwrap.fill(line, TITLE_WIDTH) for line in lines if line))
    for problem in readable.problems(fig):  # the tests render every figure and expect none
        print(f"{name}.png is hard to read: {problem}", file=sys.stderr)
    for ext, metadata in (("png", {}), ("pdf", {"CreationDate": None})):
        with atomic(folder / f"{name}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", metadata=metadata)
    if data is not None:
        _csv(data, folder / f"{name}.csv")


# In memory the tables keep their short names (lth/report/analysis.py: ``density`` a fraction, the others in %); a CSV or
# Markdown table names each density, sparsity, accuracy, std or distance column with its unit (``with_units``).
UNITS = {"density": "density_fraction", "sparsity": "sparsity_percent", "layer_sparsity": "layer_sparsity_percent",
         "layer_density": "layer_density_percent", "sparsest_layer_density": "sparsest_layer_density_percent",
         "network_density": "network_density_percent", "pruned_density": "pruned_layers_density_percent",
         "test_accuracy": "test_accuracy_percent", **{c: f"{c}_fraction" for c in (
             "overlap_of_all", "overlap_of_kept", "expected_of_kept", "shared_of_kept")},  # Section 5's shares
         "observed": "observed_percent_of_kept", "chance": "chance_percent_of_kept",  # Figure 7's, in %
         **{f"excess_{x}": f"excess_{x}_percent" for x in ("mean", "min", "max")},  # Section 5.1's, over chance
         **{f"excess_sized_{x}": f"excess_sized_{x}_percent" for x in ("mean", "min", "max")},  # and over size
         # Section 5's std of a connection's trained values and distance from theta_0: in the weights' own units
         **{c: f"{c}_weight_units" for c in ("distance", "distance_sized", "mean_distance", "mean_std", "median_std",
                                             *(f"std_p{q}" for q in QUANTILES),
                                             *(f"mean_{x}_{g}" for x in ("std", "distance")
                                               for g in ("shared", "not_shared")))}}
MEASURES = ("density", "sparsity", "accuracy", "std", "distance")  # a column naming one of these must name its unit
UNIT_WORDS = ("percent", "fraction", "%", "pct", "points", "weight_units")
# The tables whose every column but ``KEYS`` holds one measure (Table 2's accuracies per metric, the paired
# differences to magnitude, Table 1's weight ranges per stage), by the name a notebook saves them under: their CSV
# names the measure and unit after each column (``magnitude`` -> ``magnitude_accuracy_percent``); their Markdown
# keeps the short names, its title saying the unit.
VALUES = {"table2": "accuracy_percent", "extra": "accuracy_percent", "table2_paired": "minus_magnitude_points",
          "extra_paired": "minus_magnitude_points", "table1": "range_weight_units"}
KEYS = ("setting", "role", "layer", "round", "sparsity")


def with_units(df, values=None):
    """``df`` with its columns as a file names them: each density, sparsity, accuracy, std or distance column with
    its unit (``UNITS``: ``sparsity`` -> ``sparsity_percent``, ``density`` -> ``density_fraction``), and where
    ``values`` (a ``VALUES`` unit) is given, each column but ``KEYS`` followed by it (a metric's column of Table
    2). Refuses a column that names such a measure but no unit, and a ``_fraction`` column with a value outside
    [0, 1]."""
    out = df.rename(columns={c: f"{c}_{values}" for c in df.columns if c not in KEYS}) if values else df
    out = out.rename(columns=UNITS)
    for c in out.columns:
        name = str(c).lower()
        if any(m in name for m in MEASURES) and not any(u in name for u in UNIT_WORDS):
            raise ValueError(f"column {c!r} names no unit: add it to lth.report.output.UNITS (e.g. {c}_percent)")
        values = pd.to_numeric(out[c], errors="coerce") if name.endswith("_fraction") else None
        if values is not None and not values.dropna().between(0, 1).all():
            raise ValueError(f"column {c!r} holds values outside [0, 1]: not a fraction")
    return out


def _csv(df, path):
    with atomic(path) as tmp:
        with_units(df).to_csv(tmp, index=False)


def save_table(df, figures_dir, name, title, markdown=True):
    """CSV, and Markdown under its title (not where ``markdown`` is False: a figure's data, one row per run and
    round, too long to read); prints the title and returns the table, for the notebook to show."""
    folder = _folder(figures_dir)
    _csv(with_units(df, VALUES.get(name)), folder / f"{name}.csv")
    if markdown:
        write_atomic(folder / f"{name}.md", f"{title}\n\n{with_units(df).to_markdown(index=False)}\n".encode())
    print(title)
    return df
