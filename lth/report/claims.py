"""docs/paper.md section 4's claims, each computed from a preset's runs: what our runs show, and a verdict.

Each claim is a function of ``Evidence`` (the tables of a preset's runs) that splits the claim into clauses and
returns a line of our numbers and the clauses, each judged by a test: ``HOLDS``, ``FAILS`` (an "about equal"
clause: a real gap; a count: the runs do not show it), ``REVERSED`` (the runs show the opposite) or ``NOT_SHOWN``
(the test decides neither way: within the noise); or ``NOT_JUDGED``, where no test can run (too few seeds or
connections, a round the setting does not reach, runs at chance, a metric the setting does not run; the clause
says why). One rule turns clauses into a verdict (``verdict``, the count rule below): "reproduced" where every
judged clause holds, "partly" where at least half of them hold, "contradicted" where at least half are reversed
and none holds, "not reproduced" where every judged clause fails or is reversed, and "not shown" otherwise; each
verdict errs at most 1/16 of the time under no effect. A setting without runs of a metric the claim compares
gives a not-judged clause naming it (``running``).

Where the paper decides. Each of our settings stands for the paper's setting of its model
(``published.paper_setting``: lenet_300_100 for LeNet-300-100 on MNIST, resnet8_16 and resnet20 for ResNet-20,
vgg16 and vgg16_8 for VGG-16, resnet18 for ResNet-18). Accuracy claims are judged at the rounds of Table 2 the
paper's numbers give (``lth/report/paper_results.csv``), its *late* rounds (all but a setting's first) unless the claim
is about the early ones; our round is the one of the same sparsity (the same round where both prune 20 % a round).
A paper round that our setting does not reach is not judged, and the clause says so.

The tests. Runs of one seed share theta_0, the data order and round 0, so a metric's difference to magnitude is
paired seed by seed (``analysis.differences``), and seeds are independent replicates. Under no effect a seed's
difference is as likely positive as negative, so *every one of n seeds on one side* happens with probability
2^-n (1/32 for n = ``MIN_SEEDS`` = 5: a false "holds" 1/32, a false "reversed" 1/32, either 1/16); a rule with
fewer seeds than ``MIN_SEEDS`` is "not judged". Every rule below is this sign test applied to a per-seed quantity:
a paired accuracy difference, or a per-seed comparison (a layer denser than the network, a share above a
threshold, a correlation above 0). Its docstring says which, and its error rate under no effect.

- **A gap the paper reports** (``|paper gap| > GAP``): holds where every seed's difference is beyond
  ``gap_points`` (the setting's noise) with the paper's sign; reversed where every seed's is beyond it with the
  opposite sign; not shown otherwise. A sign test against the margin: false positives 1/32 each way.
- **"About equal"** (``|paper gap| <= GAP``): an equivalence test by signs (two one-sided sign tests): holds where
  every seed's difference is within +-``gap_points``; fails where every seed's is beyond it on one side (the same
  test as a gap's); not shown otherwise. A false "holds" where the true median difference is the margin or more:
  at most 1/32; a false "fails": at most 1/16 (either side).
- ``gap_points``: a gap is real beyond ``GAP`` = 1 point and beyond two binomial standard errors of one accuracy
  at 50 % on the setting's test images, 100/sqrt(N) points (1 point on the 10,000 test images of every dataset
  here; 3.2 on the smoke preset's 1,000).
- **Nothing learns, no gap**: a seed whose two runs (the metric's and magnitude's) are both within ``CHANCE_POINTS``
  (5) points of chance at the round judged is left out of the sign test; where every seed is, the clause is not
  judged, "at chance", and no number is quoted for it.
- A clause resting on fewer than ``MIN_CONNECTIONS`` connections (a layer's shared or not-shared ones) is not
  judged.
- **Shared against not-shared connections** (Figures 1, 5, 6) are compared against a control for size
  (``matched_by_seed``): per seed, the shared connections against the not-shared ones weighted to the shared ones'
  mix of layer and tenth of the layer by |w| (``section5.BY_SIZE``), over the layers where that seed has
  ``MIN_CONNECTIONS`` or more of each. Magnitude, l1 and l2 all keep a layer's largest |w|, so their tickets nest
  and "shared" mostly means "largest"; pooled over layers, as the paper compares them, "shared" is also mixed with
  "which layer". The layer-matched and pooled numbers are given for reference only.

Numbers in a line are means over seeds unless a range [lowest, highest] over seeds is given.
"""

import math

import pandas as pd

from lth import presets
from lth.report import evidence
from lth.report.claims_accuracy import (equal_accuracy, fall_behind, layer_collapse, lenet_exception, paper_gaps,
                                        table1_ranges)
