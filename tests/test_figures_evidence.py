"""The figures show the evidence the verdicts cite: Figure 4 scaled to the runs that hold, a collapsed run drawn at
0 in the collapse figure, Figures 1, 5 and 6 comparing shared with not-shared connections within each layer, and
every setting named for a reader. On constructed tables; the smoke runs' views at the end."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from lth import presets  # noqa: E402

from lth.report import evidence, figures, output, plots, readable, section5  # noqa: E402


def connections(layers, metric="m", round=3):
    """A connection table: per layer (name, shared, not shared, std of shared, std of not shared, flips of not
    shared), connections with those values; distance = std."""
    rows = []
    for depth, (layer, ns, nn, s_std, n_std, n_flips) in enumerate(layers):
        for overlapping, n, std in ((True, ns, s_std), (False, nn, n_std)):
            for i in range(n):
                rows.append(dict(metric=metric, round=round, seed=0, layer=layer, depth=depth, overlapping=overlapping,
                                 std=std, sign_flip=not overlapping and i < n_flips, distance=std))
    return pd.DataFrame(rows)


# Shared connections mostly in a small-scale layer, not-shared ones in a large-scale one; no difference within a layer.
MIX_ONLY = [("small", 8, 2, 1.0, 1.0, 0), ("large", 2, 8, 2.0, 2.0, 0)]


def group(table, name):
    return table.set_index("group").loc[name]


def test_layer_matching_takes_away_a_difference_that_is_only_the_layer_mix():
    m = section5.layer_matched(connections(MIX_ONLY))
    assert list(m.group) == list(section5.GROUPS)
    assert group(m, "shared").mean_std == pytest.approx(1.2) and group(m, "not shared").mean_std == pytest.approx(1.8)
    assert group(m, "not shared, layer-matched").mean_std == pytest.approx(1.2)  # as the shared: no effect left
    assert group(m, "not shared, layer-matched").mean_distance == pytest.approx(1.2)
    assert (m.matched_shared_percent == 100).all()
    within = figures.within_layers(section5.by_layer(connections(MIX_ONLY)))
    assert within.loc[0, ["layers", "std_lower", "distance_greater"]].tolist() == [2, 0, 0]


def test_layer_matching_keeps_a_difference_within_each_layer():
    # within each layer the not-shared connections vary twice as much and half of them flip
    t = connections([("small", 8, 2, 1.0, 2.0, 1), ("large", 2, 8, 2.0, 4.0, 4)])
    m = section5.layer_matched(t)
    matched = group(m, "not shared, layer-matched")
    assert matched.mean_std == pytest.approx((8 * 2.0 + 2 * 4.0) / 10)  # weighted to the shared ones' mix 8:2
    assert matched.sign_flip_percent == pytest.approx(50) and group(m, "shared").sign_flip_percent == 0
    w = figures.within_layers(section5.by_layer(t)).iloc[0]
    assert (w.layers, w.std_lower, w.sign_flips_lower, w.distance_greater) == (2, 2, 2, 0)


def test_figure_3s_control_for_size_takes_away_a_distance_that_is_only_the_shared_ones_size():
    """Nested |w| tickets: the shared connections are mostly the layer's largest (16 of 20 in each upper tenth, 4 of
    20 in each lower), and the distance from theta_0 grows with size alone."""
    torch = pytest.importorskip("torch")
    size = torch.arange(1, 201, dtype=torch.float64)
    fifth = size % 5 == 0
    shared, distance = torch.where(size > 100, ~fifth, fifth), size / 100
    assert distance[shared].mean() - distance[~shared].mean() == pytest.approx(0.6)  # unmatched: "further"
    sized = section5.sized_distance(distance, size, shared)
    # matched on tenths by size, what is left is the sizes' spread within a tenth (+-0.025 a tenth)
    assert sized[True] == pytest.approx(1.305) and sized[False] == pytest.approx(1.32)
    top = size > 100  # no tenth holds both groups: nothing to match with
    assert all(math.isnan(v) for v in section5.sized_distance(distance, size, top).values())


def test_a_not_shared_connection_weighs_shared_over_not_shared_in_its_layer():
    t = connections([("a", 3, 1, 1.0, 1.0, 0), ("b", 2, 4, 1.0, 1.0, 0), ("c", 5, 0, 1.0, 1.0, 0)])
    w = section5.matched_weights(t)
    expected = {("a", True): 1, ("a", False): 3, ("b", True): 1, ("b", False): 0.5, ("c", True): 0}
    for (layer, overlapping), value in expected.items():
        assert (w[(t.layer == layer) & (t.overlapping == overlapping)] == value).all()
    # the not-shared group weighs as many as the shared connections it is matched with; layer c has none to match
    assert w[~t.overlapping].sum() == 5 and w[t.overlapping].sum() == 5
    assert section5.layer_matched(t).matched_shared_percent.iloc[0] == pytest.approx(50)


def test_weighted_quantiles_are_those_of_the_values_repeated_by_their_weights():
    values, weights = [3.0, 1.0, 2.0, 9.0], [1, 2, 1, 0]
    repeated = [1.0, 1.0, 2.0, 3.0]
    for q in (5, 25, 50, 75, 95):
        assert section5.weighted_quantiles(values, weights, [q])[0] in repeated
    assert section5.weighted_quantiles(values, weights, [5, 50, 95]) == [1.0, 1.0, 3.0]
    assert all(math.isnan(x) for x in section5.weighted_quantiles([1.0], [0], [50, 75]))


def test_by_layer_compares_within_each_layer_input_to_output():
    t = pd.concat([connections(MIX_ONLY, "m"), connections(MIX_ONLY, "k")])
    b = section5.by_layer(t)
    assert list(b.columns[:4]) == ["metric", "round", "depth", "layer"]
    small = b[(b.metric == "m") & (b.layer == "small")].iloc[0]
    assert (small.connections_shared, small.connections_not_shared) == (8, 2)
    assert small.mean_std_shared == small.mean_std_not_shared == 1.0


def test_the_findings_and_notes_say_what_the_layer_matched_comparison_shows():
    t = connections(MIX_ONLY, "magnitude")
    lines = figures.layer_findings(section5.layer_matched(t, by=("metric",)), section5.by_layer(t, by=("metric",)))
    assert lines == ["magnitude: std: shared 1.2, not shared 1.8 pooled, 1.2 layer-matched; shared lower within 0 "
                     "of 2 layers; sign flips: shared 0.00 %, not shared 0.00 % pooled, 0.00 % layer-matched; shared "
                     "lower within 0 of 2 layers; distance from theta_0: shared 1.2, not shared 1.8 pooled, 1.2 "
                     "layer-matched; shared greater within 0 of 2 layers"]
    both = pd.concat([connections(MIX_ONLY, "l1", r) for r in (1, 2)] + [connections(MIX_ONLY, "magnitude", 2)])
    note = figures.layer_note(section5.by_layer(both), ["std_lower"])
    assert note == ("Within each layer, shared connections vary less than not-shared ones in round 1: l1 0/2; "
                    "round 2: magnitude 0/2, l1 0/2 layers")  # the registry's order


def accuracy(rows):
    """An accuracy table of one setting from {metric: [accuracy of each seed]} at rounds 0 and 1."""
    out = []
    for metric, values in rows.items():
        for seed, value in enumerate(values):
            out += [dict(setting="s", importance=metric, seed=seed, round=0, test_accuracy=85.0),
                    dict(setting="s", importance=metric, seed=seed, round=1, test_accuracy=value)]
    return pd.DataFrame(out)


# At round 1 the metrics that hold are at 75 to 79, magnitude's seed 0 6 points below the median (noise, no
# collapse), and minmax collapsed in 2 of 3 runs (10 %).
ROUND_22 = {"magnitude": [71.0, 77.6, 75.4], "l1": [76.8, 76.9, 79.8], "l2": [78.0, 77.4, 76.8],
            "minmax": [10.7, 9.8, 34.5]}


def test_a_collapsed_metric_is_marked_not_scaled_to_and_a_noisy_seed_is_kept():
    acc = accuracy(ROUND_22)
    off = figures.off_scale(acc)
    assert set(acc[off].importance) == {"minmax"} and off[acc.importance == "minmax"].sum() == 3
    v = figures._scaled(acc, 85.0, pd.DataFrame({"value": []}))
    assert 60 < v.ylim[0] < 71 and 85 < v.ylim[1] < 88  # the late ordering of the others reads: 71 to 85
    assert v.outside[["importance", "seed", "round", "side"]].values.tolist() == [["minmax", s, 1, "below"] for s in range(3)]
    held = v.held[v.held["round"] == 1]
    assert set(held.importance) == {"magnitude", "l1", "l2"} and 71.0 in set(held.test_accuracy)  # the noisy seed kept
    # the differences: l1's +5.8 (seed 0, against magnitude's 71) is on the axis; minmax's -60 is drawn alone
    assert v.diff_ylim[0] < 0 < 5.8 < v.diff_ylim[1] < 10
    assert v.diff_outside.importance.tolist() == ["minmax"] * 3 and set(v.diff_outside.side) == {"below"}
    assert "minmax" not in set(v.diff_held[v.diff_held["round"] == 1].importance)


def test_a_collapsed_baseline_takes_its_differences_off_the_scale():
    acc = accuracy({"magnitude": [10.0, 10.0, 10.0], "l1": [84.0, 83.0, 84.0], "l2": [84.0, 84.5, 83.5]})
    v = figures._scaled(acc, 85.0, pd.DataFrame({"value": []}))
    assert v.ylim[0] > 70 and list(v.outside.importance) == ["magnitude"] * 3
    assert set(v.diff_outside.importance) == {"l1", "l2"} and set(v.diff_outside.side) == {"above"}
    assert v.diff_held[v.diff_held["round"] == 1].empty  # every pair has the collapsed baseline


def test_a_diverged_seed_is_drawn_alone_and_steers_neither_the_mean_nor_the_band():
    """Figure 4's ResNet-8-16: one minmax seed at 10 % for one round (the others at 84 %) pulled the mean to 69 and
    the band to the axis' end. It is drawn alone, at the edge, and the line is the mean of the seeds that hold."""
    acc = accuracy({"magnitude": [84.0, 84.5, 83.5], "l1": [84.2, 84.0, 83.9], "minmax": [84.0, 83.5, 10.0]})
    s = figures._scaled(acc, 85.0, pd.DataFrame({"value": []}))
    assert s.outside[["importance", "seed", "side"]].values.tolist() == [["minmax", 2, "below"]]
    s.accuracy, s.dense, s.paper, s.fraction, s.caption = acc, 85.0, pd.DataFrame(), 0.2, "A"
    fig, ax = plt.subplots()
    plots.accuracy_panel(ax, s)
    fig.canvas.draw()
    minmax = next(line for line in ax.get_lines() if line.get_color() == plots.colour("minmax") and len(line.get_xdata()))
    assert minmax.get_ydata()[1] == pytest.approx(83.75)  # the two seeds that hold
    lo, hi = ax.get_ylim()
    for band in ax.collections:
        if isinstance(band, PolyCollection):
            y = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
            assert lo <= y.min() and y.max() <= hi  # no band runs past the axis
    assert [t.get_text() for t in ax.texts] == ["below the axis: minmax: round 1 (1 run, lowest 10.0)"]
    assert readable.problems(fig) == []
    plt.close(fig)


