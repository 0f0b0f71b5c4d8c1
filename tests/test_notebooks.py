"""`make figures` end to end on the tiny `smoke` preset: every notebook renders its files, bitwise as committed in
tests/data/smoke_render.csv, a second make renders nothing, and a metric added docs/metrics.md's way appears in
every table and figure.

``python tests/test_notebooks.py --write FOLDER`` lists the files a smoke render in FOLDER holds anew, for a change
that changes a table on purpose: commit the listing with that change.
"""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import conftest
from lth import presets
from lth.report import figures

OUTPUTS = {  # notebook -> what it must write
    "table1": ["table1.csv", "table1.md"],
    "table2": ["table2.csv", "table2.md", "table2_paired.csv", "table2_paired.md"],
    "figure2": ["figure2.png", "figure2.pdf", "figure2.csv"], "figure4": ["figure4.png", "figure4.pdf", "figure4.csv"],
    "figure8": ["figure8.png", "figure8.pdf", "figure8.csv"], "figure9": ["figure9.png", "figure9.pdf", "figure9.csv"],
    "figure10": ["figure10.png", "figure10.pdf", "figure10.csv"],
    "collapse": ["collapse.csv", "collapse.md", "collapse_runs.csv", "collapse_runs.md", "collapse_sparsest.csv",
                 "collapse.png", "collapse.pdf"],
    "overlap": ["overlap.csv", "overlap.md", "jaccard.csv"], "figure1": ["figure1.png", "figure1.pdf", "figure1.csv"],
    "figure3": ["figure3.png", "figure3.pdf", "figure3.csv"], "figure5": ["figure5.png", "figure5.pdf"],
    "figure6": ["figure6.png", "figure6.pdf"], "figure7": ["figure7.png", "figure7.pdf", "figure7.csv"],
    "reinit": ["reinit.csv", "reinit.md"], "claims": ["claims.csv", "claims.md"],
    "glance": ["glance.png", "glance.pdf", "glance.csv"],
    "extra": ["extra.csv", "extra.md", "extra_paired.csv", "extra_paired.md"],
}


SMOKE_RENDER = Path(__file__).resolve().parent / "data" / "smoke_render.csv"


def render_digests(figures_dir):
    """{file: SHA-256} of every table (CSV, Markdown) a render holds."""
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(Path(figures_dir).iterdir())
            if f.suffix in (".csv", ".md")}


def header(table):
    """The header row of a Markdown table file."""
    return next(line for line in table.read_text().splitlines() if line.startswith("| "))


def code_lines(notebook):
    return sum(1 for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"
               for line in c["source"] if line.strip() and not line.lstrip().startswith("#"))


