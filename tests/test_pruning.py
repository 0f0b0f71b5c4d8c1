"""Masks and pooled pruning (PAPER.md section 1): counts, monotone masks, ties, layer selection."""

import math

import pytest
import torch

from lth import models, pruning
from lth.importance import IMPORTANCE


def layers(*sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = {f"l{i}": torch.randn(n, generator=g) for i, n in enumerate(sizes)}
    return w, {n: torch.ones_like(t, dtype=torch.bool) for n, t in w.items()}


@pytest.mark.parametrize("name", list(IMPORTANCE))
def test_each_round_removes_ceil_fraction_of_remaining_and_masks_only_lose_entries(name):
    w, mask = layers(300, 100, 10)
    for r in range(12):
        remaining = sum(int(m.sum()) for m in mask.values())
        new = pruning.prune(w, mask, name, 0.2, seed=r)
        assert sum(int(m.sum()) for m in new.values()) == remaining - math.ceil(0.2 * remaining)
        assert all(not (new[n] & ~mask[n]).any() for n in mask)  # nothing comes back
        mask = new
    assert pruning.density(mask) == pytest.approx(0.8**12, abs=0.01)


def test_magnitude_equals_plain_global_magnitude_pruning():
    w, mask = layers(500, 200, 50)
    new = pruning.prune(w, mask, "magnitude", 0.3)
    flat = torch.cat([t.abs() for t in w.values()])
    threshold = flat.sort().values[math.ceil(0.3 * flat.numel()) - 1]
    for n in w:
        assert torch.equal(new[n], w[n].abs() > threshold)


def test_scores_see_only_the_unpruned_weights_of_a_layer():
    # l1 divides by the layer's remaining mass: pruned weights must not count.
    w = {"a": torch.tensor([1.0, 2.0, 100.0, 100.0]), "b": torch.tensor([1.0, 3.0])}
    mask = {"a": torch.tensor([True, True, False, False]), "b": torch.tensor([True, True])}
    # remaining l1 scores: a -> 1/3, 2/3; b -> 1/4, 3/4. Prune ceil(0.5*4) = 2: b's 1/4 and a's 1/3.
    new = pruning.prune(w, mask, "l1", 0.5)
    assert new["a"].tolist() == [False, True, False, False] and new["b"].tolist() == [False, True]


def test_ties_are_broken_by_position_deterministically():
    w = {"a": torch.ones(4), "b": torch.ones(4)}
    mask = {n: torch.ones(4, dtype=torch.bool) for n in w}
    new = pruning.prune(w, mask, "magnitude", 0.25)
    assert new["a"].tolist() == [False, False, True, True] and new["b"].all()


def test_minmax_prunes_every_layer_in_every_round():
    w, mask = layers(1000, 50, 5)
    new = pruning.prune(w, mask, "minmax", 0.2)
    assert all(int(new[n].sum()) < int(mask[n].sum()) for n in w)


def test_random_is_seeded_and_leaves_the_global_rng_alone():
    w, mask = layers(1000)
    torch.manual_seed(1)
    before = torch.rand(1)
    torch.manual_seed(1)
    a = pruning.prune(w, mask, "random", 0.5, seed=7)
    assert torch.equal(torch.rand(1), before)
    assert torch.equal(a["l0"], pruning.prune(w, mask, "random", 0.5, seed=7)["l0"])
    assert not torch.equal(a["l0"], pruning.prune(w, mask, "random", 0.5, seed=8)["l0"])


def test_collapsed_layers_are_reported_and_skipped():
    w = {"a": torch.tensor([0.1, 0.2]), "b": torch.tensor([5.0, 6.0, 7.0])}
    mask = {n: torch.ones_like(t, dtype=torch.bool) for n, t in w.items()}
    mask = pruning.prune(w, mask, "magnitude", 0.4)
    assert pruning.collapsed(mask) == ["a"]
    mask = pruning.prune(w, mask, "minmax", 0.2)  # an empty layer gets no scores
    assert int(mask["b"].sum()) == 2


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_fraction_outside_unit_interval_is_rejected(fraction):
    w, mask = layers(10)
    with pytest.raises(ValueError, match="outside"):
        pruning.prune(w, mask, "magnitude", fraction)


@pytest.mark.parametrize("name,prune_output,expected", [
    ("lenet_300_100", False, ["fc_layers.0", "fc_layers.1"]),
    ("lenet_300_100", True, ["fc_layers.0", "fc_layers.1", "fc"]),
])
def test_prunable_layers_of_lenet(name, prune_output, expected):
    assert pruning.prunable_layers(models.build(name, 1, 28, 10), prune_output) == expected


def test_prunable_layers_include_shortcuts_and_never_batchnorm():
    names = pruning.prunable_layers(models.build("resnet20", 3, 32, 10))
    assert len(names) == 19 + 2 + 1  # 19 3x3 convs, two 1x1 shortcuts, the output layer
    assert "blocks.3.shortcut.0" in names and "blocks.6.shortcut.0" in names and names[-1] == "fc"
    r18 = pruning.prunable_layers(models.build("resnet18", 3, 64, 200))
    assert len(r18) == 17 + 3 + 1 and "layer2.0.downsample.0" in r18  # PAPER.md Table 1's layers


def test_apply_mask_zeroes_exactly_the_pruned_weights():
    model = models.build("lenet_300_100", 1, 28, 10)
    names = pruning.prunable_layers(model)
    w = pruning.weights(model, names)
    mask = pruning.prune(w, pruning.full_mask(model, names), "magnitude", 0.5)
    pruning.apply_mask(model, mask)
    for n in names:
        after = model.get_submodule(n).weight.detach()
        assert torch.equal(after[~mask[n]], torch.zeros(int((~mask[n]).sum())))
        assert torch.equal(after[mask[n]], w[n][mask[n]])