def test_the_difference_panel_is_linear_with_a_grid_line_at_every_point():
    acc = accuracy(ROUND_22)
    s = figures._scaled(acc, 85.0, pd.DataFrame({"value": []}))
    s.fraction = 0.2
    fig, ax = plt.subplots()
    plots.difference_panel(ax, s)
    assert ax.get_yscale() == "linear" and ax.get_ylim() == pytest.approx(s.diff_ylim)
    lo, hi = ax.get_ylim()
    lines = sorted({t for t in [*ax.get_yticks(), *ax.yaxis.get_minorticklocs()] if lo <= t <= hi})
    assert len(lines) > 5 and np.allclose(np.diff(lines), 1)  # a grid line at every point: +1.9 reads apart from +3.5
    labels = [t.get_text() for t in ax.texts]
    assert labels == [f"below the axis: minmax: round 1 (3 runs, lowest {min(np.subtract(ROUND_22['minmax'], ROUND_22['magnitude'])):+.1f})"]
    assert plots.OFF_LABEL in ax.get_legend_handles_labels()[1]
    plt.close(fig)


def test_the_accuracy_panel_spans_the_runs_that_hold_and_marks_the_others():
    s = figures._scaled(accuracy(ROUND_22), 85.0, pd.DataFrame({"value": []}))
    s.accuracy, s.dense, s.paper, s.fraction, s.caption = accuracy(ROUND_22), 85.0, pd.DataFrame(), 0.2, "A\nB"
    fig, ax = plt.subplots()
    plots.accuracy_panel(ax, s)
    assert ax.get_ylim() == pytest.approx(s.ylim) and ax.get_title() == "A\nB"
    assert [t.get_text() for t in ax.texts] == [f"below the axis: minmax: round 1 (3 runs, lowest {min(ROUND_22['minmax']):.1f})"]
    plt.close(fig)


