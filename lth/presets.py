"""What to run: the experiment's defaults, the paper's four settings, and the presets of `make figures`.

Plain data, no torch: the Makefile lists runs from here before anything is installed. A run is a
setting (config values of experiments/imp.py) plus an importance metric and a seed; it is found
again by these values (``lth.analysis.find_runs``), never by Sacred's run id.
"""

# experiments/imp.py's defaults: LeNet-300-100 on Fashion-MNIST, a short schedule (2 min on a CPU).
DEFAULT = dict(
    model="lenet_300_100",
    dataset="fashion_mnist",
    epochs=10,
    batch_size=128,
    lr=0.1,
    momentum=0.0,
    weight_decay=0.0,
    milestones=[],  # epochs after which the learning rate is multiplied by 0.1
    rewind_iter=0,  # k: the iteration every round rewinds to (0 = the original LTH)
    rounds=20,  # pruning rounds; the last ticket has density (1 - prune_fraction) ** rounds
    prune_fraction=0.2,
    prune_output=False,  # prune the output layer too (OpenLTH: yes for ResNets, no for LeNet and VGG)
    importance="magnitude",
    seed=0,
    train_size=None,  # only the first N training examples (None: all)
    test_size=None,
    init=None,  # a state dict file to start from instead of a fresh initialisation (Section 5.1's reinit)
)

# PAPER.md section 3 (the paper's Appendix A.4), each a named config of experiments/imp.py.
PAPER = {
    "lenet_300_100_mnist": dict(model="lenet_300_100", dataset="mnist", epochs=40, batch_size=128, lr=0.1,
                                momentum=0.0, milestones=[], weight_decay=0.0, rewind_iter=0, rounds=24,
                                prune_output=False),
    "resnet20_cifar10": dict(model="resnet20", dataset="cifar10", epochs=160, batch_size=128, lr=0.1,
                             momentum=0.9, milestones=[80, 120], weight_decay=1e-4, rewind_iter=1000, rounds=40,
                             prune_output=True),
    "vgg16_cifar10": dict(model="vgg16", dataset="cifar10", epochs=160, batch_size=128, lr=0.1, momentum=0.9,
                          milestones=[80, 120], weight_decay=1e-4, rewind_iter=2000, rounds=35, prune_output=False),
    "resnet18_tinyimagenet": dict(model="resnet18", dataset="tinyimagenet", epochs=200, batch_size=256, lr=0.2,
                                  momentum=0.9, milestones=[100, 150], weight_decay=1e-4, rewind_iter=1000,
                                  rounds=40, prune_output=True),
}

# Seconds on a CPU: the `smoke` named config, for tests and quick checks.
SMOKE = dict(epochs=1, rounds=2, train_size=2048, test_size=1000, rewind_iter=4)

METRICS = ["magnitude", "l1", "l2", "softmax", "minmax", "lamp", "random"]
PAPER_METRICS = METRICS[:5]

# CPU, offline, Fashion-MNIST: LeNet-300-100 and a ResNet with 1x1 shortcuts, 15 rounds (96.48 %).
# The ResNet sees 4096 training images twice (batch 32, learning rate 0.1 then 0.01): ~73 % dense.
_SMALL_RESNET = dict(model="resnet8_8", dataset="fashion_mnist", epochs=2, batch_size=32, milestones=[1],
                     train_size=4096, test_size=2000, momentum=0.9, weight_decay=1e-4, rewind_iter=10, rounds=15,
                     prune_output=True)
PRESETS = {
    "small": dict(seeds=[0, 1, 2], metrics=METRICS, settings={
        "lenet_300_100_fashion_mnist": dict(DEFAULT, epochs=1, rounds=15),
        "resnet8_8_fashion_mnist": dict(DEFAULT, **_SMALL_RESNET),
    }),
    "paper": dict(seeds=[0, 1, 2], metrics=METRICS, settings={n: dict(DEFAULT, **s) for n, s in PAPER.items()}),
    # For CI: every notebook end to end in minutes.
    "smoke": dict(seeds=[0, 1], metrics=METRICS, settings={
        "lenet_300_100_fashion_mnist": {**DEFAULT, **SMOKE, "rounds": 3},
        "resnet8_8_fashion_mnist": {**DEFAULT, **_SMALL_RESNET, **SMOKE, "rounds": 3},
    }),
}


def check(preset):
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[preset]


def runs(preset, metrics=None, settings=None):
    """{run name: full config} of every run a preset needs (optionally only some metrics or settings)."""
    p = check(preset)
    return {f"{name}__{m}__{s}": dict(setting, importance=m, seed=s)
            for name, setting in p["settings"].items() if settings is None or name in settings
            for m in (metrics or p["metrics"]) for s in p["seeds"]}


def ticket_runs(preset):
    """The runs Section 5 compares: one setting, its metrics, every seed."""
    check(preset)
    t = TICKETS[preset]
    return runs(preset, t["metrics"], [t["setting"]])

# Section 5 (several tickets from one initialisation): which setting and metrics each preset compares.
TICKETS = {
    "small": dict(setting="resnet8_8_fashion_mnist", metrics=["magnitude", "l1", "l2"], round=15, reinit_seeds=[1, 2, 3]),
    "paper": dict(setting="resnet18_tinyimagenet", metrics=["magnitude", "l1", "l2"], round=15, reinit_seeds=[1, 2, 3]),
    "smoke": dict(setting="resnet8_8_fashion_mnist", metrics=["magnitude", "l1", "l2"], round=3, reinit_seeds=[1]),
}
