"""Training (docs/paper.md section 3): masks survive SGD, batches are seeded, schedule, real accuracy."""

import pytest
import torch
import torchvision.transforms.v2 as T

from lth import data, models, pruning
from lth.config import Config
from lth.training import derive_seed, evaluate, iterations_per_epoch, learning_rate, train


def tiny_data(n=64, augment=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    return data.Dataset("tiny", torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g),
                         torch.randint(0, 10, (n,), generator=g), torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8, generator=g),
                         torch.randint(0, 10, (16,), generator=g), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 10, augment, 2)


def test_crop_flip_matches_torchvision_per_image():
    x = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    dy, dx = torch.tensor([0, 4, 2, 1, 3, 0]), torch.tensor([4, 0, 2, 3, 1, 0])
    flip = torch.tensor([False, True, False, True, True, False])
    out = data.crop_flip(x, dy, dx, flip, 2)
    for j in range(6):
        ref = T.functional.crop(T.functional.pad(x[j], [2]), int(dy[j]), int(dx[j]), 8, 8)
        assert torch.equal(out[j], ref.flip(-1) if flip[j] else ref)


def test_an_epoch_is_a_seeded_permutation_and_can_start_mid_epoch():
    dataset = tiny_data(augment=False)
    full = list(data.batches(dataset, 10, seed=3))
    assert [len(y) for _, y in full] == [10] * 6 + [4]  # the last batch is smaller, as in a DataLoader
    labels = torch.cat([y for _, y in full])
    assert sorted(labels.tolist()) == sorted(dataset.train_y.tolist())
    again = list(data.batches(dataset, 10, seed=3, first=4))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(again, full[4:])) and len(again) == 3
    other = list(data.batches(dataset, 10, seed=4))
    assert not torch.equal(other[0][1], full[0][1])


def test_augmentation_is_seeded_and_varies_between_epochs():
    dataset = tiny_data()
    a = next(data.batches(dataset, 64, seed=derive_seed(0, "epoch", 0)))[0]
    assert torch.equal(a, next(data.batches(dataset, 64, seed=derive_seed(0, "epoch", 0)))[0])
    assert not torch.equal(a, next(data.batches(dataset, 64, seed=derive_seed(0, "epoch", 1)))[0])


def test_learning_rate_drops_tenfold_at_each_milestone():
    hp = Config(epochs=160, lr=0.1, milestones=(80, 120))
    assert [learning_rate(hp, e * 391, 391) for e in (0, 79, 80, 119, 120, 159)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def masked_resnet():
    torch.manual_seed(0)
    model = models.build("resnet8_16", 3, 8, 10)
    names = pruning.prunable_layers(model)
    mask = pruning.prune(pruning.weights(model, names), pruning.full_mask(model, names), "magnitude", 0.5)
    pruning.apply_mask(model, mask)
    return model, mask


def test_pruned_weights_stay_exactly_zero_through_momentum_and_weight_decay():
    model, mask = masked_resnet()
    hp = Config(epochs=2, batch_size=16, lr=0.1, momentum=0.9, weight_decay=1e-3)
    before = pruning.weights(model, mask)
    train(model, tiny_data(), hp, start=0, end=8, seed=0, mask=mask)
    after = pruning.weights(model, mask)
    for n, m in mask.items():
        assert (after[n][~m] == 0).all()
        assert not torch.equal(after[n][m], before[n][m])  # the kept weights did train


def test_training_is_bitwise_deterministic():
    runs = []
    for _ in range(2):
        model, mask = masked_resnet()
        train(model, tiny_data(), Config(epochs=2, batch_size=16, momentum=0.9), start=3, end=9, seed=5, mask=mask)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_lenet_learns_fashion_mnist(fashion_mnist):
    torch.manual_seed(0)
    dataset = data.subset(fashion_mnist, 20000)
    model = models.build("lenet_300_100", 1, 28, 10)
    hp = Config(epochs=1, batch_size=128, lr=0.1)
    train(model, dataset, hp, start=0, end=iterations_per_epoch(dataset, 128), seed=0)
    assert evaluate(model, dataset) >= 80.0