def sparsest(runs):
    """A sparsest-layer table from {metric: [densities of each seed per round]}, 0 meaning collapsed."""
    rows = []
    for metric, seeds in runs.items():
        for seed, densities in enumerate(seeds):
            for r, d in enumerate(densities):
                rows.append(dict(setting="s", importance=metric, seed=seed, round=r, layer_density=d,
                                 sparsity=100 * (1 - 0.8**r), collapsed=d == 0))
    return pd.DataFrame(rows)


def test_the_collapse_panel_draws_a_collapsed_run_at_zero_with_its_own_marker_and_legend_entry():
    # minmax: 2 of 3 runs collapsed at the last round, the third the least sparse of all
    s = sparsest({"magnitude": [[100, 1, 0.03]] * 3, "minmax": [[100, 2, 0], [100, 2, 0], [100, 2, 0.26]],
                  "random": [[100, 10, 5]] * 3})
    fig, ax = plt.subplots()
    plots.collapse_panel(ax, s, 0.2)
    labels = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    zero = labels["0 (collapsed)"]
    assert zero < 0.01 and all(y > zero for label, y in labels.items() if label != "0 (collapsed)")
    minmax = next(line for line in ax.lines if line.get_color() == plots.colour("minmax") and len(line.get_xdata()))
    assert minmax.get_ydata()[-1] == pytest.approx(zero)  # the median over seeds: collapsed, not 0.26
    handles, names = ax.get_legend_handles_labels()
    marker = handles[[i for i, n in enumerate(names) if "collapsed" in n][0]].get_marker()
    assert marker == plots.COLLAPSED and marker not in plots.MARKERS.values()
    plt.close(fig)


