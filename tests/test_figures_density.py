"""Figures 2, 8, 9 and 10 (layer density on log axes, beside the network's) on constructed runs of each preset, as
their notebooks draw them, and the units every CSV column names (lth.report.output.with_units)."""

import functools
import json
import math
import types

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.collections import PolyCollection

from lth import models, presets, pruning, runs as runs_, store

from lth.report import evidence, figures, output, plots, readable
from lth.runs import REPOSITORY

matplotlib.use("Agg")
SHAPES = {"mnist": (1, 28, 10), "fashion_mnist": (1, 28, 10), "cifar10": (3, 32, 10), "tinyimagenet": (3, 64, 200)}
LAYER_FIGURES = ["figure2", "figure8", "figure9", "figure10"]


def _model(setting):
    """A setting's prunable layers' shapes, its roles and the layers it keeps dense, as a run records them."""
    return _built(setting["model"], setting["dataset"], setting["prune_output"])


@functools.cache
def _built(model, dataset, prune_output):
    channels, size, classes = SHAPES[dataset]
    net = models.build(model, channels, size, classes)
    layers, roles = pruning.prunable_layers(net), models.roles(net)
    shapes = {n: tuple(w.shape) for n, w in pruning.weights(net, layers).items()}
    return shapes, dict(vars(roles), shortcuts=list(roles.shortcuts)), [] if prune_output else [roles.output]


def _run(runs_dir, record, shapes, roles, dense):
    """A completed run whose pruned layers all keep 0.8^round of their weights, but for the last round of minmax,
    which empties the input layer."""
    d = record.folder(runs_dir)
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(record.config))
    (d / "run.json").write_text(json.dumps({"status": "COMPLETED"}))
    (d / "completed").touch()
    for name in (f for f in store.files(record.config) if f.endswith(".pt")):  # readable; only round 0's is read
        torch.save({"shapes": shapes} if name == store.round_file(0) else {}, d / name)
    layers, n = list(shapes), {k: math.prod(s) for k, s in shapes.items()}
    (d / "info.json").write_text(json.dumps({"layers": layers, "dense": dense, "roles": roles}))
    rounds = range(record.config["rounds"] + 1)
    density = {k: [1.0 if k in dense else 0.8**r for r in rounds] for k in layers}
    if record.importance == "minmax":
        density[roles["input"]][-1] = 0.0
    metrics = {f"density/{k}": {"steps": list(rounds), "values": v} for k, v in density.items()}
    metrics["density"] = {"steps": list(rounds), "values": [sum(n[k] * density[k][r] for k in layers) / sum(n.values())
                                                            for r in rounds]}
    metrics["test_accuracy"] = {"steps": list(rounds), "values": [90.0 - r for r in rounds]}
    (d / "metrics.json").write_text(json.dumps(metrics))


def constructed(runs_dir, preset):
    """Every LTR run of ``preset`` (lth.runs.of_preset), with its models' real layers and roles."""
    made = {}
    for record in runs_.of_preset(preset):
        if record.setting not in made:
            made[record.setting] = _model(presets.get(preset).settings[record.setting])
        _run(runs_dir, record, *made[record.setting])
    return runs_dir


@pytest.fixture(scope="module", params=["smoke", pytest.param("small", marks=pytest.mark.slow),
                                        pytest.param("paper", marks=pytest.mark.slow)])
def rendered(request, tmp_path_factory):
    """Figures 2, 8, 9 and 10 of constructed runs of a preset, each drawn by its notebook's code into a folder:
    (preset, runs folder, figures folder, {figure: the notebook's namespace})."""
    preset, root = request.param, tmp_path_factory.mktemp(request.param)
    runs_dir, figs = constructed(root / "runs", preset), root / "figures"
    drawn = {}
    for name in LAYER_FIGURES:
        namespace = {}
        cells = [c.source for c in nbformat.read(REPOSITORY / "notebooks" / f"{name}.ipynb", 4).cells
                 if c.cell_type == "code"]
        exec(cells[0], namespace)
        namespace.update(preset=preset, runs_dir=str(runs_dir), figures_dir=str(figs))
        for cell in cells[1:]:
            exec(cell, namespace)
        drawn[name] = namespace
    yield preset, runs_dir, figs, drawn
    matplotlib.pyplot.close("all")


def _named(columns):
    """The columns naming a density, sparsity or accuracy but no unit."""
    return [c for c in columns if any(m in c.lower() for m in output.MEASURES)
            and not any(u in c.lower() for u in output.UNIT_WORDS)]


