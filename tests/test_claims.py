"""The claims' rules (lth/claims.py) on constructed runs: a few verdicts pinned, and the one rule for verdicts."""

from types import SimpleNamespace

import pandas as pd
import pytest

from lth import claims
from lth.claims import FAILS, HOLDS, NOT_SHOWN, REVERSED

LENET, RESNET = "lenet_300_100_fashion_mnist", "resnet8_16_fashion_mnist"
METRICS = ("magnitude", "l1", "l2", "softmax", "minmax")


def accuracy(offsets, rounds=10, seeds=3):
    """Accuracy rows: each metric at 90 - round, plus ``offsets[(setting, metric)](round, seed)`` points."""
    return pd.DataFrame([dict(setting=s, importance=m, seed=seed, round=r,
                              test_accuracy=90.0 - r + (offsets.get((s, m), lambda r, seed: 0)(r, seed) if r else 0))
                         for s in (LENET, RESNET) for m in METRICS for seed in range(seeds) for r in range(rounds + 1)])


def evidence(**tables):
    names, runs = {LENET: "LeNet-300-100", RESNET: "ResNet-8-16"}, tables.get("acc", tables.get("layers"))
    metrics_of = {s: set(g.importance) for s, g in runs.groupby("setting")} if runs is not None else {}
    return SimpleNamespace(names=names, short=names, metrics_of=metrics_of, preset="smoke",
                           **dict(dict(metrics=set().union(*metrics_of.values())), **tables))


@pytest.mark.parametrize("clauses, expected", [
    ([HOLDS, HOLDS, NOT_SHOWN], "reproduced"), ([HOLDS, FAILS], "partly"), ([FAILS, FAILS], "not reproduced"),
    ([FAILS, REVERSED], "contradicted"), ([HOLDS, REVERSED], "partly"), ([NOT_SHOWN], "not shown"),
])
def test_one_rule_turns_clauses_into_a_verdict(clauses, expected):
    verdict, failing = claims.verdict([(f"clause {i}", s) for i, s in enumerate(clauses)])
    assert verdict == expected
    assert failing == [f"clause {i} ({s})" for i, s in enumerate(clauses) if s not in (HOLDS, NOT_SHOWN)]


def test_equal_accuracy_is_reproduced_within_a_point_and_reversed_by_a_gap_every_seed_shares():
    level = accuracy({(RESNET, "l1"): lambda r, seed: [0.9, -0.5, 0.3][seed]})  # within GAP
    assert claims.verdict(claims.equal_accuracy(evidence(acc=level))[1])[0] == "reproduced"
    noisy = accuracy({(RESNET, "l1"): lambda r, seed: [3.0, -1.0, 2.0][seed]})  # beyond GAP, seeds disagree
    assert claims.verdict(claims.equal_accuracy(evidence(acc=noisy))[1])[0] == "reproduced"
    ahead = accuracy({(RESNET, "l1"): lambda r, seed: 2.0 + seed if r >= 10 else 0})  # real, at round 10 only
    ours, clauses = claims.equal_accuracy(evidence(acc=ahead))
    assert claims.verdict(clauses) == ("partly", ["l1 on ResNet-8-16 at round 10: ahead (reversed)"])
    assert "l1 +3.00 [+2.00, +4.00] 3/3" in ours


def test_a_setting_without_runs_of_a_compared_metric_is_not_shown_there_naming_what_it_lacks():
    """As the rehearsal runs magnitude alone on VGG-16: the other setting is judged, this one is not shown."""
    acc = accuracy({})
    acc = acc[(acc.setting == RESNET) | (acc.importance == "magnitude")]  # LeNet: magnitude alone
    e = evidence(acc=acc)
    ours, clauses = claims.judge(e, claims.equal_accuracy)
    lacking = "LeNet-300-100: no runs of l1, l2 (preset=smoke does not run them there)"
    assert (lacking, NOT_SHOWN) in clauses and ours.endswith(f"; not shown: {lacking}")
    assert claims.verdict(clauses)[0] == "reproduced" and "ResNet-8-16 round 10: l1" in ours
    ours, clauses = claims.judge(e, claims.lenet_exception)
    assert clauses == [("LeNet-300-100: no runs of softmax, minmax (preset=smoke does not run them there)",
                        NOT_SHOWN)] and ours.startswith("not shown: ")
    assert claims.verdict(clauses)[0] == "not shown"


