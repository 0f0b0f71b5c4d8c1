"""lth.report.analysis on small hand-made run folders: finding runs by identity, tables, collapse, ranges, roles."""

import json

import pandas as pd
import pytest
import torch

from lth import presets, runs as runs_, store

from lth.report import analysis, published

ROLES = {"input": "fc_layers.1", "middle": "fc_layers.0", "output": "fc", "shortcuts": [], "names": {}}


def make_run(runs_dir, config, accuracy, layer_density, status="COMPLETED", collapsed=None):
    d = runs_dir / runs_.run_id(config)
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(config))
    info = {"layers": list(layer_density), "dense": ["fc"], "roles": ROLES, **({"collapsed": collapsed} if collapsed else {})}
    (d / "run.json").write_text(json.dumps({"status": status}))
    if status == "COMPLETED":
        (d / "completed").touch()
        for name in store.files(config):  # the artifacts, as readable files: these tests read only the JSON ones
            if name.endswith(".pt"):
                torch.save({}, d / name)
    (d / "info.json").write_text(json.dumps(info))
    steps = list(range(len(accuracy)))
    metrics = {"test_accuracy": {"steps": steps, "values": accuracy},
               "density": {"steps": steps, "values": [0.8**i for i in steps]}}
    for layer, values in layer_density.items():
        metrics[f"density/{layer}"] = {"steps": steps, "values": values}
    (d / "metrics.json").write_text(json.dumps(metrics))
    return d


@pytest.fixture
def smoke_runs(tmp_path):
    """Every run of the smoke preset, with accuracy = 90 - round + seed, plus a decoy of another config."""
    for config in (r.config for r in runs_.of_preset("smoke")):
        seed = config["seed"]
        collapsed = {"2": ["fc_layers.1"]} if config["importance"] == "magnitude" and seed == 1 else None
        make_run(tmp_path, dict(config, data_root="x", device="cpu"), [90.0 - r + seed for r in range(4)],
                 {"fc_layers.1": [1, 0.9, 0.0, 0.0], "fc_layers.0": [1, 0.7, 0.5, 0.4], "fc": [1, 1, 1, 1]},
                 collapsed=collapsed)
    first = runs_.of_preset("smoke")[0].config
    make_run(tmp_path, dict(first, epochs=99), [0.0] * 4, {})  # another config
    return tmp_path


def test_runs_are_found_by_identity(smoke_runs):
    first = runs_.of_preset("smoke")[0]
    assert store.is_completed(first.folder(smoke_runs))
    assert analysis.missing_runs(smoke_runs, "smoke") == []
    assert len(analysis.missing_runs(smoke_runs, "small")) == len(runs_.of_preset("small"))


def test_incomplete_sweep_names_how_many_are_missing_and_the_command(smoke_runs):
    first = runs_.of_preset("smoke")[0]
    (first.folder(smoke_runs) / "completed").unlink()  # e.g. failed or still running
    with pytest.raises(analysis.MissingRuns) as e:
        analysis.load_runs(smoke_runs, "smoke")
    n = len(runs_.of_preset("smoke"))
    assert f"1 of the {n} runs" in str(e.value) and "make PRESET=smoke runs" in str(e.value) and "\n" not in str(e.value)


def test_table2_is_mean_and_std_over_seeds(smoke_runs):
    runs = analysis.load_runs(smoke_runs, "smoke")
    acc = analysis.accuracy(runs)
    s = analysis.summary(acc, step=2)
    row = s[(s.setting == "lenet_300_100_fashion_mnist") & (s.importance == "l1") & (s["round"] == 2)].iloc[0]
    assert row["mean"] == pytest.approx(88.5) and row["std"] == pytest.approx(pd.Series([88.0, 89.0]).std())
    assert sorted(s["round"].unique()) == [0, 2, 3]  # every 2 rounds and the last
    table = analysis.table2(acc, step=2)
    assert list(table.columns[:3]) == ["setting", "round", "sparsity"] and list(table.columns[3:]) == presets.METRICS
    assert table.iloc[1]["l1"] == "88.50 ± 0.71"


def test_comparison_with_the_papers_numbers_uses_the_data_file():
    acc = pd.DataFrame([dict(setting="resnet20_cifar10", importance=m, seed=s, round=r, density=0.8**r,
                             sparsity=100 * (1 - 0.8**r), test_accuracy=90.0 + s)
                        for m in presets.PAPER_METRICS for s in (0, 1) for r in (0, 10)])
    t = published.compare_with_paper(analysis.summary(acc, step=10))
    row = t[(t.importance == "softmax") & (t["round"] == 10)].iloc[0]
    assert row["paper"] == 87.75 and row["difference"] == pytest.approx(90.5 - 87.75)
    assert t[t.importance == "dense"].iloc[0]["paper"] == 91.67
    assert "90.50 / 91.67 / -1.17" in analysis.table2(acc, with_paper=True, step=10).to_string()


