"""The README's results at a glance (lth.report.figures.glance, lth.report.plots.glance, notebooks/glance.ipynb): each paper gap
to magnitude beside ours lands where its agreement says, the figure renders with no point and says why, its CSV
names every number's unit, and `make glance` renders it for the smoke preset."""

import pandas as pd
import pytest

from lth.report import claims, claims_accuracy, evidence, figures, output, plots, published, readable

TITLES = {key: title for key, title in figures._claim_titles().items()}
VERDICTS = pd.DataFrame(dict(claim=[TITLES["equal"], TITLES["behind"], "Table 1: weight ranges grow with training"],
                             verdict=["partly (1 of 2 hold, 1 needed)", "contradicted (0 of 3 hold, 2 needed)",
                                      "not shown (none judged; 2 not judged)"]))


def row(claim, metric, paper, ours=None, low=None, high=None, seeds=5, outcome="not shown", setting="resnet",
        paper_round=20, noise=1.0):
    """One row of claims_accuracy.effects, as its docstring gives its columns."""
    reached = ours is not None
    return dict(claim=claim, setting=setting, paper_setting="resnet20_cifar10", metric=metric,
                paper_round=paper_round, round=paper_round, sparsity_pct=98.85, paper_gap_points=paper,
                expected="level" if abs(paper) <= 1 else "ahead" if paper > 0 else "behind", gap_points=noise,
                our_gap_points=ours, our_low_points=low if reached and low is not None else ours,
                our_high_points=high if reached and high is not None else ours, seeds_agreeing=0,
                seeds=seeds if reached else 0, seeds_at_chance=0, outcome=outcome,
                why="" if reached else f"round {paper_round} not reached (ResNet-8-16 stops at round 3)")


# (the paper's gap, our mean gap) -> where the point lies, with a noise of 1 point and "about equal" within 1 point
CASES = [((+2.0, +3.0), "agree"), ((-2.7, -1.5), "agree"), ((+32.0, -3.0), "opposite"), ((-3.1, +2.5), "opposite"),
         ((-14.2, +0.5), "within the noise"), ((+0.5, +0.2), "agree"), ((-0.76, +2.3), "a gap the paper has not")]


def constructed():
    rows = [row("behind" if p < -1 else "equal", m, p, o, o - 0.5, o + 0.5, outcome=o_)
            for ((p, o), _), m, o_ in zip(CASES, ["minmax", "softmax", "l1", "minmax", "softmax", "l2", "l1"],
                                           ["holds", "holds", "reversed", "not shown", "not shown", "holds", "fails"])]
    rows.append(row("equal", "l2", -2.01, paper_round=30))  # a paper round the setting does not reach
    return pd.DataFrame(rows)


def test_each_point_lands_where_its_agreement_says():
    v = figures.glance_view(constructed(), VERDICTS, {"resnet": "ResNet-8-16 on Fashion-MNIST"}, preset="small")
    assert list(v.points.agreement) == [a for _, a in CASES]
    for r in v.points.itertuples():  # the quadrant: ours with the paper's sign where they agree beyond the noise
        if r.agreement == "agree" and abs(r.paper_gap_points) > 1:
            assert (r.paper_gap_points > 0) == (r.our_gap_points > 0)
        if r.agreement == "opposite":
            assert (r.paper_gap_points > 0) != (r.our_gap_points > 0) and abs(r.our_gap_points) >= 1
    assert list(v.points.decided) == [True, True, True, False, False, True, True]
    assert list(v.missing.paper_gap_points) == [-2.01] and v.note == ""
    assert v.xlim[0] < -14.2 and v.xlim[1] > 32 and v.ylim[0] < -3.5 and v.ylim[1] > 3.5  # every gap and seed
    assert set(v.points.setting_name) == {"ResNet-8-16 on Fashion-MNIST"} and v.noise == [1.0]
    verdicts = v.verdicts.set_index("claim")
    assert list(verdicts.verdict) == ["partly", "contradicted", "not shown"]
    assert list(verdicts.clauses) == ["1 of 2", "0 of 3", ""]
    assert verdicts.points[TITLES["equal"]] == ("4 of the paper's 5 gaps reached: 2 agree, 1 opposite, 1 a gap the "
                                                "paper has not; sign test: 2 holds, 1 reversed, 1 fails")
    assert verdicts.points[TITLES["behind"]] == ("3 of the paper's 3 gaps reached: 1 agree, 1 opposite, 1 within the "
                                                 "noise; sign test: 1 holds")
    assert verdicts.points["Table 1: weight ranges grow with training"] == ""


def test_every_claim_judged_from_the_papers_gaps_is_named_as_claims_md_names_it():
    assert set(TITLES) == set(published.EFFECTS)
    assert set(TITLES.values()) <= {title for title, _, _ in claims.CLAIMS}


