"""Masks and pooled pruning (docs/paper.md section 1): counts, monotone masks, ties, layer selection,
and OpenLTH's budget (layers kept dense count as remaining weights)."""

import math

import numpy as np
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


def test_prunable_layers_of_lenet_include_the_output_layer():
    assert pruning.prunable_layers(models.build("lenet_300_100", 1, 28, 10)) == ["fc_layers.0", "fc_layers.1", "fc"]


def openlth_sparse_global(weights, mask, fraction, ignore):
    """An independent transcription of OpenLTH's pruning/sparse_global.py (numpy, inclusive threshold)."""
    current = {k: v.numpy().astype(float) for k, v in mask.items()}
    number_to_prune = np.ceil(fraction * np.sum([np.sum(v) for v in current.values()])).astype(int)
    w = {k: v.numpy() for k, v in weights.items() if k not in ignore}
    vector = np.concatenate([v[current[k] == 1] for k, v in w.items()])
    threshold = np.sort(np.abs(vector))[number_to_prune]
    new = {k: np.where(np.abs(v) > threshold, current[k], np.zeros_like(v)) for k, v in w.items()}
    return {k: torch.from_numpy(new.get(k, current[k])).bool() for k in current}


@pytest.mark.parametrize("dense", [[], ["fc"]])
def test_a_round_equals_openlths_sparse_global_but_for_its_inclusive_threshold(dense):
    torch.manual_seed(0)
    model = models.build("lenet_300_100", 1, 28, 10)
    layers = pruning.prunable_layers(model)
    mask = pruning.full_mask(model, layers)
    for r in range(6):
        w = {n: t * mask[n] for n, t in pruning.weights(model, layers).items()}  # as trained: pruned weights are 0
        ours = pruning.prune(w, mask, "magnitude", 0.2, dense=dense)
        theirs = openlth_sparse_global(w, mask, 0.2, dense)
        extra = sum(int((ours[n] & ~theirs[n]).sum()) for n in layers)
        assert all(not (theirs[n] & ~ours[n]).any() for n in layers) and extra == 1  # the weight at the threshold
        assert all(ours[n].all() for n in dense)
        mask = ours
        with torch.no_grad():  # new weights for the next round, as training would give
            for n in layers:
                model.get_submodule(n).weight.normal_()


def remaining_after(sizes, dense, rounds):
    """Weights left in the pruned layers after each round, pruning ``ceil(0.2 x remaining)`` over all layers."""
    w = {n: torch.randn(size, generator=torch.Generator().manual_seed(i)) for i, (n, size) in enumerate(sizes.items())}
    mask = {n: torch.ones(size, dtype=torch.bool) for n, size in sizes.items()}
    left = []
    for _ in range(rounds):
        mask = pruning.prune(w, mask, "magnitude", 0.2, dense=dense)
        left.append(sum(int(m.sum()) for n, m in mask.items() if n not in dense))
    assert all(mask[n].all() for n in dense)
    return left


def test_openlths_budget_on_lenet_300_100_with_its_output_layer_dense():
    left = remaining_after({"fc_layers.0": 784 * 300, "fc_layers.1": 300 * 100, "fc": 100 * 10}, ["fc"], 24)
    assert (left[14], left[23]) == (8364, 255)  # rounds 15 and 24; counting only the pruned layers: 9329, 1251


@pytest.mark.slow
def test_openlths_budget_on_vgg16_with_its_output_layer_dense():
    model = models.VGG()
    sizes = {n: model.get_submodule(n).weight.numel() for n in pruning.prunable_layers(model)}
    assert sizes["fc"] == 5120 and sum(sizes.values()) - 5120 == 14_710_464
    # One layer of the convs' total size prunes exactly as 13 would: only the count and the dense layer matter.
    left = remaining_after({"convs": 14_710_464, "fc": 5120}, ["fc"], 35)
    assert (left[29], left[34]) == (13095, 848)  # rounds 30 and 35; counting only the pruned layers: 18208, 5964


def test_density_counts_the_dense_layer_and_falls_by_a_fifth_per_round():
    w, mask = layers(5000, 1000, 100)
    for _ in range(10):
        mask = pruning.prune(w, mask, "l1", 0.2, dense=["l2"])
    assert pruning.density(mask) == pytest.approx(0.8**10, abs=1e-3) and pruning.layer_density(mask)["l2"] == 1.0


def test_when_the_budget_exceeds_what_is_left_every_prunable_weight_goes():
    w, mask = layers(4, 100)
    mask = pruning.prune(w, mask, "magnitude", 0.5, dense=["l1"])  # budget 52 > 4 prunable weights
    assert not mask["l0"].any() and mask["l1"].all() and pruning.collapsed(mask) == ["l0"]


def test_prunable_layers_include_shortcuts_and_never_batchnorm():
    names = pruning.prunable_layers(models.build("resnet20", 3, 32, 10))
    assert len(names) == 19 + 2 + 1  # 19 3x3 convs, two 1x1 shortcuts, the output layer
    assert "blocks.3.shortcut.0" in names and "blocks.6.shortcut.0" in names and names[-1] == "fc"
    r18 = pruning.prunable_layers(models.build("resnet18", 3, 64, 200))
    assert len(r18) == 17 + 3 + 1 and "layer2.0.downsample.0" in r18  # docs/paper.md Table 1's layers


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
