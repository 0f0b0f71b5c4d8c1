"""Importance metrics: how the paper scores a layer's unpruned weights before global pruning.

A metric is a function ``f(a)`` or ``f(a, layer)``. ``a``: the magnitudes ``|w|`` of one layer's *unpruned*
weights (a 1-D float64 tensor, in the order of the weight tensor's flat indices); ``layer`` (a ``Layer``) is the
layer's context, each attribute computed only when the metric reads it: ``name``, ``shape`` of the weight
tensor, ``mask`` (bool, that shape), and, for the same unpruned weights as ``a`` (1-D float64, signed),
``weight`` (trained), ``init`` (theta_0) and ``rewind`` (theta_{0,k}, where every round's training starts).
A metric returns one finite score per weight, shaped like ``a``; the lowest-scored weights of all layers pooled
are pruned. Only the ranking of the pooled scores matters, so a metric may return any monotone transform of its
formula (softmax is scored in log space, which stays exact for layers of millions of weights).

Three ways to use a metric, by name: those in ``IMPORTANCE`` run in every preset, table and figure, in its order
(the paper's five first); those in ``OPTIONAL`` (Zhou et al. 2019) run where a config or preset names them; and
``"module:function"`` takes a function from your own module, importable where the run runs (``get``). The
functions here use tensor methods only, with no ``import torch``, so that lth/presets.py and the Makefile can list
the metrics before anything is installed.
"""

import ast
import hashlib
import importlib
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property


class Layer:
    """What a two-argument metric may read of its layer besides ``a`` (module docstring); nothing is copied until
    it is read. ``trained``, ``init``, ``rewind``: the layer's full weight tensors (the latter two may be None)."""

    def __init__(self, name, mask, trained, init=None, rewind=None):
        self.name, self.mask, self.shape = name, mask, tuple(mask.shape)
        self._tensors = dict(weight=trained, init=init, rewind=rewind)

    def _unpruned(self, key):
        t = self._tensors[key]
        if t is None:
            raise ValueError(f"layer {self.name}: no {key} weights were given to lth.pruning.prune ({key}=...)")
        return t[self.mask].double()

    weight = cached_property(lambda self: self._unpruned("weight"))
    init = cached_property(lambda self: self._unpruned("init"))
    rewind = cached_property(lambda self: self._unpruned("rewind"))


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


# Zhou et al. 2019, "Deconstructing Lottery Tickets": scores of a weight's trained value w_T against its value
# w_i where training started. Here w_i is the rewind point theta_{0,k} that every round trains from (theta_0 when
# k = 0, as in their LTH without rewinding).

def large_init(a, layer):
    """|w_i|: the weights that started large."""
    return layer.rewind.abs()


def large_init_large_final(a, layer):
    """min(|w_i|, |w_T|): the weights large at both ends."""
    return layer.rewind.abs().minimum(a)


def magnitude_increase(a, layer):
    """|w_T| - |w_i|: the weights that grew."""
    return a - layer.rewind.abs()


def movement(a, layer):
    """|w_T - w_i|: the weights that moved."""
    return (layer.weight - layer.rewind).abs()


IMPORTANCE = {f.__name__: f for f in (magnitude, l1, l2, softmax, minmax, lamp, random)}
PAPER = ("magnitude", "l1", "l2", "softmax", "minmax")  # the metrics the paper compares
OPTIONAL = {f.__name__: f for f in (large_init, large_init_large_final, magnitude_increase, movement)}


class MetricError(ValueError):
    """A metric that cannot be used: unknown, not importable, or with the wrong signature (one line)."""


def valid():
    return f"{', '.join([*IMPORTANCE, *OPTIONAL])}, or module:function"


def get(name):
    """The metric called ``name``: from ``IMPORTANCE`` or ``OPTIONAL``, or ``"module:function"`` imported from
    your own module. MetricError, one line, where there is none or its signature is not f(a) or f(a, layer)."""
    if ":" not in name:
        if name not in IMPORTANCE and name not in OPTIONAL:
            raise MetricError(f"importance={name!r} is not valid; valid: {valid()}")
        return IMPORTANCE.get(name) or OPTIONAL[name]
    module, function = name.split(":", 1)
    try:
        found = importlib.import_module(module)
    except Exception as e:  # not found, or its own code fails: a SyntaxError, a failing import of its own
        why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        raise MetricError(f"importance {name!r}: module {module!r} does not import ({why}); is it on PYTHONPATH "
                          "where the run runs?") from None
    if not hasattr(found, function):
        raise MetricError(f"importance {name!r}: module {module!r} has no function {function!r}")
    f = getattr(found, function)
    arity(f, name)
    return f


@dataclass(frozen=True)
class Metric:
    """An importance metric resolved once (``resolve``): its name, its function, and whether it reads its layer."""

    name: str
    score: Callable
    with_layer: bool


def resolve(metric):
    """The ``Metric`` of a name (``get``), a function, or a Metric (itself): what a run prunes with every round."""
    if isinstance(metric, Metric):
        return metric
    f = get(metric) if isinstance(metric, str) else metric
    name = metric if isinstance(metric, str) else getattr(metric, "__name__", repr(metric))
    return Metric(name, f, arity(f, name) == 2)


def arity(f, name=None):
    """1 for f(a), 2 for f(a, layer); MetricError, one line, for any other signature."""
    try:
        params = [p for p in inspect.signature(f).parameters.values() if p.default is p.empty and
                  p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = None
    if params is None or len(params) not in (1, 2):
        raise MetricError(f"importance {name or f!r} must be a function f(a) or f(a, layer) "
                          f"(lth/importance.py), not {inspect.signature(f) if params is not None else f!r}")
    return len(params)


def source_digest(name):
    """For ``"module:function"``: a digest of the function's source, read from its module's file without
    importing it (lth/runs.py names a run by it, before anything is installed), so that editing the function
    changes its runs' identity; the whole file where the function is not defined there. None for a registered
    metric or a module that cannot be found (the run then stops at its config check, naming it)."""
    if ":" not in name:
        return None
    module, function = name.split(":", 1)
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    text = open(spec.origin, encoding="utf-8").read()
    found = [n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == function]
    source = ast.get_source_segment(text, found[0]) if found else text
    return hashlib.sha1(source.encode()).hexdigest()[:16]