@pytest.mark.parametrize("case", ["not reached", "no rows", "one seed"])
def test_the_figure_renders_with_few_points_or_none_and_says_why(tmp_path, case):
    """The smoke preset reaches none of the paper's rounds; a preset running magnitude alone has no row; the
    rehearsal has one seed (no bar, nothing decided)."""
    rows = {"not reached": pd.DataFrame([row("equal", "l1", -0.76), row("behind", "minmax", -2.71)]),
            "no rows": constructed().iloc[:0],
            "one seed": pd.DataFrame([row("equal", "l1", -0.76, 0.4, seeds=1)])}[case]
    v = figures.glance_view(rows, VERDICTS, reach={"ResNet-8-16 on Fashion-MNIST": 3}, preset="smoke",
                            caption="a caption")
    if case == "not reached":
        assert v.points.empty and v.note == ("No point: preset=smoke stops at round 3 on ResNet-8-16 on Fashion-MNIST, "
                                             "before every round where the paper gives a gap (20; the ticks below)")
    elif case == "no rows":
        assert v.points.empty and v.note.startswith("No point: preset=smoke runs none of the metrics")
    else:
        assert len(v.points) == 1 and not v.points.decided.any() and v.note == ""
    output.save(plots.glance(v), tmp_path, "glance", v.data)
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / f"glance.{ext}").stat().st_size > 0


def test_the_csv_names_every_numbers_unit(tmp_path):
    v = figures.glance_view(constructed(), VERDICTS)
    output.save(plots.glance(v), tmp_path, "glance", v.data)
    columns = list(pd.read_csv(tmp_path / "glance.csv").columns)
    for c in ("paper_gap_points", "our_gap_points", "our_low_points", "our_high_points", "noise_points",
              "sparsity_pct"):
        assert c in columns
    assert "gap_points" not in columns  # the setting's noise, named so
    assert all(c.endswith(("_points", "_pct")) for c in columns if "gap" in c or "noise" in c or "sparsity" in c)


def test_make_glance_renders_the_smoke_preset(tmp_path, make, smoke_sweep):
    """`make glance` renders the notebook (its runs all there); the smoke preset's 3 rounds reach none of the
    paper's, so every paper gap is a tick and the figure says why."""
    figs = tmp_path / "figures"
    p = make("glance", PRESET="smoke", LTH_RUNS=str(smoke_sweep), FIGS=str(figs))
    assert p.returncode == 0 and "sweep run" not in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
    for ext in ("png", "pdf", "csv", "ipynb"):
        assert (figs / f"glance.{ext}").stat().st_size > 0
    csv = pd.read_csv(figs / "glance.csv")
    assert len(csv) == len(claims_accuracy.effects(evidence.Evidence(str(smoke_sweep), "smoke"))) and (csv.seeds == 0).all()
    v = figures.glance(str(smoke_sweep), "smoke")
    assert v.note.startswith("No point: preset=smoke stops at round 3") and "preset=smoke, Fashion-MNIST, seeds 0, 1" in v.caption
    assert len(v.verdicts) == len(claims.CLAIMS)


def test_points_whose_paper_gaps_nearly_coincide_sit_side_by_side_and_their_labels_apart():
    """ResNet-8-16 at round 20: l1 (paper -0.76, ours +2.48) and softmax (-0.70, +2.23) were drawn on each other,
    their round labels too; dodged, every point is apart and the figure has nothing hard to read."""
    rows = pd.DataFrame([row("equal", "l1", -0.76, 2.48, 1.45, 4.15, outcome="fails"),
                         row("behind", "softmax", -0.70, 2.23, 1.24, 3.83, outcome="fails"),
                         row("equal", "l2", -0.39, 1.69, 0.37, 4.23),
                         row("behind", "minmax", -2.71, -34.08, -69.09, -11.40, outcome="holds"),
                         row("equal", "l1", 32.17, 0.5, -0.5, 1.5, setting="vgg", paper_round=25),
                         row("behind", "minmax", -14.16, 0.2, -0.3, 0.7, paper_round=22),
                         row("behind", "softmax", 0.45, 6.2, 5.0, 7.0, paper_round=3),  # one written label each,
                         row("behind", "minmax", 0.50, 6.2, 5.1, 7.4, paper_round=3),  # the same text, side by side
                         row("behind", "l2", 0.62, 6.2, 5.1, 7.4, paper_round=3)])  # and a little apart
    v = figures.glance_view(rows, VERDICTS, {"resnet": "ResNet-8-16 on Fashion-MNIST"}, preset="small",
                            caption="a caption")
    fig = plots.glance(v)
    assert readable.problems(fig) == []
    top = fig.axes[0]
    drawn = [line.get_transform().transform(line.get_xydata())[0] for line in top.lines
             if line.get_marker() in plots.SETTING_MARKERS]
    assert len(drawn) == len(rows)
    assert min(abs(a[0] - b[0]) + abs(a[1] - b[1]) for i, a in enumerate(drawn) for b in drawn[i + 1:]) >= 6
    labels = {t.get_text() for t in top.texts}
    assert "20: -34.1" in labels and "20" in labels  # a gap the asinh scale compresses is written; +2.48 reads as drawn