def test_minmax_and_softmax_falling_behind_late_and_the_lenet_exception():
    late = lambda r, seed: -5.0 if r >= 10 else 0.0  # noqa: E731
    acc = accuracy({(RESNET, "minmax"): late, (RESNET, "softmax"): late, (LENET, "minmax"): late})
    assert claims.verdict(claims.fall_behind(evidence(acc=acc))[1])[0] == "reproduced"
    verdict, failing = claims.verdict(claims.lenet_exception(evidence(acc=acc))[1])
    assert verdict == "partly" and failing == ["minmax not behind on LeNet-300-100 at round 10: behind (reversed)"]
    ahead = accuracy({(RESNET, "minmax"): lambda r, seed: 5.0, (RESNET, "softmax"): lambda r, seed: 5.0})
    assert claims.verdict(claims.fall_behind(evidence(acc=ahead))[1])[0] == "partly"  # keeps up early, ahead late
    early = accuracy({(RESNET, m): lambda r, seed: -5.0 for m in ("minmax", "softmax")})
    assert claims.verdict(claims.fall_behind(evidence(acc=early))[1])[0] == "partly"  # behind from round 5


def collapses(first):
    """Collapse rows of 3 ResNet runs per metric; ``first[metric]``: (round, layers) of each collapsing run."""
    return pd.DataFrame([dict(setting=RESNET, importance=m, seed=seed, first_collapse_round=r, collapsed_layers=layers,
                              sparsest_layer="blocks.0.conv1", sparsest_layer_density=0.0 if r else 0.5)
                         for m in METRICS for seed, (r, layers) in enumerate(first.get(m, []) + [(None, "")] * 3)
                         if seed < 3])


def test_layer_collapse_needs_every_magnitude_run_to_lose_a_shortcut_first():
    roles = {RESNET: dict(shortcuts=["blocks.1.shortcut.0"])}
    acc = accuracy({}).assign(sparsity=50.0)
    paper = collapses({"magnitude": [(20, "blocks.1.shortcut.0")] * 3, "softmax": [(22, "blocks.0.conv1")]})
    e = evidence(acc=acc, roles=roles, collapse=paper)
    assert claims.verdict(claims.layer_collapse(e)[1]) == ("reproduced", [])
    wrong_layer = collapses({"magnitude": [(20, "blocks.0.conv1")] * 3, "minmax": [(15, "blocks.0.conv1")] * 3})
    verdict, failing = claims.verdict(claims.layer_collapse(evidence(acc=acc, roles=roles, collapse=wrong_layer))[1])
    assert verdict == "partly"
    assert failing == ["magnitude collapses a 1x1 shortcut first on ResNet-8-16 (fails)",
                       "some softmax run collapses on ResNet-8-16 (fails)",
                       "minmax collapses less than magnitude on ResNet-8-16: 3 vs 3 runs (fails)"]
    none = claims.layer_collapse(evidence(acc=acc, roles=roles, collapse=collapses({})))
    assert claims.verdict(none[1])[0] == "not reproduced" and "magnitude 0/3" in none[0]


def layers(density):
    """Last-ticket layer rows of ResNet (round 1, network 10 % dense): ``density[layer][metric]`` in %."""
    return pd.DataFrame([dict(setting=RESNET, importance=m, seed=0, round=1, layer=layer, depth=d,
                              layer_sparsity=100 - density[layer][m], sparsity=90.0)
                         for d, layer in enumerate(density) for m in METRICS])