from lth.report.claims_layers import deeper_faster, minmax_tracks, pruned_less, softmax_spiky
from lth.report.claims_section5 import (shared_few, shared_flip_less, shared_move_further, shared_over_rounds,
                                        shared_vary_less, survive_reinit)
from lth.report.stats import FAILS, HOLDS, MIN_SEEDS, NOT_JUDGED, NOT_SHOWN, REVERSED, joined, rate


def judge(e, claim):
    """``claim(e)``: a line of our numbers, then what cannot be shown, and the clauses; where the runs lack a metric
    the claim is about, a line naming it and no clause."""
    left_out = set(getattr(claim, "needs", ())) - set(presets.get(e.preset).metrics)
    if absent := [m for m in getattr(claim, "needs", ()) if m in left_out and m not in e.metrics]:
        return f"no runs of {', '.join(absent)} (METRICS leaves them out)", []
    ours, clauses = claim(e)
    lacking = [text for text, s in clauses if s == NOT_JUDGED and ": no runs of " in text]
    return joined(([ours] if ours else []) + [f"not judged: {t}" for t in lacking]), clauses



# (claim, the paper's numbers, function): the rows of claims.md, in docs/paper.md's order.
CLAIMS = [
    ("Table 1: weight ranges grow with training", "ResNet-18: Conv1 [-0.47, 0.41] -> [-1.07, 0.90], FC [-0.30, 0.27]"
     " -> [-0.45, 1.19]", table1_ranges),
    ("magnitude, l1 and l2 about equal (Table 2, Figure 4)", paper_gaps("equal"), equal_accuracy),
    ("minmax and softmax keep up early, fall behind late", paper_gaps("behind"), fall_behind),
    ("... except on LeNet", paper_gaps("lenet"), lenet_exception),
    ("layer collapse under magnitude (a 1x1 shortcut in ResNets), softmax too; importance metrics help avoid it",
     "in every VGG and ResNet magnitude run; VGG-16 round 30: magnitude 51.53 +- 36 %, l1 83.70 %, l2 84.03 %; "
     "round 35: magnitude 10.00 %", layer_collapse),
    ("input, output and 1x1 layers pruned much less (1x1: except under magnitude)", "Figures 2, 8-10", pruned_less),
    ("deeper layers pruned faster", "Figure 8", deeper_faster),
    ("softmax is spiky", "Figures 2, 9, 10", softmax_spiky),
    ("minmax tracks the global sparsity best", "Figures 2, 8-10", minmax_tracks),
    ("Section 5: few connections shared, first conv and classifier most", "ResNet-18 at 96.48 %: 0.33 % of all, "
     "9.34 % of kept; first conv 68.78 %", shared_few),
    ("Figure 7: shared share over the rounds", "Figure 7 (no claim stated)", shared_over_rounds),
    ("Figures 1, 5: shared connections vary less", "Figures 1, 5", shared_vary_less),
    ("Figures 1, 6: shared connections flip sign less", "Figures 1, 6", shared_flip_less),
    ("Figure 3: shared connections move further from theta_0 (first conv)", "Figure 3", shared_move_further),
    ("Section 5.1: kept connections survive more than chance", "first conv +8.5 to +70 %, classifier +440 to +480 %, "
     "1x1 convs -3.2 to +20 %", survive_reinit),
]
OBSERVATIONS = (shared_over_rounds,)  # shown with their tests, not counted as claims (the paper states none)


# The verdict's error rate. A judged clause errs at most CLAUSE_RATE = 2^-MIN_SEEDS = 1/32 of the time each way
# (a false "holds"; a false "reversed"; a false "fails" at most twice that: it is two-sided where the paper has no
# gap). A claim judges k clauses on the same seeds, so their errors are not independent; Markov's inequality holds
# whatever the dependence: under no effect in any clause, P(at least h false "holds") <= k x 1/32 / h. A verdict
# that says the claim shows ("reproduced", "partly") therefore needs h >= k / 2 clauses that hold, so that it errs
# at most CLAIM_RATE = 1/16 of the time; one that says the runs show the opposite ("contradicted") needs as many
# reversed; "not reproduced" needs every judged clause to fail or be reversed (the fails' rate is 1/16). Otherwise
# the claim is "not shown". Figure 7's row is an observation the paper states no claim about: shown, not counted.
CLAUSE_RATE, CLAIM_RATE = 2.0 ** -MIN_SEEDS, 1 / 16
JUDGED = (HOLDS, FAILS, REVERSED, NOT_SHOWN)  # a test ran; NOT_JUDGED: none could


def needed(k, rate=CLAUSE_RATE):
    """Of ``k`` judged clauses, how many must agree (each wrong at most ``rate`` under no effect) for a verdict that
    errs at most CLAIM_RATE: k x rate / h <= CLAIM_RATE (Markov's inequality)."""
    return max(1, math.ceil(k * rate / CLAIM_RATE - 1e-9))


