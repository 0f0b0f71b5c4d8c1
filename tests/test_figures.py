"""lth.report.figures on the smoke preset's runs: what each table and figure shows comes from the presets and the
models' declared roles, and each caption names its preset, settings and seeds."""

import pytest

from lth import models, presets

from lth.report import evidence, figures

SETTINGS = list(presets.PRESETS["smoke"]["settings"])


@pytest.fixture(scope="module")
def runs(smoke_sweep):
    return str(smoke_sweep)


def test_table1_follows_the_declared_layers_in_the_papers_order(runs):
    v = figures.table1(runs, "smoke")
    resnet = v.table[v.table.setting == "resnet8_16_fashion_mnist"]
    assert list(resnet.role) == ["input", "shortcut", "middle", "output"]
    roles = models.roles(models.build("resnet8_16", 1, 28, 10))
    assert list(resnet.layer) == [roles.input, roles.shortcuts[0], roles.middle, roles.output]
    lenet = v.table[v.table.setting == "lenet_300_100_fashion_mnist"]
    assert list(lenet.layer) == ["fc_layers.0", "fc_layers.1", "fc (kept dense)"]  # shown, not replaced
    assert "preset=smoke" in v.caption and "seeds 0, 1" in v.caption and "paper" not in v.caption


def test_table2_has_a_column_per_metric_of_the_registry_in_its_order(runs):
    v = figures.table2(runs, "smoke")
    assert list(v.table.columns) == ["setting", "round", "sparsity", *presets.METRICS]


def test_figure4_gives_each_setting_its_dense_line_fraction_and_caption(runs):
    v = figures.figure4(runs, "smoke")
    assert [s.name for s in v.settings] == SETTINGS
    for s in v.settings:
        assert s.fraction == 0.2 and len(s.paper) == 0 and s.caption.startswith(evidence.setting_name("smoke", s.name))
        assert s.dense == pytest.approx(s.accuracy[s.accuracy["round"] == 0].test_accuracy.mean())


def test_figure2_shows_the_section_5_setting_and_figure10_every_shortcut(runs):
    v = figures.figure2(runs, "smoke")
    assert {p.setting for p in v.panels} == {presets.get("smoke").tickets["setting"]}
    assert [p.role for p in v.panels] == ["input", "middle", "output", "shortcut"]
    shortcuts = figures.figure10(runs, "smoke")
    assert [p.layer for p in shortcuts.panels] == ["blocks.1.shortcut.0", "blocks.2.shortcut.0"]
    nine = figures.figure9(runs, "smoke")
    assert [(p.setting, p.role) for p in nine.panels][:3] == [(SETTINGS[0], r) for r in ("input", "middle", "output")]
    assert nine.panels[2].label == "fc (kept dense)" and set(nine.panels[2].density.layer_density) == {100.0}


def test_section_5_views_check_the_dense_network_and_name_the_round_and_seeds(runs):
    t = presets.get("smoke").tickets
    v = figures.overlap(runs, "smoke")
    assert "bitwise equal" in v.checked and v.round == t["round"] and v.sparsity == pytest.approx(100 * (1 - 0.8**3))
    assert list(v.table.layer)[-1] == "all" and "tickets of magnitude, l1, l2, seeds 0, 1" in v.caption
    one, five = figures.figure1(runs, "smoke"), figures.figure5(runs, "smoke")
    assert set(one.connections["round"]) == {3} and five.rounds == [1, 2, 3]
    r = figures.reinit(runs, "smoke")
    assert "of seed 0 at round 3" in r.caption and "reinit seeds 1" in r.caption and list(r.table.layer)[-1] == "all"


def test_the_connection_table_is_computed_once_per_sweep(runs, smoke_sweep):
    first = evidence.connections(runs, "smoke")
    cache = smoke_sweep / "tables" / "smoke-connections.pkl"
    stamp = cache.stat().st_mtime_ns
    assert evidence.connections(runs, "smoke").equals(first) and cache.stat().st_mtime_ns == stamp


def test_figure3_counts_the_connections_each_not_shared_point_rests_on(runs):
    v = figures.figure3(runs, "smoke")
    assert set(v.not_shared) == set(presets.get("smoke").tickets["metrics"])
    others = v.drift[~v.drift.overlapping]
    for m, (lo, hi) in v.not_shared.items():
        assert (lo, hi) == (others[others.metric == m]["count"].min(), others[others.metric == m]["count"].max())
    # a shared point and a not-shared one of a ticket together are its unpruned connections in the layer
    assert (v.drift[v.drift.overlapping]["count"] > 0).all()


def test_table2_pairs_each_metric_with_magnitude_seed_by_seed(runs):
    v = figures.table2(runs, "smoke")
    assert list(v.paired.columns) == ["setting", "round", *[m for m in presets.METRICS if m != "magnitude"]]
    assert "seed by seed" in v.paired_caption and "preset=smoke" in v.paired_caption
    assert len(v.paired) and all(cell.endswith("/2") for cell in v.paired.l1)  # two seeds each