def test_every_layer_figure_writes_a_csv_whose_measures_name_their_units(rendered):
    _, _, figs, _ = rendered
    for name in LAYER_FIGURES:
        header = pd.read_csv(figs / f"{name}.csv").columns
        assert not _named(header), (name, list(header))
        assert {"layer_density_percent", "network_density_percent", "pruned_layers_density_percent"} <= set(header)


def test_every_layer_figure_is_readable(rendered):
    """On each preset's shape: no title of more than three lines, no text on other text (lth.report.readable)."""
    for name, namespace in rendered[3].items():
        assert readable.problems(namespace["fig"]) == [], name


def test_no_title_runs_into_another_panel(rendered):
    """Figure 8's setting captions ran into the next panel's label: every panel title clears the other panels'."""
    _, _, _, drawn = rendered
    for name, namespace in drawn.items():
        fig = namespace["fig"]
        renderer = fig.canvas.get_renderer()
        axes = [ax for ax in fig.axes if ax.get_title()]
        for ax in axes:
            box = ax.title.get_window_extent(renderer)
            for other in axes:
                texts = [other.yaxis.label] + ([other.title] if other is not ax else [])
                for text in texts:
                    assert not box.overlaps(text.get_window_extent(renderer)), (name, ax.get_title())


def test_captions_name_the_settings_with_a_panel_and_what_a_kept_dense_layer_does(rendered):
    preset, runs_dir, _, drawn = rendered
    settings = presets.get(preset).settings
    for name in ("figure2", "figure9", "figure10"):
        v = drawn[name]["v"]
        shown = {p.setting for p in v.panels}
        for s in settings:
            model = evidence.NAMES[settings[s]["model"]]  # the dataset named once where the settings share it
            assert (f"{model} to round" in v.caption or f"{model} on" in v.caption) == (s in shown), (name, s)
            dense = s in shown and not settings[s]["prune_output"]
            assert any(n.startswith(f"{evidence.setting_name(preset, s)} keeps") for n in v.notes) == dense, (name, s)
    ten = drawn["figure10"]["v"]
    assert {p.setting for p in ten.panels} == {s for s in settings if settings[s]["model"].startswith("resnet")}
    for s in drawn["figure8"]["v"].settings:
        assert s.title.startswith(evidence.setting_name(preset, s.name)) and f"preset={preset}" in s.title


def test_the_network_counts_a_kept_dense_layer_and_the_pruned_layers_own_density_does_not(rendered):
    preset, _, _, drawn = rendered
    for p in drawn["figure9"]["v"].panels:
        shapes, _, dense = _model(presets.get(preset).settings[p.setting])
        n = {k: math.prod(s) for k, s in shapes.items()}
        kept = sum(n[k] for k in dense)
        first = p.network[p.network["round"] == 1].iloc[0]  # every pruned layer of every run keeps 80 % (_run)
        assert first.network_density == pytest.approx(100 * (kept + 0.8 * (sum(n.values()) - kept)) / sum(n.values()))
        assert p.dense == (p.layer in dense) and (not p.dense or set(p.density.layer_density) == {100.0})
        if dense:
            assert first.pruned_density == pytest.approx(80.0) and first.network_density > 80.0
        else:
            assert math.isnan(first.pruned_density)


def test_a_run_with_an_empty_layer_gets_a_cross_and_a_legend_entry(rendered):
    _, _, _, drawn = rendered
    v, fig = drawn["figure2"]["v"], drawn["figure2"]["fig"]
    assert any((p.density.layer_density == 0).any() for p in v.panels)  # minmax's input layer, last round
    labels = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    assert "a run with no weight left in the layer" in labels and "network (every layer)" in labels


def test_a_preset_without_shortcuts_gets_a_figure_10_that_says_so(tmp_path):
    constructed(tmp_path / "runs", "smoke")
    v = figures._layer_panels(str(tmp_path / "runs"), "smoke", lambda path: {}, why="no 1x1 shortcut here")
    assert v.panels == [] and v.caption == "preset=smoke: no 1x1 shortcut here" and v.data.empty
    fig = plots.layer_panels(v.panels, str, columns=3, why=v.why)
    output.save(fig, tmp_path / "figs", "figure10", v.data)
    assert not _named(pd.read_csv(tmp_path / "figs" / "figure10.csv").columns)


