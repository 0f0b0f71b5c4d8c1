"""How a claim is judged (lth/report/claims.py's docstring): the states of a clause, the sign test over seeds and
the tests built on it, the least gap that counts as real, and what a rule declares (its test, rounds, metrics)."""

import math

import numpy as np

from lth import data, presets

# A clause's state: judged by a test (holds, fails, reversed, or not shown: the test decides neither way), or not
# judged (the runs cannot test it: a round not reached, a metric not run, too few seeds or connections, at chance).
HOLDS, FAILS, REVERSED, NOT_SHOWN, NOT_JUDGED = "holds", "fails", "reversed", "not shown", "not judged"
GAP = 1.0  # points: the least gap between two accuracies that counts as real (lth/report/claims.py's docstring)
MIN_SEEDS = 5  # the sign test's seeds: all agreeing happens 2^-5 = 1/32 of the time one-sided under no effect
MIN_CONNECTIONS = 30  # a clause resting on fewer connections (per seed) is not shown


def rate(n):
    """The chance that all of ``n`` seeds fall on one given side under no effect: the sign test's false "holds"."""
    return f"1/{2 ** n}"


def sign_test(ok, opposite, what="seeds"):
    """The sign test on per-seed booleans: HOLDS where every seed is ``ok``, REVERSED where every one is
    ``opposite``, else NOT_SHOWN; NOT_JUDGED with fewer than MIN_SEEDS. Returns (state, why)."""
    ok, opposite = np.asarray(ok, bool), np.asarray(opposite, bool)
    if len(ok) < MIN_SEEDS:
        return NOT_JUDGED, f"{len(ok)} {what} (the sign test needs {MIN_SEEDS})"
    if ok.all():
        return HOLDS, ""
    if opposite.all():
        return REVERSED, ""
    return NOT_SHOWN, f"{ok.sum()} of {len(ok)} {what} agree"


def tested_images(config):
    """How many test images a setting's accuracies are measured on."""
    return min(config.get("test_size") or math.inf, data.SHAPES.get(config["dataset"], [math.inf] * 5)[4])


def gap_points(config):
    """The least gap (points) that counts as real on ``config``'s test set: GAP, and two binomial standard errors
    of one accuracy at 50 % on its N test images, 100/sqrt(N)."""
    return max(GAP, 100 / math.sqrt(tested_images(config)))


def direction(d, sign, gap):
    """A gap the paper reports (``sign``: +1 ahead of magnitude, -1 behind), by the sign test against the margin:
    HOLDS where every seed's difference ``d`` is beyond ``gap`` with that sign; REVERSED where every one is beyond
    it with the other sign; else NOT_SHOWN. A false "holds" where the true median difference is within the margin
    (or on the other side): at most 2^-n; a false "reversed" likewise."""
    d = np.asarray(d, float)
    state, why = sign_test(sign * d > gap, sign * d < -gap)
    return state, (f"{(sign * d > gap).sum()} of {len(d)} seeds beyond {sign * gap:+.2f}" if state == NOT_SHOWN
                   else why)


def level(d, gap):
    """"About equal" (an equivalence test by signs): HOLDS where every seed's difference is within +-``gap``;
    FAILS where every seed's is beyond ``gap`` on one side (``direction``: the same test, against the same margin);
    else NOT_SHOWN. A false "holds" where the true median difference is ``gap`` or more: at most 2^-n; a false
    "fails" where it is within the margin: at most 2 x 2^-n (either side)."""
    d = np.asarray(d, float)
    if len(d) < MIN_SEEDS:
        return NOT_JUDGED, f"{len(d)} seeds (the sign test needs {MIN_SEEDS})"
    if (np.abs(d) < gap).all():
        return HOLDS, ""
    if any(direction(d, s, gap)[0] == HOLDS for s in (1, -1)):
        return FAILS, ""
    return NOT_SHOWN, f"{(np.abs(d) < gap).sum()} of {len(d)} seeds within +-{gap:.2f}"


def needs(*metrics):
    """The metrics a claim is about: where the runs lack one (``METRICS=...`` leaves it out), it is not shown."""
    def mark(claim):
        claim.needs = metrics
        return claim
    return mark


def rule(test, rounds):
    """A claim's test and its false-positive rate (``test``, "{n}" the seeds, "{one}" 2^-n), and ``rounds``: a
    function of the evidence naming the rounds it judges; both shown in the claims table."""
    def mark(claim):
        claim.test, claim.rounds = test, rounds
        return claim
    return mark


def running(e, settings, metrics):
    """Of ``settings``, those with runs of every one of ``metrics``; and a not-shown clause for each other one,
    naming what it lacks (the rehearsal runs magnitude alone on VGG-16, say)."""
    shown, clauses = [], []
    for s in settings:
        if lacking := presets.ordered(set(metrics) - e.metrics_of.get(s, set())):
            clauses.append((f"{e.short[s]}: no runs of {', '.join(lacking)} (preset={e.preset} does not run them "
                            "there)", NOT_JUDGED))
        else:
            shown.append(s)
    return shown, clauses


def joined(parts, unit=""):
    return "; ".join(parts) + unit if parts else ""


SIGN_TEST = "sign test over seeds: every one of n >= 5 agreeing, false 'holds' {one} (n = {n}) under no effect"


CHANCE_POINTS = 5.0  # a run within this many points of 100 / classes has stopped learning


def chance(dataset):
    """Test accuracy (%) of a guess: 100 / classes."""
    return 100 / data.SHAPES[dataset][2]


def at_chance(accuracy, dataset):
    """Whether a test accuracy (%, or an array of them) on ``dataset`` is within CHANCE_POINTS of chance: the run
    has stopped learning."""
    return accuracy <= chance(dataset) + CHANCE_POINTS
