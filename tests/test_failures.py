"""A run that cannot give a valid result ends with one line naming the problem, a non-zero exit and no record
that looks complete: diverged training, non-finite importance scores. A stored file that cannot be read is named,
and computed anew where the run can: the run then ends bitwise as an uninterrupted run would."""

import json
import math

import pytest
import torch
from sacred.utils import SacredError
from torch import nn

from lth import data, importance, presets, pruning, runs, store

from lth.report import analysis
from lth.config import Config
from lth.training import Diverged, train
from test_experiment import assert_same_tickets, folder_of, imp, tickets

pytestmark = pytest.mark.slow  # whole runs killed, diverged and damaged (tests/conftest.py)

ROUNDS = 2  # the smoke config's


def errors(p):
    return [line for line in p.stderr.splitlines() if line.strip() and not line.startswith(("INFO", "WARNING"))]


@pytest.mark.parametrize("rewind, stage", [(4, "pretraining"), (0, "round 0")])
def test_diverged_training_fails_the_run_with_one_line_and_no_ticket(tmp_path, rewind, stage):
    p = imp(tmp_path, "smoke", "lr=1000", "seed=3", f"rewind_iter={rewind}")
    folder = folder_of(tmp_path, "smoke", "lr=1000", "seed=3", f"rewind_iter={rewind}")
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    assert errors(p)[-1].startswith(f"sacred.utils.SacredError: training diverged in {stage} at iteration ")
    assert errors(p)[-1].endswith("(loss nan); try a lower lr (lr=1000)")
    assert json.loads((folder / "run.json").read_text())["status"] == "FAILED"
    assert not (folder / "completed").exists() and not list(folder.glob("round_*.pt"))
    assert (folder / "rewind.pt").exists() == (rewind == 0)  # the rewind point is theta_0 itself at k = 0


class NaNAt(nn.Module):
    """A linear classifier whose output is NaN at its ``at``-th call (0-based): the loss of that iteration."""

    def __init__(self, at):
        super().__init__()
        self.fc, self.calls, self.at = nn.Linear(28 * 28, 10), 0, at

    def forward(self, x):
        self.calls += 1
        out = self.fc(x.flatten(1))
        return out * math.nan if self.calls - 1 == self.at else out


def test_divergence_names_its_exact_iteration_and_keeps_no_checkpoint_of_that_epoch(tmp_path):
    d = data.random_like("mnist", 40, 10)  # batches of 10: 4 iterations per epoch
    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(Diverged, match=r"^training diverged in round 2 at iteration 6 \(loss nan\); try a lower lr "
                                       r"\(lr=0.1\)$"):
        train(NaNAt(6), d, Config(epochs=3, batch_size=10), start=0, end=12, seed=0, stage="round 2",
              checkpoint=checkpoint)
    assert torch.load(checkpoint)["iteration"] == 4  # epoch 0's; epoch 1, which diverged, was not saved


def test_weights_that_end_non_finite_fail_the_stage_though_every_loss_was_finite():
    d = data.random_like("mnist", 40, 10)
    model = NaNAt(-1)
    model.unused = nn.Parameter(torch.tensor([math.inf]))  # in no loss, so never in a gradient
    with pytest.raises(Diverged, match=r"^training diverged in pretraining by iteration 4 \(weights not finite\); "):
        train(model, d, Config(epochs=1, batch_size=10), start=0, end=4, seed=0, stage="pretrain")


@pytest.mark.parametrize("metric, name", [(lambda a: a * math.nan, "<lambda>"), ("l1", "l1"), ("l2", "l2")])
def test_non_finite_scores_are_refused_naming_the_metric_the_layer_and_how_many(metric, name):
    weights = {"a": torch.randn(4, 3), "b": torch.zeros(6, 2)}  # l1, l2 of an all-zero layer: 0 / 0
    mask = {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}
    layer, bad = ("a", 12) if name == "<lambda>" else ("b", 12)
    with pytest.raises(pruning.NonFiniteScores, match=f"^importance {name} gave {bad} non-finite scores in layer "
                                                      f"{layer} "):
        pruning.prune(weights, mask, metric)