def test_make_figures_renders_every_notebook_and_a_second_make_renders_nothing(tmp_path, make, smoke_sweep):
    env = dict(LTH_RUNS=str(smoke_sweep), PRESET="smoke", FIGS=str(tmp_path / "figures"))
    p = make("figures", **env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "sweep run" not in p.stdout  # the runs were all there
    for notebook, files in OUTPUTS.items():
        assert (tmp_path / "figures" / f"{notebook}.ipynb").stat().st_size > 0, notebook
        for f in files:
            assert (tmp_path / "figures" / f).stat().st_size > 0, f
    assert "| setting" in (tmp_path / "figures" / "table2.md").read_text()
    with open(SMOKE_RENDER) as f:
        committed = {row["file"]: row["sha256"] for row in csv.DictReader(f)}
    rendered = render_digests(tmp_path / "figures")
    assert rendered == committed, sorted(n for n in rendered.keys() | committed.keys() if rendered.get(n) != committed.get(n))
    assert "bitwise equal" in (tmp_path / "figures" / "overlap.ipynb").read_text()
    for notebook in OUTPUTS:  # every figure readable (lth.report.readable says otherwise on stderr)
        assert "hard to read" not in (tmp_path / "figures" / f"{notebook}.ipynb").read_text(), notebook
    again = make("figures", **env)
    assert again.returncode == 0 and "sweep run" not in again.stdout and "papermill" not in again.stdout, again.stdout


def test_notebooks_only_load_and_plot():
    from lth.runs import REPOSITORY

    for notebook in (REPOSITORY / "notebooks").glob("*.ipynb"):
        assert code_lines(notebook) <= 20, notebook.name
        source = notebook.read_text()
        assert "0.8" not in source and "shortcut|downsample" not in source and "sys.path" not in source, notebook.name


def test_a_metric_added_the_readmes_way_is_in_every_table_and_figure(tmp_path, make, repo_copy, smoke_sweep):
    importance = repo_copy / "lth" / "importance.py"
    registry = "IMPORTANCE = {f.__name__: f for f in (magnitude, l1, l2, softmax, minmax, lamp, random)}"
    assert registry in importance.read_text()
    importance.write_text(importance.read_text().replace(registry, (  # as docs/metrics.md shows it
        "def sqrt_l1(a):\n    return a.sqrt() / a.sqrt().sum()\n\n\n" + registry.replace("random)", "random, sqrt_l1)"))))
    figs = tmp_path / "figures"
    shutil.copytree(smoke_sweep, tmp_path / "runs")  # the registry's metrics have run already: only the new one runs
    p = make("table2", "figure4", "figure8", "figure9", "collapse", cwd=repo_copy, PRESET="smoke",
             LTH_RUNS=str(tmp_path / "runs"), FIGS=str(figs))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    ran = [line for line in p.stdout.splitlines() if "sweep run" in line]
    assert len(ran) == 4 and all("-sqrt_l1-" in line for line in ran), ran  # 2 settings x 2 seeds
    assert "sqrt_l1" in header(figs / "table2.md")  # a column of Table 2
    for figure in ("figure4", "figure8", "figure9"):
        assert "sqrt_l1" in set(pd.read_csv(figs / f"{figure}.csv").importance), figure
    assert "sqrt_l1" in set(pd.read_csv(figs / "collapse.csv").importance)


def test_a_metric_of_your_own_joins_table2_and_figure4_by_a_make_variable(tmp_path, make, smoke_sweep):
    own = tmp_path / "own"
    own.mkdir()
    (own / "mymetrics.py").write_text("def sqrt(a):\n    return a.sqrt()\n")
    figs, env = tmp_path / "figures", dict(PRESET="smoke", LTH_RUNS=str(tmp_path / "runs"), PYTHONPATH=str(own))
    shutil.copytree(smoke_sweep, tmp_path / "runs")  # magnitude and l1 have run already: only the new metric runs
    p = make("table2", "figure4", METRICS="magnitude,l1,mymetrics:sqrt", FIGS=str(figs), **env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    ran = [line for line in p.stdout.splitlines() if "sweep run" in line]
    assert len(ran) == 4 and all("-mymetrics.sqrt-" in line for line in ran), ran  # 2 settings x 2 seeds
    assert [c.strip() for c in header(figs / "table2.md").split("|")[4:7]] == ["magnitude", "l1", "mymetrics:sqrt"]
    assert set(pd.read_csv(figs / "figure4.csv").importance) == {"magnitude", "l1", "mymetrics:sqrt"}
    bad = make("table2", METRICS="magnitude,bogus", FIGS=str(figs), **env)
    errors = [line for line in bad.stderr.splitlines() if line.strip() and not line.startswith("make")]
    assert bad.returncode != 0 and len(errors) == 1 and "importance='bogus' is not valid" in errors[0], bad.stderr


def test_a_notebook_that_fails_leaves_nothing_that_looks_rendered(tmp_path, make, repo_copy, smoke_sweep):
    notebook = repo_copy / "notebooks" / "table2.ipynb"
    cells = json.loads(notebook.read_text())
    cells["cells"][-1]["source"] = ["raise RuntimeError('broken on purpose')\n"]
    notebook.write_text(json.dumps(cells))
    env = dict(cwd=repo_copy, PRESET="smoke", LTH_RUNS=str(smoke_sweep), FIGS=str(tmp_path / "figures"))
    for _ in range(2):  # and the next make tries it again, rather than taking it for rendered
        p = make("table2", **env)
        assert p.returncode != 0 and "broken on purpose" in p.stdout + p.stderr, p.stdout[-2000:] + p.stderr[-2000:]
        assert "papermill" in p.stdout and not (tmp_path / "figures" / "table2.ipynb").exists()


def test_metrics_without_magnitude_keeps_it_and_claims_about_metrics_left_out_are_not_shown(tmp_path, make,
                                                                                              smoke_sweep):
    """METRICS=l1 still runs and shows magnitude (Table 1's metric, every paired difference's baseline): before,
    Table 2's paired rows were "+nan" and the claims notebook stopped. METRICS=magnitude draws Figure 4 without
    its empty difference row."""
    figs, env = tmp_path / "figures", dict(PRESET="smoke", LTH_RUNS=str(smoke_sweep))
    p = make("table1", "table2", "claims", METRICS="l1", FIGS=str(figs), **env)
    assert p.returncode == 0 and "sweep run" not in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
    assert [c.strip() for c in header(figs / "table2.md").split("|")[4:6]] == ["magnitude", "l1"]
    assert "nan" not in (figs / "table2_paired.md").read_text()
    verdicts = pd.read_csv(figs / "claims.csv").set_index("claim")
    minmax = verdicts.loc["minmax tracks the global sparsity best"]
    assert minmax.verdict.startswith("not shown") and minmax.ours == "no runs of minmax (METRICS leaves them out)"
    p = make("figure4", METRICS="magnitude", FIGS=str(figs), **env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert set(pd.read_csv(figs / "figure4.csv").importance) == {"magnitude"}


# Every preset in miniature (appended to a copy's lth/presets.py): the same settings (models, datasets, the paper's
# numbers where it reports them), metrics, metrics per setting, extra metrics and Section 5's setting, but one seed,
# 3 rounds of 80 % (2 where the preset stops a metric early) on 32 synthetic training images.
MINIATURE = """

def _miniature(p):
    tiny = dict(train_size=32, test_size=16, epochs=2, rewind_iter=1, milestones=[], rounds=3, prune_fraction=0.8)
    return dict(p, seeds=p["seeds"][:1], synthetic=dict(train=32, test=16), rounds_of={m: 2 for m in p.get("rounds_of", {})},
                seeds_of={m: s[:1] for m, s in p.get("seeds_of", {}).items()},
                settings={name: dict(s, **tiny) for name, s in p["settings"].items()}, gpu=False,
                tickets=dict(p["tickets"], round=3, reinit_seeds=p["tickets"]["reinit_seeds"][:1],
                             reinit_tickets=p["tickets"].get("reinit_tickets", [0])[:1]))


PRESETS = {name: _miniature(p) for name, p in PRESETS.items()}
"""


@pytest.fixture(scope="module")
def miniature(tmp_path_factory):
    """A copy of the repository whose presets are every preset in miniature, and one runs folder for them all."""
    root = tmp_path_factory.mktemp("miniature")
    copy = conftest.copy_repository(root / "repo")
    (copy / "lth" / "presets.py").write_text((copy / "lth" / "presets.py").read_text() + MINIATURE)
    return copy, dict(LTH_RUNS=str(root / "runs"), LTH_DATA=str(root / "data"))


# Not the rehearsal: its settings in miniature are the paper preset's (the same runs), and its shape (magnitude alone
# on one setting, three metrics on another) is the smoke preset's cut in
# test_a_setting_running_fewer_metrics_leaves_out_what_it_cannot_show_and_says_why.
@pytest.mark.slow
@pytest.mark.parametrize("preset", [p for p in presets.PRESETS if p not in ("smoke", "rehearsal")])
def test_every_preset_renders_every_notebook_in_miniature(tmp_path, miniature, preset):
    """A preset's own shape (which metrics run where, which settings, what the paper reports for them) reaches
    every notebook: the paper's four settings, the small preset's stopped metrics, Figure 4 and the claims. Its runs
    as make runs them, in a process per core (``conftest.run_preset``), then every notebook (``conftest.render``; the
    smoke preset renders through `make figures` at full size in
    test_make_figures_renders_every_notebook_and_a_second_make_renders_nothing)."""
    copy, env = miniature
    subprocess.run([sys.executable, "-m", "experiments.sweep", "check", preset], cwd=copy, env=os.environ | env,
                   check=True, capture_output=True)
    p = conftest.run_preset(preset, copy, env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    figs = tmp_path / "figures"
    p = conftest.render(list(OUTPUTS), preset, env["LTH_RUNS"], figs, cwd=copy, env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "hard to read" not in p.stderr, p.stderr[-3000:]  # lth.report.readable, on every figure
    for notebook, files in OUTPUTS.items():
        if notebook != "extra" or "extra" in presets.PRESETS[preset]:
            assert all((figs / f).stat().st_size > 0 for f in files), notebook


METRICS_OF = {"lenet_300_100_fashion_mnist": ["magnitude"], "resnet8_16_fashion_mnist": ["magnitude", "l1", "l2"]}


def test_a_setting_running_fewer_metrics_leaves_out_what_it_cannot_show_and_says_why(tmp_path, repo_copy, smoke_sweep,
                                                                                       monkeypatch):
    """The smoke runs, with the smoke preset cut as the rehearsal cuts the paper's: magnitude alone on one setting
    (the rehearsal's VGG-16), magnitude, l1 and l2 on the other (its ResNet-18). Every notebook renders; Figure 4
    says why a setting has no difference panel, and a claim about a metric a setting does not run is "not judged"
    there, naming it."""
    cut = '"smoke": dict(seeds=[0, 1], metrics=METRICS, '
    text = (repo_copy / "lth" / "presets.py").read_text()
    assert cut in text
    (repo_copy / "lth" / "presets.py").write_text(text.replace(cut, f"{cut}metrics_of={METRICS_OF!r}, "))
    figs = tmp_path / "figures"
    p = conftest.render(list(OUTPUTS), "smoke", smoke_sweep, figs, cwd=repo_copy)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert all((figs / f).stat().st_size > 0 for files in OUTPUTS.values() for f in files)
    monkeypatch.setitem(presets.PRESETS["smoke"], "metrics_of", METRICS_OF)  # this process's, for Figure 4's view
    presets.get.cache_clear()
    lenet, resnet = figures.figure4(str(smoke_sweep), "smoke").settings
    assert lenet.difference.empty and lenet.alone.replace("\n", " ").startswith("no paired difference: preset=smoke runs magnitude alone on LeNet-300-100")
    assert set(resnet.difference.importance) == {"l1", "l2"} and not resnet.alone
    verdicts = pd.read_csv(figs / "claims.csv").set_index("claim")
    claims, ours = verdicts.verdict, verdicts.ours
    equal = "magnitude, l1 and l2 about equal (Table 2, Figure 4)"
    assert "not judged: LeNet-300-100: no runs of l1, l2 (preset=smoke does not run them there)" in ours[equal]
    assert "ResNet-8-16 round 3: l1" in ours[equal] and claims[equal].startswith("not shown")  # 2 seeds, 3 rounds
    assert "round 20 not reached (ResNet-8-16 stops at round 3)" in verdicts.loc[equal, "not shown"]
    lenet = claims["... except on LeNet"]
    assert lenet.startswith("not shown") and "no runs of softmax, minmax" in ours["... except on LeNet"]


def test_make_regime_runs_the_study_and_renders_it(tmp_path, make, smoke_sweep):
    """The regime study's make target (lth/report/study.py) on the smoke preset's miniature: it runs the arms' missing runs
    (the first arm's are the preset's own), renders the notebook, and a second make does nothing."""
    shutil.copytree(smoke_sweep, tmp_path / "runs")
    env = dict(LTH_RUNS=str(tmp_path / "runs"), PRESET="smoke", FIGS=str(tmp_path / "figures"))
    p = make("regime", **env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    ran = [line for line in p.stdout.splitlines() if "sweep run" in line]
    assert len(ran) == 4, ran  # the second arm: magnitude and l1 on 2 seeds
    for f in ["regime.csv", "regime.md", "regime_runs.csv", "regime_gaps.csv", "regime.png", "regime.pdf"]:
        assert (tmp_path / "figures" / f).stat().st_size > 0, f
    summary = pd.read_csv(tmp_path / "figures" / "regime.csv")
    assert list(summary.arm) == ["1 epoch, wd 1e-4", "1 epoch, wd 8e-2"]
    assert summary.lr_x_weight_decay.tolist() == [0.0006, 0.48]  # 60 iterations a round at lr 0.1
    assert summary.l1_minus_magnitude_points.iloc[1] == "at chance"  # wd 8e-2: nothing learns, so no gap is quoted
    runs_table = pd.read_csv(tmp_path / "figures" / "regime_runs.csv")
    assert runs_table.last_round_learning.dropna().le(runs_table["round"].max()).all()
    again = make("regime", **env)
    assert again.returncode == 0 and "sweep run" not in again.stdout and "papermill" not in again.stdout, again.stdout


def test_make_regime_on_a_preset_without_a_study_is_one_line(tmp_path, make):
    p = make("regime", PRESET="rehearsal", FIGS=str(tmp_path / "figures"))
    assert p.returncode != 0 and not (tmp_path / "figures").exists()
    assert p.stderr.splitlines()[0] == ("PRESET=rehearsal has no regime study (a preset's regime, lth/presets.py); "
                                        "presets with one: small, smoke")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"] or len(sys.argv) != 3:
        sys.exit("usage: python tests/test_notebooks.py --write FOLDER (a smoke render: make figures PRESET=smoke FIGS=FOLDER)")
    with open(SMOKE_RENDER, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "sha256"])
        w.writerows(render_digests(sys.argv[2]).items())
