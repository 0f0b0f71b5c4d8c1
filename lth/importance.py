"""Importance metrics: how the paper scores a layer's unpruned weights before global pruning.

Each metric maps the magnitudes ``a = |w|`` of one layer's *unpruned* weights (a 1-D float64
tensor) to scores of the same shape. Only the ranking of the pooled scores matters, so a metric
may return any monotone transform of the paper's formula (softmax is scored in log space, which
stays exact for layers of millions of weights).

To add a metric, write a function here and put it in ``IMPORTANCE``: every preset, table and figure
takes the metrics from that registry, in its order (the paper's five first). The functions use
tensor methods only, with no ``import torch``, so that lth/presets.py and the Makefile can list the
metrics before anything is installed.
"""


def magnitude(a):
    """Frankle et al.'s global magnitude pruning."""
    return a


def l1(a):
    return a / a.sum()


def l2(a):
    """LAMP's normalisation without the sorting: a^2 / sum(a^2)."""
    return a**2 / (a**2).sum()


def softmax(a):
    """exp(a) / sum(exp(a)), scored as its logarithm a - logsumexp(a): same ranking, no underflow."""
    return a - a.logsumexp(0)


def minmax(a):
    """(a - min) / (max - min): every layer gets a 0 and a 1.

    Convention (the formula is 0/0 there): a layer whose remaining weights are all equal, one
    weight left included, scores 0 everywhere, so it loses weights next, as the smallest weight of
    every layer does under minmax; a layer's last weight is therefore pruned and the layer
    collapses. The paper does not say; OpenLTH has no minmax."""
    spread = a.max() - a.min()
    return (a - a.min()) / spread if spread > 0 else a * 0


def lamp(a):
    """LAMP (Lee et al. 2021): a_u^2 / sum of a_v^2 over the weights v at least as large as u."""
    order = a.sort(stable=True).indices
    sq = a[order] ** 2
    tail = sq.flip(0).cumsum(0).flip(0)
    return a.new_empty(a.shape).index_put_((order,), sq / tail)


def random(a):
    """Random-pruning control; ``lth.pruning.prune`` seeds the RNG so that it is deterministic."""
    return a.new_empty(a.shape).uniform_()  # the same draws as torch.rand(a.shape, dtype=a.dtype)


IMPORTANCE = {f.__name__: f for f in (magnitude, l1, l2, softmax, minmax, lamp, random)}
PAPER = ("magnitude", "l1", "l2", "softmax", "minmax")  # the metrics the paper compares


def get(name):
    """The metric called ``name``; a one-line error listing the valid names otherwise."""
    if name not in IMPORTANCE:
        raise ValueError(f"unknown importance {name!r}; valid: {', '.join(IMPORTANCE)}")
    return IMPORTANCE[name]