def test_a_run_whose_metric_gives_nan_fails_with_that_line(tmp_path, monkeypatch):
    from experiments import imp as experiment

    monkeypatch.setitem(importance.IMPORTANCE, "broken", lambda a: a.sqrt() * math.nan)
    line = ("importance broken gave 235200 non-finite scores in layer fc_layers.0 (of 235200 unpruned weights); a "
            "metric must give every weight a finite score")
    with pytest.raises(SacredError) as info:
        experiment.run(dict(presets.SMOKE, importance="broken"), tmp_path)
    assert str(info.value) == line
    [folder] = [f for f in tmp_path.iterdir() if f.is_dir()]
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "FAILED"
    assert record["fail_trace"][-1].strip() == ("sacred.utils.SacredError: importance broken gave 235200 non-finite "
                                               "scores in layer fc_layers.0 (of 235200 unpruned weights); a metric "
                                               "must give every weight a finite score")
    assert (folder / "round_0.pt").exists() and not (folder / "round_1.pt").exists()
    assert not (folder / "completed").exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The smoke run, uninterrupted: its folder."""
    runs_dir = tmp_path_factory.mktemp("reference")
    assert imp(runs_dir, "smoke").returncode == 0
    return folder_of(runs_dir, "smoke")


def cut_short(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damaged", ["init.pt", "rewind.pt", "round_1.pt", "checkpoint.pt"])
def test_an_interrupted_run_computes_a_damaged_file_anew_and_ends_bitwise_as_an_uninterrupted_run(
        tmp_path, reference, damaged):
    assert imp(tmp_path, "smoke").returncode == 0
    folder = folder_of(tmp_path, "smoke")
    (folder / "completed").unlink()  # interrupted in round 2, whose last checkpoint was copied in part
    (folder / "round_2.pt").unlink()
    if damaged == "checkpoint.pt":
        (folder / "checkpoint.pt").write_bytes((folder / "round_1.pt").read_bytes())
    cut_short(folder / damaged)
    p = imp(tmp_path, "smoke")
    assert p.returncode == 0, p.stderr
    then = "training round 2 again from its start" if damaged == "checkpoint.pt" else "computing it anew"
    said = [line for line in p.stdout.splitlines() if line.startswith(f"{folder / damaged} cannot be read (")]
    assert len(said) == 1 and said[0].endswith(f"): {then}"), p.stdout
    assert_same_tickets(tickets(folder, ROUNDS), tickets(reference, ROUNDS))
    assert (folder / "completed").exists() and not (folder / "checkpoint.pt").exists()


@pytest.mark.parametrize("damaged", ["round_1.pt", "metrics.json", "run.json"])
def test_a_completed_run_with_a_damaged_file_is_reported_and_computes_it_anew_when_started_again(
        tmp_path, reference, damaged):
    assert imp(tmp_path, "smoke").returncode == 0
    folder = folder_of(tmp_path, "smoke")
    cut_short(folder / damaged)
    config = json.loads((reference / "config.json").read_text())
    with pytest.raises(store.Damaged, match=rf"^1 of the 1 runs this needs have files that cannot be read \(e\.g\. "
                                           rf"{folder / damaged}: .*\): run `python -m experiments.sweep run smoke "
                                           rf"{folder.name}`, which computes them anew$"):
        analysis.load_runs(tmp_path, "smoke", [runs.Run("smoke", config)])
    p = imp(tmp_path, "smoke")
    assert p.returncode == 0, p.stderr
    if damaged.endswith(".pt"):  # (Sacred's record, run.json and metrics.json, is written anew by every attempt)
        assert f"{folder / damaged} cannot be read (" in p.stdout + p.stderr
    assert_same_tickets(tickets(folder, ROUNDS), tickets(reference, ROUNDS))
    assert store.damage(folder, config) == {} and (folder / "completed").exists()
    metrics = lambda f: {k: v["values"] for k, v in json.loads((f / "metrics.json").read_text()).items()}
    assert metrics(folder) == metrics(reference)


def test_a_ticket_that_cannot_be_read_is_one_line_naming_it(tmp_path, reference):
    from lth import tickets as tickets_

    (tmp_path / "round_1.pt").write_bytes((reference / "round_1.pt").read_bytes()[:1000])
    with pytest.raises(store.Damaged) as info:
        tickets_.load_ticket(tmp_path, 1)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"{tmp_path / 'round_1.pt'} cannot be read (")