def test_the_collapse_panel_says_which_collapses_came_after_the_runs_stopped_learning():
    """VGG's "collapse" came after its runs were at chance: such a run's mark is hollow, and the rounds where every
    run is at chance are hatched, with legend entries for both."""
    s = sparsest({"magnitude": [[100, 1, 0]] * 3, "l1": [[100, 2, 0], [100, 2, 0.5], [100, 2, 0.3]]})
    s["at_chance"] = s["round"] == 2  # every run at chance at the last round; magnitude's collapse comes then
    s.loc[(s.importance == "l1") & (s.seed == 0), "at_chance"] = False  # but l1's seed 0 collapsed still learning
    fig, ax = plt.subplots()
    plots.collapse_panel(ax, s, 0.2, chance_from=None)
    marks = [c for c in ax.collections if c.get_offsets().shape[0] and c.get_zorder() == 6]
    faces = {tuple(np.round(f, 3)) for c in marks for f in c.get_facecolors()}
    assert (1.0, 1.0, 1.0, 1.0) in faces and len(faces) == 2  # magnitude's hollow, l1's seed 0 filled
    assert "hollow: the run already at chance" in ax.get_legend_handles_labels()[1]
    plt.close(fig)
    fig, ax = plt.subplots()
    plots.collapse_panel(ax, s, 0.2, chance_from=2)
    assert "every run at chance (stopped learning)" in ax.get_legend_handles_labels()[1]
    plt.close(fig)


def test_every_setting_of_every_preset_has_a_name_for_a_reader():
    for preset, p in presets.PRESETS.items():
        for setting in p["settings"]:
            assert "_" not in evidence.setting_name(preset, setting), (preset, setting)


def test_the_figure_groups_are_the_tables():
    assert tuple(plots.GROUPS) == section5.GROUPS


