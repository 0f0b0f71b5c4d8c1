"""A setting's regime (lth.regime) and the regime study's runs and tables (lth.report.study), on constructed numbers."""

import math

import pandas as pd
import pytest

from lth import presets, runs

from lth.report import stats, study
from lth.regime import learning_rate, regime


def test_the_small_presets_resnet_round_sees_resnet20s_weight_decay_and_its_vgg_round_a_165th():
    paper = regime(dict(presets.DEFAULT, **presets.PAPER["resnet20_cifar10"]))
    # 160 epochs of 391 iterations from the rewind point 1000: lr 0.1 to epoch 80, 0.01 to 120, 0.001 after
    assert paper.iterations == 160 * 391 - 1000
    assert paper.decay == pytest.approx(1e-4 * ((80 * 391 - 1000) * 0.1 + 40 * 391 * 0.01 + 40 * 391 * 0.001))
    assert paper.rewind == pytest.approx(1000 / (160 * 391))
    small = regime(presets.PRESETS["small"]["settings"]["resnet8_16_fashion_mnist"])
    assert small.iterations == 8 * 128 - 10  # 4,096 images in batches of 32, 8 epochs, rewinding to iteration 10
    assert small.decay == pytest.approx(4e-3 * ((6 * 128 - 10) * 0.1 + 2 * 128 * 0.01))
    assert 1 / 2 < paper.decay / small.decay < 2  # within a factor of 2 of the paper's (docs/results.md#the-regime)
    vgg = regime(presets.PRESETS["small"]["settings"]["vgg16_8_fashion_mnist"])
    paper_vgg = regime(dict(presets.DEFAULT, **presets.PAPER["vgg16_cifar10"]))
    assert 160 < paper_vgg.decay / vgg.decay < 170  # VGG keeps its schedule (docs/results.md#the-regime)


def test_learning_rate_drops_tenfold_at_each_milestone_and_no_weight_decay_is_no_decay():
    config = dict(presets.DEFAULT, lr=0.2, milestones=[2, 3])
    assert [learning_rate(config, it, 10) for it in (0, 19, 20, 29, 30)] == pytest.approx([0.2, 0.2, 0.02, 0.02, 0.002])
    assert regime(dict(presets.DEFAULT, weight_decay=0.0)).decay == 0


def test_the_study_arms_share_the_presets_runs_where_they_equal_them_and_differ_elsewhere():
    small = {r.id for r in runs.every("small")}
    arms = runs.every("small", study=True)
    assert len(arms) == 4 * 3 * 5 + 4 * 2 * 3 and len({r.id for r in arms}) == len(arms)
    same = [r for r in arms if r.id in small]
    # the preset's own arms: ResNet-8-16's in the paper's regime, VGG's schedule kept
    assert {r.setting for r in same} == {"resnet8_16_fashion_mnist@8 epochs, wd 4e-3", "vgg16_8_fashion_mnist@8 epochs, wd 1e-4"}
    assert not {r.id for r in arms} & {r.id for r in runs.every("smoke") + runs.every("smoke", study=True)}
    decays = {r.setting: round(regime(r.config).decay, 2) for r in arms}
    assert decays["resnet8_16_fashion_mnist@4 epochs, wd 8e-3"] == decays["resnet8_16_fashion_mnist@8 epochs, wd 4e-3"]
    assert decays["vgg16_8_fashion_mnist@16 epochs, wd 8e-3"] == decays["vgg16_8_fashion_mnist@32 epochs, wd 4e-3"]


def _table(gap_seed_1, at_chance=False, last=(24, 25, 21, 25)):
    """Two seeds of magnitude and l1 at one round: l1 2 points ahead in seed 0, ``gap_seed_1`` in seed 1; ``last``:
    each run's last round above chance."""
    rows = []
    for seed, gap in ((0, 2.0), (1, gap_seed_1)):
        for metric, acc in (("magnitude", 80.0), ("l1", 80.0 + gap)):
            rows.append(dict(setting="s", arm="a", iterations=10, lr_x_weight_decay=0.3, importance=metric, seed=seed,
                             round=20, sparsity=98.8, test_accuracy=10.0 if at_chance else acc, at_chance=at_chance,
                             shortcut_share_percent=None, first_collapse_round=None,
                             last_round_learning=last[len(rows)], dense_accuracy_percent=90.0))
    return pd.DataFrame(rows)


def test_gaps_are_paired_by_seed_and_summarised_with_their_signs():
    g = study.gaps(_table(-1.0))
    assert g.gap_points.tolist() == [2.0, -1.0] and not g.both_at_chance.any()
    s = study.summary(_table(-1.0)).iloc[0]
    assert s.l1_minus_magnitude_points == "+0.50 [-1.00, +2.00] 1 ahead, 1 behind, 1 within 1"
    assert s.runs_collapsed == "0 of 4" and s.dense_accuracy_percent == 90.0
    assert s.last_round_learning == "24.5 [21, 25]"
    assert study.summary(_table(-1.0, last=(24, None, 21, 25))).iloc[0].last_round_learning == "1 of 4 never above chance"


def test_no_gap_is_quoted_between_runs_at_chance():
    g = study.gaps(_table(0.0, at_chance=True))
    assert g.both_at_chance.all() and g.gap_points.isna().all()
    assert study.summary(_table(0.0, at_chance=True)).iloc[0].l1_minus_magnitude_points == "at chance"
    assert stats.chance("fashion_mnist") == 10 and math.isclose(stats.chance("tinyimagenet"), 0.5)
    assert stats.at_chance(14.9, "fashion_mnist") and not stats.at_chance(15.1, "fashion_mnist")


def test_the_modules_example_holds():
    import doctest

    from lth import regime as module

    assert doctest.testmod(module).failed == 0
