"""experiments/imp.py end to end through Sacred: observer files, bad input, resume."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lth import analysis

ROOT = Path(__file__).resolve().parents[1]


def imp(runs, *args):
    env = {**os.environ, "LTH_RUNS": str(runs)}
    return subprocess.run([sys.executable, str(ROOT / "experiments" / "imp.py"), "with", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_smoke_run_records_config_metrics_and_artifacts(tmp_path):
    p = imp(tmp_path, "smoke", "importance=minmax", "seed=1")
    assert p.returncode == 0, p.stderr
    run = tmp_path / "1"
    assert json.loads((run / "run.json").read_text())["status"] == "COMPLETED"
    config = json.loads((run / "config.json").read_text())
    assert config["importance"] == "minmax" and config["seed"] == 1 and config["rounds"] == 2
    assert "hostname" in json.loads((run / "run.json").read_text())["host"]
    assert json.loads((run / "info.json").read_text())["layers"] == ["fc_layers.0", "fc_layers.1"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"]["steps"] == [0, 1, 2]
    assert all(0 <= a <= 100 for a in metrics["test_accuracy"]["values"])
    assert metrics["density"]["values"] == pytest.approx([1.0, 0.8, 0.64], abs=1e-4)
    assert metrics["density/fc_layers.0"]["steps"] == [0, 1, 2] and "density/fc" not in metrics
    assert metrics["density/fc_layers.1"]["values"][2] < 1  # minmax prunes every layer every round
    for name in ("init.pt", "rewind.pt", "round_0.pt", "round_1.pt", "round_2.pt"):
        assert (run / name).exists(), name
    ticket = torch.load(run / "round_2.pt")
    assert set(ticket["mask"]) == set(ticket["trained"]) == {"fc_layers.0", "fc_layers.1"}
    assert ticket["mask"]["fc_layers.0"].dtype == torch.bool
    assert (ticket["trained"]["fc_layers.0"][~ticket["mask"]["fc_layers.0"]] == 0).all()
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").iterdir())


@pytest.mark.parametrize("arg,names", [
    ("importance=magnitud", ["magnitude", "l1", "l2", "softmax", "minmax", "lamp", "random"]),
    ("prune_fraction=1.5", ["(0, 1)"]),
    ("model=lenet", ["lenet_300_100", "resnet20", "vgg16", "resnet18"]),
    ("dataset=imagenet", ["mnist", "fashion_mnist", "cifar10", "tinyimagenet"]),
])
def test_bad_config_fails_before_training_with_one_line(tmp_path, arg, names):
    p = imp(tmp_path, "smoke", arg)
    assert p.returncode != 0
    errors = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and all(n in errors[0] for n in names), p.stderr
    assert not any(tmp_path.iterdir())  # no run folder at all


def test_missing_dataset_fails_with_where_to_put_it_and_no_completed_run(tmp_path):
    empty = tmp_path / "nodata"
    p = imp(tmp_path / "runs", "smoke", "dataset=mnist", f"data_root={empty}", "download=False")
    assert p.returncode != 0
    assert "mnist not found" in p.stderr and str(empty) in p.stderr and "Traceback" not in p.stderr
    statuses = [json.loads(f.read_text())["status"] for f in (tmp_path / "runs").glob("*/run.json")]
    assert "COMPLETED" not in statuses


def test_killed_run_resumes_from_its_last_round_with_identical_results(tmp_path):
    args = ["smoke", "rounds=4", "train_size=4096"]
    reference = imp(tmp_path / "ref", *args)
    assert reference.returncode == 0, reference.stderr
    runs = tmp_path / "runs"
    env = {**os.environ, "LTH_RUNS": str(runs)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "experiments" / "imp.py"), "with", *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = runs / "checkpoints"
    while proc.poll() is None and not list(checkpoints.glob("*/round_1.pt")):
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    assert proc.returncode == -9, "the run finished before it could be killed"
    resumed = imp(runs, *args)
    assert resumed.returncode == 0, resumed.stderr
    done = [d for d, _ in analysis.completed_runs(runs)]  # the killed run may have left a truncated run.json
    assert len(done) == 1
    ref_metrics = json.loads((tmp_path / "ref" / "1" / "metrics.json").read_text())
    metrics = json.loads((done[0] / "metrics.json").read_text())
    for name in ("test_accuracy", "density", "density/fc_layers.0"):
        assert metrics[name]["steps"] == ref_metrics[name]["steps"] == [0, 1, 2, 3, 4]
        assert metrics[name]["values"] == ref_metrics[name]["values"]
    for i in range(5):
        a, b = torch.load(tmp_path / "ref" / "1" / f"round_{i}.pt"), torch.load(done[0] / f"round_{i}.pt")
        assert all(torch.equal(a["trained"][n], b["trained"][n]) and torch.equal(a["mask"][n], b["mask"][n]) for n in a["mask"])


def test_reinit_without_its_runs_says_which_are_missing_and_how_to_make_them(tmp_path):
    env = {**os.environ, "LTH_RUNS": str(tmp_path)}
    p = subprocess.run([sys.executable, str(ROOT / "experiments" / "reinit.py"), "with", "preset=smoke"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode != 0 and "make PRESET=smoke runs" in p.stderr and "Traceback" not in p.stderr, p.stderr
    bad = subprocess.run([sys.executable, str(ROOT / "experiments" / "reinit.py"), "with", "preset=big"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert bad.returncode != 0 and "valid: small, paper, smoke" in bad.stderr, bad.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where no GPU is visible")
def test_paper_preset_without_a_gpu_stops_at_once_saying_what_is_missing(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "experiments" / "sweep.py"), "check", "paper", "--no-download"],
                       capture_output=True, text=True, env={**os.environ, "LTH_DATA": str(tmp_path)}, cwd=ROOT, timeout=300)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and "needs a CUDA GPU" in p.stderr and "cifar10 not found" in p.stderr, p.stderr
