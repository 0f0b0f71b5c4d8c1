"""Masks and global pruning: which weights a ticket keeps.

A mask maps a layer's name (``model.get_submodule(name)``) to a bool tensor shaped like its
weight; True = kept. Every function here works on plain dicts of tensors, so that it is as easy to
apply to saved tickets as to live models.
"""

import math

import torch
from torch import nn

from lth.importance import Layer, resolve


def prunable_layers(model):
    """Names of the Conv2d and Linear layers, input to output: the layers a mask covers.

    As in OpenLTH: every conv and linear weight (1x1 shortcuts included), never biases or
    BatchNorm. A layer kept dense (OpenLTH's ``pruning_layers_to_ignore``, e.g. LeNet's output
    layer) stays in the mask, all ones, and is passed to ``prune`` in ``dense``.
    """
    return [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def weights(model, layers):
    """A CPU copy of the weights of ``layers``."""
    return {n: model.get_submodule(n).weight.detach().cpu().clone() for n in layers}


def full_mask(model, layers):
    return {n: torch.ones_like(model.get_submodule(n).weight, dtype=torch.bool, device="cpu") for n in layers}


@torch.no_grad()
def apply_mask(model, mask):
    """Zero the pruned weights of ``model`` in place."""
    for name, m in mask.items():
        w = model.get_submodule(name).weight
        w.mul_(m.to(w.device, w.dtype))


def prune(weights, mask, importance="magnitude", fraction=0.2, seed=0, dense=(), init=None, rewind=None):
    """The next, sparser mask: remove the ``ceil(fraction * remaining)`` lowest-scored weights.

    The budget is OpenLTH's ``sparse_global``: *remaining* counts every weight still in the mask,
    the layers in ``dense`` (kept dense) included, but only the other layers are scored and lose
    weights; so they lose more than ``fraction`` of their own weights per round, and ``density``
    falls by ``1 - fraction`` per round over all layers. (OpenLTH's threshold is inclusive and
    removes one weight more per round; we remove exactly the budget.)

    Each layer's unpruned weights are scored by the importance metric on their own (so per-layer
    normalisations see only what is left), then all scores are pooled. Ties are broken by position:
    earlier layers, then lower flat indices, are pruned first. ``seed`` seeds the ``random`` metric.
    When fewer weights are left outside ``dense`` than the budget, all of them go.

    ``importance``: an ``lth.importance.Metric`` (a run resolves its metric once), or a name (registered, or
    ``"module:function"``) or a function, resolved here. A metric of two arguments also gets its layer's context
    (``lth.importance.Layer``), which reads theta_0 and theta_{0,k} from ``init`` and ``rewind`` ({layer: weight
    tensor}, shared, not copied).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"pruning fraction {fraction!r} is outside (0, 1)")
    metric = resolve(importance)
    budget = math.ceil(fraction * sum(int(m.sum()) for m in mask.values()))
    pruned = [n for n in mask if n not in dense]
    kept = {n: weights[n][mask[n]].abs().double() for n in pruned}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        scores = [a if not a.numel() else
                  metric.score(a, Layer(n, mask[n], weights[n], (init or {}).get(n), (rewind or {}).get(n)))
                  if metric.with_layer else metric.score(a) for n, a in kept.items()]
    for name, s, a in zip(pruned, scores, kept.values()):
        if getattr(s, "shape", None) != a.shape:
            raise NonFiniteScores(f"importance {metric.name} gave scores of shape {tuple(getattr(s, 'shape', ()))} in "
                                  f"layer {name} for {a.numel()} unpruned weights; a metric gives one score per weight")
        if bad := int((~s.isfinite()).sum()):
            raise NonFiniteScores(f"importance {metric.name} gave {bad} non-finite scores in layer {name} (of "
                                  f"{s.numel()} unpruned weights); a metric must give every weight a finite score")
    scores = torch.cat(scores)
    keep = torch.ones_like(scores, dtype=torch.bool)
    keep[torch.sort(scores, stable=True).indices[:budget]] = False
    new = dict(mask)
    for name, k in zip(pruned, keep.split([a.numel() for a in kept.values()])):
        new[name] = mask[name].clone()
        new[name][mask[name]] = k
    return new


class NonFiniteScores(ValueError):
    """An importance metric scored some weights NaN or infinite, or gave not one score per weight: no ranking,
    hence no mask, follows from them."""


def density(mask):
    """Unpruned / prunable weights, over all layers of the mask (those kept dense included, as OpenLTH counts)."""
    return sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())


def layer_density(mask):
    return {n: int(m.sum()) / m.numel() for n, m in mask.items()}


def collapsed(mask):
    """Layers with no weight left: the network is cut there (Tanaka et al.'s layer collapse)."""
    return [n for n, m in mask.items() if not m.any()]