def verdict(clauses):
    """The verdict of a claim's clauses (the count rule above), and the clauses that do not hold."""
    states = [s for _, s in clauses if s in JUDGED]
    k, held, reversed_ = len(states), states.count(HOLDS), states.count(REVERSED)
    if not k:
        v = "not shown"
    elif held >= needed(k):
        v = "reproduced" if held == k else "partly"
    elif reversed_ >= needed(k) and not held:
        v = "contradicted"
    elif states.count(FAILS) + reversed_ == k:
        v = "not reproduced"
    else:
        v = "not shown"
    return v, [f"{text} ({s})" for text, s in clauses if s in (FAILS, REVERSED)]


def counts(clauses):
    """A verdict's counts for a reader: "3 of 8 hold, 4 needed; 2 not judged" (judged: a test ran)."""
    k = sum(s in JUDGED for _, s in clauses)
    held, untested = sum(s == HOLDS for _, s in clauses), sum(s == NOT_JUDGED for _, s in clauses)
    return (f"{held} of {k} hold, {needed(k)} needed" if k else "none judged") + (f"; {untested} not judged"
                                                                                 if untested else "")


def rule_of(claim, preset):
    """A claim's test and false-positive rate (its ``rule``) at the preset's number of seeds."""
    n = len(presets.get(preset).seeds)
    text = claim.test.format(n=n, one=rate(n))
    return text + (f"; preset={preset} has {n} seeds: not judged" if n < MIN_SEEDS and "{n}" in claim.test else "")


def evaluate(runs_dir, preset, e=None):
    """One row per claim: the claim, the paper's numbers, ours, the rounds judged, the verdict, its test and
    false-positive rate, the clauses that do not hold, and those not shown (each saying why). ``e``: the runs'
    ``Evidence``, where the caller has loaded it already."""
    e, rows = e or evidence.Evidence(runs_dir, preset), []
    for claim, paper, function in CLAIMS:
        ours, clauses = judge(e, function)
        v, failing = verdict(clauses)
        v = "observation" if function in OBSERVATIONS else v
        judged = sum(s in JUDGED for _, s in clauses)
        rows.append(dict(claim=claim, paper=paper, ours=ours, **{"rounds judged": function.rounds(e)},
                         verdict=f"{v} ({counts(clauses)})", test=rule_of(function, preset),
                         **{"clauses that do not hold": "; ".join(failing), "not shown": not_shown(clauses),
                            "clauses judged": judged, "false holds expected": judged * CLAUSE_RATE}))
    return pd.DataFrame(rows)


def error_rate(table):
    """The whole table's error rate under no effect in any clause, from ``evaluate``'s rows (observations and
    claims with no clause judged left out): the clauses judged, the false "holds" and false "reversed" to expect (each 1/32 a clause), and the claims
    whose verdict would say "reproduced" or "partly" falsely (each at most CLAIM_RATE)."""
    counted = table[~table.verdict.str.startswith("observation") & (table["clauses judged"] > 0)]
    k = int(counted["clauses judged"].sum())
    return (f"{len(counted)} claims judged, {k} clauses: under no effect, {k * CLAUSE_RATE:.2f} false 'holds' and "
            f"{k * CLAUSE_RATE:.2f} false 'reversed' expected, and at most {len(counted) * CLAIM_RATE:.2f} claims "
            f"with a false 'reproduced' or 'partly' ({CLAIM_RATE:.4g} each)")


def not_shown(clauses):
    """Why a claim's clauses are not shown or not judged: each reason once, with how many clauses it stops (a
    clause's reason is its text after the last "; ", else after the last ": "; a setting lacking runs is named
    whole)."""
    reasons = [t if ": no runs of " in t else t.rsplit("; ", 1)[-1] if "; " in t else t.rsplit(": ", 1)[-1]
               for t, s in clauses if s in (NOT_SHOWN, NOT_JUDGED)]
    return "; ".join(f"{r} ({k} clauses)" if k > 1 else r for r, k in pd.Series(reasons, dtype=str)
                     .value_counts(sort=False).items())


def title(preset):
    """claims.md's title: the preset and its settings, seeds and last rounds."""
    p = presets.get(preset)
    settings = ", ".join(f"{evidence.setting_name(p, s)} to round {c.rounds}" for s, c in p.settings.items())
    cut = "".join(f"; {m} to round {r}" for m, r in p.rounds_of.items())
    cut += f"; METRICS: {', '.join(p.metrics)} only" if list(p.metrics) != presets.PRESETS[p.name]["metrics"] else ""
    return (f"The paper's claims on the {p} preset ({settings}{cut}; seeds {', '.join(map(str, p.seeds))}), "
            "computed by lth/report/claims.py")
