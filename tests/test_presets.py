"""The paper's settings (docs/paper.md section 3) and the presets of `make figures`."""

import json

import pytest

from lth import presets, runs


def test_named_configs_hold_exactly_the_papers_hyperparameters():
    p = presets.PAPER
    assert p["lenet_300_100_mnist"] == dict(model="lenet_300_100", dataset="mnist", epochs=40, batch_size=128, lr=0.1,
                                            momentum=0.0, milestones=[], weight_decay=0.0, rewind_iter=0, rounds=24,
                                            prune_output=False)
    r20 = p["resnet20_cifar10"]
    assert (r20["epochs"], r20["batch_size"], r20["momentum"], r20["lr"], r20["milestones"], r20["weight_decay"],
            r20["rewind_iter"], r20["rounds"], r20["prune_output"]) == (160, 128, 0.9, 0.1, [80, 120], 1e-4, 1000, 40, True)
    vgg = p["vgg16_cifar10"]
    assert (vgg["rewind_iter"], vgg["rounds"], vgg["prune_output"], vgg["batch_size"]) == (2000, 35, False, 128)
    r18 = p["resnet18_tinyimagenet"]
    assert (r18["epochs"], r18["batch_size"], r18["lr"], r18["milestones"], r18["rewind_iter"], r18["rounds"],
            r18["prune_output"]) == (200, 256, 0.2, [100, 150], 1000, 40, True)
    assert all(set(s) <= set(presets.DEFAULT) for s in p.values())


def test_small_preset_five_seeds_whole_test_set_and_a_vgg_setting():
    small = presets.PRESETS["small"]
    assert small["seeds"] == [0, 1, 2, 3, 4] and set(presets.PAPER_METRICS) | {"lamp", "random"} == set(small["metrics"])
    for s in small["settings"].values():
        assert 1 - (1 - s["prune_fraction"]) ** s["rounds"] >= 0.96 and s["dataset"] == "fashion_mnist"
        assert s["test_size"] is None  # all 10,000 test images
    vgg = small["settings"]["vgg16_8_fashion_mnist"]
    assert vgg["model"] == "vgg16_8" and not vgg["prune_output"]
    small_runs = runs.of_preset("small")
    # LeNet-300-100 and ResNet-8-16: the paper's five metrics on 5 seeds, lamp and random (no claim judges them) on
    # seed 0; the VGG: magnitude and l1 on 5
    assert len(small_runs) == 2 * (5 * 5 + 2 * 1) + 2 * 5 and len({r.id for r in small_runs}) == len(small_runs)
    assert {r.seed for r in small_runs if r.importance in ("lamp", "random")} == {0}
    last = small_runs[-1]
    assert (last.setting, last.importance, last.seed) == ("vgg16_8_fashion_mnist", "l1", 4)
    assert last.config["data_root"] == presets.get("small").data_root
    assert {r.seed for r in runs.of_preset("small", extra=True)} == {0, 1}  # metrics beyond the paper's: seeds 0-1


def test_paper_preset_runs_the_four_settings():
    assert {r.config["model"] for r in runs.of_preset("paper")} == {"lenet_300_100", "resnet20", "vgg16", "resnet18"}


def test_unknown_preset_is_one_line_with_the_valid_names():
    with pytest.raises(presets.PresetError, match="unknown preset 'big'; valid: small, paper, smoke"):
        presets.get("big")


def test_section_5_1_reinitialises_only_a_presets_own_seeds_and_says_so_in_one_line(monkeypatch):
    smoke = presets.PRESETS["smoke"]
    monkeypatch.setitem(presets.PRESETS, "smoke", dict(smoke, tickets=dict(smoke["tickets"], reinit_tickets=[0, 7])))
    presets.get.cache_clear()
    with pytest.raises(presets.PresetError, match=r"^preset smoke: reinit_tickets=7 is not one of its seeds; valid: 0, 1$"):
        presets.get("smoke")
    monkeypatch.setitem(presets.PRESETS, "smoke", dict(smoke, tickets={k: v for k, v in smoke["tickets"].items()
                                                                     if k != "reinit_tickets"}))
    presets.get.cache_clear()
    assert presets.get("smoke").tickets["reinit_tickets"] == [0]  # seed 0's tickets where a preset does not say
    presets.get.cache_clear()


def test_a_run_in_several_groups_is_one_run_and_section_5_keeps_its_metrics_whatever_metrics_says(monkeypatch):
    """lth.runs.groups: a ticket run is one of the LTR runs (one folder, one id computation per process: the next
    test), the reinitialisations start from those runs, METRICS=magnitude,l1 still runs Section 5's l2 tickets, and
    METRICS without magnitude still runs magnitude (Table 1's runs, every paired difference's baseline)."""
    g = runs.groups("smoke")
    assert {t.id for t in g["ticket"]} <= {r.id for r in g["run"]}
    assert {o.id for r in g["reinit"] for o in r.originals} <= {t.id for t in g["ticket"]}
    assert len(runs.every("smoke")) == len(g["run"]) + len(g["extra"]) + len(g["reinit"])
    monkeypatch.setenv("LTH_METRICS", "magnitude,l1")
    g = runs.groups("smoke")
    assert {r.importance for r in g["run"]} == {"magnitude", "l1"}
    assert {r.importance for r in g["ticket"]} == set(presets.get("smoke").tickets["metrics"]) == {"magnitude", "l1", "l2"}
    l2 = [r.id for r in runs.every("smoke", "imp") if r.importance == "l2"]  # what `sweep run` and make know
    assert l2 and l2 == [r.id for r in g["ticket"] if r.importance == "l2"]
    monkeypatch.setenv("LTH_METRICS", "l1, mymetrics:per_row")  # magnitude stays: every comparison's baseline
    assert presets.get("smoke").metrics == ("magnitude", "l1", "mymetrics:per_row")
    assert runs.groups("smoke")["magnitude"] == runs.of_preset("smoke", ["magnitude"])  # Table 1's runs are run


def test_a_run_id_is_computed_once_per_process_however_the_run_is_reached(monkeypatch):
    """make's list, sweep, the Slurm launcher and a notebook reach runs through groups, every, of_preset and a
    reinitialisation's originals, many times: each LTR run's id is computed once."""
    computed = []
    monkeypatch.setattr(runs, "_IDS", {})
    monkeypatch.setattr(runs, "run_id", lambda config, real=runs.run_id: computed.append(config) or real(config))
    for _ in range(3):
        ids = [r.id for group in runs.groups("smoke").values() for r in group]
        ids += [r.id for r in runs.every("smoke")] + [r.id for r in runs.of_preset("smoke")]
    every = runs.every("smoke", "imp") + runs.every("smoke", "imp", study=True)  # a regime arm may be a preset's run
    assert len(computed) == len({json.dumps(c, sort_keys=True) for c in computed}) == len({r.id for r in every})


def test_a_preset_is_resolved_once_per_process_and_metrics_once_per_value(monkeypatch):
    """lth.presets.get: one Preset object per name and $LTH_METRICS, its settings typed Configs, passed down as is."""
    small = presets.get("small")
    assert presets.get("small") is small and presets.get(small) is small and str(small) == "small"
    assert small.settings["resnet8_16_fashion_mnist"].milestones == (6,) and small.metrics == tuple(presets.METRICS)
    monkeypatch.setenv("LTH_METRICS", "l2")
    assert presets.get("small").metrics == ("magnitude", "l2") and presets.get("small") is not small