def test_every_csv_column_names_its_unit_and_the_markdown_keeps_the_metrics_names(tmp_path):
    """Table 2's metric columns hold accuracies (%) and paired differences (points), Figure 1's std and distance the
    weights' own units: each CSV header says so; Table 2's Markdown keeps the bare metric names under its title."""
    acc = pd.DataFrame(dict(setting=["s"], round=[5], sparsity=[67.2], magnitude=["88.0 ± 0.1"], l1=["87.9 ± 0.2"]))
    for name, unit in (("table2", "accuracy_percent"), ("extra", "accuracy_percent")):
        output.save_table(acc, tmp_path, name, "top-1 test accuracy (%)")
        assert list(pd.read_csv(tmp_path / f"{name}.csv").columns) == [
            "setting", "round", "sparsity_percent", f"magnitude_{unit}", f"l1_{unit}"]
        md = (tmp_path / f"{name}.md").read_text().splitlines()[2]
        assert [c.strip() for c in md.strip("|").split("|")] == ["setting", "round", "sparsity_percent", "magnitude",
                                                                 "l1"]
    paired = acc.drop(columns=["sparsity", "magnitude"]).assign(l1="-0.10 [-0.30, +0.20] 3/5")
    for name in ("table2_paired", "extra_paired"):
        output.save_table(paired, tmp_path, name, "minus magnitude, in points")
        assert list(pd.read_csv(tmp_path / f"{name}.csv").columns) == ["setting", "round", "l1_minus_magnitude_points"]
    t = connections(MIX_ONLY)
    for name, table in (("figure1", section5.layer_matched(t)), ("figure1_layers", section5.by_layer(t)),
                        ("figure3", t[["seed", "round", "overlapping", "distance"]])):
        output.save_table(table, tmp_path, name, "title")
        header = list(pd.read_csv(tmp_path / f"{name}.csv").columns)
        assert not [c for c in header if any(m in c for m in ("std", "distance")) and "weight_units" not in c], header
    assert {"mean_std_weight_units", "std_p95_weight_units", "mean_distance_weight_units", "sign_flip_percent"} <= set(
        pd.read_csv(tmp_path / "figure1.csv").columns)
    ranges = pd.DataFrame(dict(setting=["s"], role=["input"], layer=["conv"], init=["[-0.47, 0.41]"],
                               trained=["[-1.07, 0.90]"]))
    output.save_table(ranges, tmp_path, "table1", "Table 1: [min, max] of each followed layer's weights")
    assert list(pd.read_csv(tmp_path / "table1.csv").columns) == [
        "setting", "role", "layer", "init_range_weight_units", "trained_range_weight_units"]
    output.save_table(pd.DataFrame(dict(layer=["conv"], excess_mean=[20.0])), tmp_path, "reinit", "in %")
    assert list(pd.read_csv(tmp_path / "reinit.csv").columns) == ["layer", "excess_mean_percent"]
    with pytest.raises(ValueError, match="names no unit"):
        output.save_table(pd.DataFrame(dict(final_std=[0.1])), tmp_path, "u", "title")


# --- On the smoke preset's runs (slow: the smoke sweep) ---

@pytest.fixture(scope="module")
def runs(smoke_sweep):
    return str(smoke_sweep)


def test_figure4_and_collapse_views_scale_and_count_on_the_smoke_runs(runs):
    v = figures.figure4(runs, "smoke")
    for s in v.settings:
        on = s.accuracy.test_accuracy[~figures.off_scale(s.accuracy)]
        assert s.ylim[0] <= on.min() and s.ylim[1] >= max(on.max(), s.dense)
        assert s.diff_ylim[0] <= 0 <= s.diff_ylim[1]
    c = figures.collapse(runs, "smoke")
    assert [s.collapsed for s in c.settings] == ["collapsed at round 3: none"] * 2
    for s in c.settings:  # the accuracy beside each run's sparsest layer
        assert s.sparsest.test_accuracy.notna().all() and s.sparsest.at_chance.dtype == bool
        assert s.chance_from is None or s.sparsest[s.sparsest["round"] >= s.chance_from].at_chance.all()


def test_figures_1_5_6_compare_layer_matched_on_the_smoke_runs(runs):
    one = figures.figure1(runs, "smoke")
    assert set(one.table.group) == set(section5.GROUPS) and len(one.table) == 3 * len(one.metrics)
    assert one.mix.shared_percent.sum() == pytest.approx(100) and one.mix.weights_percent.sum() == pytest.approx(100)
    assert len(one.findings) == len(one.metrics) and one.note.count("Within each layer") == 3
    five = figures.figure5(runs, "smoke")
    assert sorted(five.table["round"].unique()) == five.rounds and set(five.note) == {"std", "flips"}


def test_a_saved_figures_title_keeps_its_line_breaks(tmp_path):
    fig, _ = plt.subplots()
    fig.suptitle("first line\nsecond line")
    output.save(fig, tmp_path, "no_such_figure")
    assert fig.get_suptitle() == "first line\nsecond line"
    plt.close(fig)
