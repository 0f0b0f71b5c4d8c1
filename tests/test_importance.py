"""The importance metrics of PAPER.md section 2, against hand-computed values and their properties."""

import math

import pytest
import torch

from lth import importance
from lth.importance import IMPORTANCE

A = torch.tensor([0.5, 1.0, 2.0, 0.5], dtype=torch.float64)


def test_registry_holds_the_papers_metrics_and_controls():
    assert list(IMPORTANCE) == ["magnitude", "l1", "l2", "softmax", "minmax", "lamp", "random"]


def test_hand_computed_values():
    torch.testing.assert_close(importance.magnitude(A), A)
    torch.testing.assert_close(importance.l1(A), A / 4.0)
    torch.testing.assert_close(importance.l2(A), torch.tensor([0.25, 1, 4, 0.25], dtype=torch.float64) / 5.5)
    e = [math.exp(v) for v in A.tolist()]
    torch.testing.assert_close(importance.softmax(A).exp(), torch.tensor(e, dtype=torch.float64) / sum(e))
    torch.testing.assert_close(importance.minmax(A), torch.tensor([0, 1 / 3, 1, 0], dtype=torch.float64))
    # LAMP: a_u^2 / sum of a_v^2 over v >= u in sorted order (ties in order of position).
    torch.testing.assert_close(importance.lamp(A), torch.tensor([0.25 / 5.5, 1 / 5.0, 1.0, 0.25 / 5.25], dtype=torch.float64))


@pytest.mark.parametrize("name", ["l1", "l2", "softmax"])
def test_normalised_metrics_sum_to_one_per_layer(name):
    a = torch.rand(1000, dtype=torch.float64)
    s = IMPORTANCE[name](a)
    total = s.exp().sum() if name == "softmax" else s.sum()
    assert total.item() == pytest.approx(1.0)


def test_softmax_lower_bound_and_near_uniform_for_wide_kaiming_layers():
    a = (torch.randn(512 * 512 * 9, dtype=torch.float64) * math.sqrt(2 / (512 * 9))).abs()
    p = importance.softmax(a).exp()
    n = a.numel()
    assert p.min() > 1 / n * math.exp(-a.max())  # exp(a) >= 1, so p >= 1 / sum(exp(a))
    assert p.max() / p.min() < 1.2  # nearly uniform: the paper's "spiky" pruning comes from here


def test_softmax_is_exact_for_layers_of_millions_of_weights():
    a = torch.rand(4_000_000, dtype=torch.float64) * 5
    s = importance.softmax(a)
    assert torch.isfinite(s).all()
    assert s.exp().sum().item() == pytest.approx(1.0, rel=1e-9)
    assert torch.equal(torch.argsort(s, stable=True), torch.argsort(a, stable=True))  # ranking kept


def test_minmax_gives_every_layer_a_zero_and_a_one():
    for n in (2, 10, 1000):
        s = importance.minmax(torch.rand(n, dtype=torch.float64))
        assert s.min().item() == 0.0 and s.max().item() == 1.0
    assert torch.equal(importance.minmax(torch.ones(3, dtype=torch.float64)), torch.zeros(3, dtype=torch.float64))


def test_metrics_keep_the_within_layer_ranking():
    a = torch.rand(100, dtype=torch.float64)
    for name in ("magnitude", "l1", "l2", "softmax", "minmax", "lamp"):
        assert torch.equal(torch.argsort(IMPORTANCE[name](a), stable=True), torch.argsort(a, stable=True)), name


def test_unknown_metric_is_one_line_naming_the_valid_ones():
    with pytest.raises(ValueError) as e:
        importance.get("magnitud")
    msg = str(e.value)
    assert "\n" not in msg and "'magnitud'" in msg and all(n in msg for n in IMPORTANCE)