def test_layer_sparsity_keeps_depth_order(smoke_runs):
    ld = analysis.layer_density_table(analysis.load_runs(smoke_runs, "smoke"))
    first = ld.drop_duplicates("layer").sort_values("depth")
    assert list(first.layer) == ["fc_layers.1", "fc_layers.0", "fc"]  # the run's layer order, not sorted names
    assert ld[(ld.layer == "fc_layers.0") & (ld["round"] == 1)].layer_sparsity.iloc[0] == pytest.approx(30.0)


def test_collapse_reports_first_round_and_layer(smoke_runs):
    col = analysis.collapse(analysis.load_runs(smoke_runs, "smoke"))
    hit = col[col.first_collapse_round.notna()]
    assert set(hit.importance) == {"magnitude"} and set(hit.seed) == {1}
    assert set(hit.collapsed_layers) == {"fc_layers.1"} and set(hit.first_collapse_round) == {2}
    s = analysis.collapse_summary(col)
    mag = s[(s.importance == "magnitude")].iloc[0]
    assert (mag["runs"], mag["collapsed runs"], mag["first collapse (round)"]) == (2, 1, "2")
    assert mag["lowest layer density (%)"] == 0.0 and mag["sparsest layers"] == "fc_layers.1"
    assert mag["verdict"] == "collapses in 1 of 2 runs (from round 2)"
    l1 = s[(s.importance == "l1")].iloc[0]
    assert l1["first collapse (round)"] == "" and l1["verdict"].startswith("no collapse in 2 runs; closest: a layer at ")
    assert l1["verdict"].endswith(f"{l1['lowest layer density (%)']} % density")
    closest = analysis.sparsest_layer(analysis.load_runs(smoke_runs, "smoke"))  # fc_layers.1: 1, 0.9, 0, 0
    assert (closest.groupby(["setting", "importance", "seed"])["round"].count() == 4).all()  # every round of every run
    assert list(closest.layer_density[:4]) == pytest.approx([100, 70, 0, 0]) and list(closest.collapsed[:4]) == [
        False, False, True, True]


def test_followed_layers_are_the_declared_roles_and_a_dense_output_is_labelled_so(smoke_runs):
    path = analysis.load_runs(smoke_runs, "smoke").path[0]
    assert analysis.followed_layers(path) == {"input": "fc_layers.1", "middle": "fc_layers.0", "output": "fc"}
    assert analysis.layer_label(path, "fc") == "fc (kept dense)" and analysis.layer_label(path, "fc_layers.0") == "fc_layers.0"


def test_weight_ranges_read_init_rewind_and_trained(tmp_path):
    torch.save({"a.weight": torch.tensor([-1.0, 2.0]), "a.bias": torch.zeros(2)}, tmp_path / "init.pt")
    torch.save({"a.weight": torch.tensor([-1.5, 2.5]), "a.bias": torch.zeros(2)}, tmp_path / "rewind.pt")
    torch.save({"mask": {}, "trained": {"a": torch.tensor([-3.0, 0.5])}}, tmp_path / "round_0.pt")
    w = analysis.weight_ranges(tmp_path).set_index("stage")
    assert w.loc["init", "min"] == -1.0 and w.loc["rewind", "max"] == 2.5 and w.loc["trained", "min"] == -3.0


def test_paired_differences_compare_each_metric_with_magnitude_seed_by_seed():
    rows = []
    for seed, (mag, l1, l2) in enumerate([(80.0, 81.0, 79.0), (70.0, 70.5, 71.0), (90.0, 91.5, 89.0)]):
        for m, acc in (("magnitude", mag), ("l1", l1), ("l2", l2)):
            rows += [dict(setting="s", importance=m, seed=seed, round=0, test_accuracy=60.0 + seed, sparsity=0.0),
                     dict(setting="s", importance=m, seed=seed, round=5, test_accuracy=acc, sparsity=67.2)]
    acc = pd.DataFrame(rows)
    d = analysis.paired_differences(acc).set_index(["round", "importance"])
    # the seeds' accuracies spread over 20 points; their differences to magnitude do not
    assert d.loc[(5, "l1"), ["mean", "min", "max", "seeds", "agree"]].tolist() == [1.0, 0.5, 1.5, 3, 3]
    assert d.loc[(5, "l2"), ["mean", "min", "max", "seeds", "agree"]].tolist() == pytest.approx([-1 / 3, -1, 1, 3, 2])
    assert d.loc[(0, "l1"), ["mean", "agree"]].tolist() == [0.0, 0]  # one network per seed: no sign to agree with
    table = analysis.table2_paired(acc).set_index("round")
    assert list(table.columns) == ["setting", "l1", "l2"] and list(table.index) == [5]
    assert table.loc[5, "l1"] == "+1.00 [+0.50, +1.50] 3/3" and table.loc[5, "l2"] == "-0.33 [-1.00, +1.00] 2/3"
