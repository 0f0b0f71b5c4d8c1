"""The regime of a setting: what governs its weights' scale over one pruning round.

A round trains from the rewind point k to the end of the schedule; over it, SGD's weight decay shrinks every
weight by about exp(-sum of lr x weight decay), on top of what the gradient does. Where that sum is small, a layer
may keep the scale of its initialisation, and a global ranking by |w| rank layers by it: what the regime study
(`make regime`, docs/reproducing.md#regime) measures.

    >>> from lth import presets
    >>> r = regime(dict(presets.DEFAULT, **presets.PAPER["resnet20_cifar10"]))
    >>> r.iterations, round(r.decay, 3), round(r.rewind, 4)
    (61560, 0.32, 0.016)
"""

import math
from dataclasses import dataclass

from lth.data import SHAPES


@dataclass(frozen=True)
class Regime:
    iterations: int  # SGD iterations of one round: from the rewind point to the schedule's end
    decay: float  # the sum of lr x weight decay over those iterations
    rewind: float  # the rewind point as a fraction of the schedule


def iterations_per_epoch(config):
    images = SHAPES[config["dataset"]][3]
    images = min(config["train_size"] or images, images)
    return math.ceil(images / config["batch_size"])


def learning_rate(config, iteration, ipe):
    """The learning rate at ``iteration``: ``lr``, times 0.1 after each of the ``milestones`` (epochs)."""
    return config["lr"] * 0.1 ** sum(iteration >= m * ipe for m in config["milestones"])


def regime(config):
    """The ``Regime`` of one LTR round of ``config`` (a full config: ``presets.DEFAULT`` and its values)."""
    ipe = iterations_per_epoch(config)
    k, m = config["rewind_iter"], config["epochs"] * ipe
    lr_sum = sum(learning_rate(config, it, ipe) for it in range(k, m))
    return Regime(iterations=m - k, decay=lr_sum * config["weight_decay"], rewind=k / m)
