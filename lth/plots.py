"""Plotting shared by the notebooks: one look for every figure, saved as PNG + PDF, tables as CSV + Markdown."""

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from lth.presets import METRICS

PALETTE = dict(zip(METRICS, sns.color_palette("colorblind", len(METRICS))))
DASHES = {m: (1, 0) if m not in ("lamp", "random") else (3, 2) for m in METRICS}  # the extras are dashed


def caption(preset, setting, runs):
    """Which preset, model, dataset and seeds produced a figure."""
    seeds = sorted(runs[runs["setting"] == setting]["seed"].unique())
    return f"{setting} (preset={preset}, seeds {', '.join(map(str, seeds))})"


def lines(df, x, y, ax, **kw):
    """Mean over seeds with a band of one standard deviation, one line per importance metric."""
    order = [m for m in METRICS if m in set(df["importance"])]
    sns.lineplot(df, x=x, y=y, hue="importance", style="importance", hue_order=order, style_order=order,
                 palette=PALETTE, dashes=DASHES, errorbar="sd", marker="o", markersize=3, ax=ax, **kw)


def save(fig, figures_dir, name):
    Path(figures_dir).mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    for ext, metadata in (("png", {}), ("pdf", {"CreationDate": None})):  # no date: same runs, same bytes
        fig.savefig(Path(figures_dir) / f"{name}.{ext}", dpi=150, bbox_inches="tight", metadata=metadata)


def save_table(df, figures_dir, name, title):
    Path(figures_dir).mkdir(parents=True, exist_ok=True)
    df.to_csv(Path(figures_dir) / f"{name}.csv", index=False)
    (Path(figures_dir) / f"{name}.md").write_text(f"{title}\n\n{df.to_markdown(index=False)}\n")


def grid(n, width=5, height=3.6):
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, axes[0]