def test_csv_and_markdown_name_the_unit_of_each_density_sparsity_and_accuracy(tmp_path):
    df = pd.DataFrame(dict(setting=["s"], round=[2], density=[0.64], sparsity=[36.0], test_accuracy=[88.5],
                           layer_density=[12.5], magnitude=["88.5 ± 0.1"]))
    output.save_table(df, tmp_path, "t", "title")
    header = list(pd.read_csv(tmp_path / "t.csv").columns)
    assert header == ["setting", "round", "density_fraction", "sparsity_percent", "test_accuracy_percent",
                      "layer_density_percent", "magnitude"]
    assert "density_fraction" in (tmp_path / "t.md").read_text().splitlines()[2]
    assert list(df.columns)[2] == "density"  # the table in memory keeps its names (lth.report.claims reads them)
    with pytest.raises(ValueError, match="names no unit"):
        output.save_table(df.assign(final_sparsity=1.0), tmp_path, "u", "title")
    with pytest.raises(ValueError, match="not a fraction"):
        output.save_table(df.assign(density=64.0), tmp_path, "v", "title")


@pytest.mark.parametrize("low, high, powers_only", [(0.01, 100, True), (1, 100, False)])
def test_log_axis_ticks_the_powers_of_ten_alone_over_many_decades(low, high, powers_only):
    fig, ax = matplotlib.pyplot.subplots()
    ax.plot([0, 1], [low, high])
    plots.log_axis(ax)
    ticks = [t for t in ax.get_yticks() if low <= t <= high]
    assert all(math.log10(t).is_integer() for t in ticks) == powers_only and len(ticks) >= 3
    matplotlib.pyplot.close(fig)


def test_what_makes_a_figure_hard_to_read_is_found():
    """A title of four lines, two labels on each other and crowded tick labels are found; rotated tick labels side
    by side, whose upright boxes overlap, are not."""
    fig, (a, b) = matplotlib.pyplot.subplots(1, 2, figsize=(8, 3))
    names = [f"blocks.{i}.conv{j}" for i in range(3) for j in (1, 2)]
    a.set_xticks(range(len(names)), names, rotation=60)
    b.text(0.5, 0.5, "minmax 25.2"), b.text(0.52, 0.5, "softmax -47.6")
    b.set_yticks(range(3), ["0.01", "0.02", "0.05"]), b.set_ylim(0, 40)
    fig.suptitle("one\ntwo\nthree\nfour")
    found = readable.problems(fig)
    assert found[0] == "the title has 4 lines (at most 3)"
    assert "panel 2: labels: 'minmax 25.2' on 'softmax -47.6'" in found
    assert "panel 2: y tick labels: '0.01' on '0.02'" in found
    assert not [p for p in found if "panel 1" in p]  # rotated: side by side, though their upright boxes overlap
    matplotlib.pyplot.close(fig)


def test_a_layer_empty_in_some_runs_bands_the_others_and_a_mean_of_0_is_not_drawn_down_the_axis():
    """Figure 8's VGG: a layer empty in one seed of two drew its band down to the axis' end (log 0), and a layer
    empty in every seed joined the kept-dense fc (100 %) by a vertical line. The band spans the seeds above 0, a
    mean of 0 breaks the line, and the crosses on the edge show the empty runs."""
    rows = [("magnitude", seed, depth, density) for seed, per_depth in enumerate([[50, 0.0, 0.0, 100], [60, 2.0, 0.0, 100]])
            for depth, density in enumerate(per_depth)]
    density = pd.DataFrame(rows, columns=["importance", "seed", "depth", "layer_density"])
    s = types.SimpleNamespace(density=density, network_density=1.0, pruned_density=math.nan,
                              labels=["conv", "conv.2", "conv.3", "fc (kept dense)"], title="VGG")
    fig, ax = matplotlib.pyplot.subplots()
    plots.layer_profile(ax, s)
    fig.canvas.draw()
    bands = [p.vertices[:, 1] for c in ax.collections if isinstance(c, PolyCollection) for p in c.get_paths()]
    assert bands and all((y[~np.isnan(y)] > 0).all() for y in bands)  # from 2 % up, never to 0
    line = next(line for line in ax.get_lines() if list(line.get_xdata()) == [0, 1, 2, 3])
    y = ax.transData.transform(line.get_xydata())[:, 1]
    assert not np.isfinite(y[2]) and np.isfinite(y[[0, 1, 3]]).all()  # a gap in the line (clipped, it ran down)
    assert len(ax.collections) > 1  # the crosses on the edge
    matplotlib.pyplot.close(fig)