def test_pruned_less_holds_the_magnitude_exception_to_the_paper():
    roles = {RESNET: dict(input="conv", output="fc", shortcuts=["sc"], dense=[])}
    kept = {m: 30.0 for m in METRICS}
    paper = layers({"conv": kept, "fc": kept, "sc": dict(kept, magnitude=5.0)})
    assert claims.verdict(claims.pruned_less(evidence(layers=paper, roles=roles))[1])[0] == "reproduced"
    ours = layers({"conv": kept, "fc": kept, "sc": dict(kept, magnitude=60.0)})  # magnitude keeps its shortcut most
    verdict, failing = claims.verdict(claims.pruned_less(evidence(layers=ours, roles=roles))[1])
    assert verdict == "partly" and failing == ["magnitude prunes sc on ResNet-8-16 more than the others (reversed)"]


def test_a_claim_about_a_metric_that_metrics_leaves_out_is_not_shown(monkeypatch):
    """METRICS=l1 runs magnitude and l1 only: a claim about l2, minmax or softmax is "not shown", naming what is
    missing, instead of failing; one about the metrics there is judged on them."""
    monkeypatch.setenv("LTH_METRICS", "l1")
    acc = accuracy({})
    e = evidence(acc=acc[acc.importance.isin(["magnitude", "l1"])], metrics={"magnitude", "l1"})
    for claim, missing in ((claims.equal_accuracy, "l2"), (claims.fall_behind, "minmax, softmax"),
                           (claims.layer_collapse, "l2, minmax, softmax"), (claims.softmax_spiky, "softmax")):
        assert claims.judge(e, claim) == (f"no runs of {missing} (METRICS leaves them out)", [])
    assert claims.verdict(claims.judge(evidence(acc=acc, metrics=set(METRICS)), claims.equal_accuracy)[1])[0] == \
        "reproduced"
    roles = {RESNET: dict(input="conv", output="fc", shortcuts=["sc"], dense=[])}
    alone = layers({"conv": dict.fromkeys(METRICS, 30.0), "fc": dict.fromkeys(METRICS, 30.0),
                    "sc": dict.fromkeys(METRICS, 5.0)})
    alone = alone[alone.importance == "magnitude"]  # METRICS=magnitude: nothing to compare its shortcut with
    clauses = claims.judge(evidence(layers=alone, roles=roles, metrics={"magnitude"}), claims.pruned_less)[1]
    assert ("magnitude prunes sc on ResNet-8-16 more than the others", NOT_SHOWN) in clauses


def test_a_claims_table_under_metrics_says_so_in_its_title(monkeypatch):
    monkeypatch.delenv("LTH_METRICS", raising=False)
    assert "METRICS" not in claims.title("small")
    monkeypatch.setenv("LTH_METRICS", "l1")
    assert "; METRICS: magnitude, l1 only; seeds 0, 1, 2)" in claims.title("small")


def test_softmax_is_spiky_where_a_layer_waits_then_loses_more_than_a_rounds_share():
    def run(metric, seed, densities):
        return [dict(setting=RESNET, importance=metric, seed=seed, round=i, layer="conv", depth=0,
                     layer_sparsity=100 - d, sparsity=0.0) for i, d in enumerate(densities)]

    waits = [100, 100, 100, 65, 50]  # unpruned for 3 rounds, then 35 % of it in one
    steady = [100, 80, 64, 51.2, 41]  # 20 % a round: never a spike
    rows = [r for seed in range(3) for r in run("softmax", seed, waits) + run("magnitude", seed, steady)]
    e = evidence(layers=pd.DataFrame(rows), roles={RESNET: dict(dense=[])})
    ours, clauses = claims.softmax_spiky(e)
    assert claims.verdict(clauses)[0] == "reproduced" and "softmax 3/3" in ours and "magnitude 0/3" in ours
    rows = [r for seed in range(3) for r in run("softmax", seed, steady if seed else waits)]
    e = evidence(layers=pd.DataFrame(rows), roles={RESNET: dict(dense=[])})
    assert claims.softmax_spiky(e)[1] == [("softmax spiky on ResNet-8-16 in 1 of 3 runs", FAILS)]
