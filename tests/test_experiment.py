"""experiments/imp.py end to end through Sacred: the run's folder and record, identity, bad input,
resume after kills at any point, two processes starting one run, a full disk."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lth import config, kernels, runs, store
from lth.tickets import load_ticket
from lth.training import save
from test_docs import examples

ROOT = Path(__file__).resolve().parents[1]
# Epochs of 128 iterations: pretraining (200 iterations) and every round (184) cross epoch boundaries.
RESUMABLE = ["smoke", "train_size=16384", "epochs=3", "rewind_iter=200", "rounds=3"]


def imp(runs_dir, *args, wait=True):
    cmd = [sys.executable, str(ROOT / "experiments" / "imp.py"), "with", *args]
    env = {**os.environ, "LTH_RUNS": str(runs_dir)}
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def folder_of(runs_dir, *args):
    """The run folder of a config given as `with` arguments (named config `smoke` plus key=value pairs)."""
    from experiments.imp import ex

    c = ex.run("print_config", named_configs=[a for a in args if "=" not in a],
               config_updates={k: _parse(v) for k, v in (a.split("=", 1) for a in args if "=" in a)},
               options={"--loglevel": "ERROR"}).config
    return Path(runs_dir) / runs.run_id(c)


def tickets(folder, rounds):
    return [torch.load(folder / f"round_{i}.pt") for i in range(rounds + 1)]


def assert_same_tickets(a, b):
    for x, y in zip(a, b, strict=True):
        assert x["mask"].keys() == y["mask"].keys()
        assert all(torch.equal(x["mask"][n], y["mask"][n]) and torch.equal(x["trained"][n], y["trained"][n]) for n in x["mask"])
        assert x["test_accuracy"] == y["test_accuracy"]


def test_smoke_run_records_config_metrics_and_artifacts_in_its_own_folder(tmp_path):
    p = imp(tmp_path, "smoke", "importance=minmax", "seed=1")
    assert p.returncode == 0, p.stderr
    [run] = [d for d in tmp_path.iterdir() if d.is_dir()]
    assert run.name.startswith("lenet_300_100-fashion_mnist-minmax-1-") and (run / "completed").exists()
    assert json.loads((run / "run.json").read_text())["status"] == "COMPLETED"
    c = json.loads((run / "config.json").read_text())
    assert c["importance"] == "minmax" and c["seed"] == 1 and c["rounds"] == 2 and runs.run_id(c) == run.name
    info = json.loads((run / "info.json").read_text())
    assert info["layers"] == ["fc_layers.0", "fc_layers.1", "fc"] and info["dense"] == ["fc"]
    assert info["roles"]["input"] == "fc_layers.0" and info["roles"]["output"] == "fc"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"]["steps"] == [0, 1, 2]
    assert all(0 <= a <= 100 for a in metrics["test_accuracy"]["values"])
    assert metrics["density"]["values"] == pytest.approx([1.0, 0.8, 0.64], abs=1e-4)  # over all layers, fc included
    assert metrics["density/fc"]["values"] == [1.0, 1.0, 1.0]  # kept dense, as OpenLTH's LeNet
    assert metrics["density/fc_layers.1"]["values"][2] < 1  # minmax prunes every pruned layer every round
    for name in ("init.pt", "rewind.pt", "round_0.pt", "round_1.pt", "round_2.pt"):
        assert (run / name).exists(), name
    assert not (run / "checkpoint.pt").exists()
    ticket, stored = load_ticket(run, 2), torch.load(run / "round_2.pt")
    assert stored["trained"]["fc_layers.0"].numel() == ticket["mask"]["fc_layers.0"].sum() < 784 * 300  # sparse
    assert set(ticket["mask"]) == set(ticket["trained"]) == {"fc_layers.0", "fc_layers.1", "fc"}
    assert ticket["mask"]["fc_layers.0"].dtype == torch.bool and ticket["mask"]["fc"].all()
    assert (ticket["trained"]["fc_layers.0"][~ticket["mask"]["fc_layers.0"]] == 0).all()

    stamps = {f.name: f.stat().st_mtime_ns for f in run.glob("*.pt")}
    result = json.loads((run / "run.json").read_text())["result"]
    again = imp(tmp_path, "smoke", "importance=minmax", "seed=1")  # a completed run replays: nothing trains again
    assert again.returncode == 0 and (run / "completed").exists() and len(list(tmp_path.iterdir())) == 1
    assert {f.name: f.stat().st_mtime_ns for f in run.glob("*.pt")} == stamps  # loaded, not made again
    assert json.loads((run / "run.json").read_text())["result"] == result
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"]["values"] == metrics["test_accuracy"]["values"]


def test_identity_is_every_value_that_changes_results_and_nothing_else(tmp_path):
    base = config.Config.defaults().replace(**runs.presets.SMOKE).as_dict()
    assert runs.run_id(base) == runs.run_id(dict(base, lr=0.1, device="cuda", data_root="/elsewhere", download=False))
    assert runs.run_id(base) == runs.run_id(dict(base, momentum=0))  # 0 and 0.0 are one value
    for key, value in (("lr", 0.05), ("seed", 1), ("epochs", 2), ("milestones", [1]), ("prune_output", True)):
        assert runs.run_id(dict(base, **{key: value})) != runs.run_id(base), key
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    save({"w": torch.ones(2)}, a)  # (torch.save to a path writes the file's name into it; lth's save does not)
    save({"w": torch.ones(2)}, b)
    assert runs.run_id(dict(base, init=str(a))) == runs.run_id(dict(base, init=str(b)))  # by content, not path


def test_a_portable_runs_identity_names_the_library_settings_it_stands_for(monkeypatch):
    """Runs of one seed are compared pairwise: a run made under other portable settings must not pass for one
    made under these (its bits differ), so changing lth.kernels.PORTABLE gives every portable run a new folder."""
    base = config.Config.defaults().replace(**runs.presets.SMOKE).as_dict()
    portable, native = runs.run_id(base), runs.run_id(dict(base, portable=False))
    monkeypatch.setitem(kernels.PORTABLE, "MKL_CBWR", "AVX2,STRICT")
    assert runs.run_id(base) != portable and runs.run_id(dict(base, portable=False)) == native


BAD = {  # config value -> what the one-line error must name as valid
    "importance=magnitud": "magnitude, l1, l2, softmax, minmax, lamp, random",
    "model=lenet": "lenet_300_100, resnet8_16, resnet20, vgg16, vgg16_8, resnet18",
    "dataset=imagenet": "mnist, fashion_mnist, cifar10, tinyimagenet",
    "epochs=0": "an integer >= 1", "epochs=1.5": "an integer >= 1", "epochs=True": "an integer >= 1",
    "batch_size=0": "an integer >= 1", "rounds=-1": "an integer >= 1", "rounds=abc": "an integer >= 1",
    "train_size=0": "null (all) or an integer >= 1", "test_size=-5": "null (all) or an integer >= 1",
    "seed=-1": "an integer in [0, 2**63)", "lr=0": "a number > 0", "lr=-0.1": "a number > 0",
    "momentum=1.0": "a number in [0, 1)", "weight_decay=-1e-4": "a number >= 0",
    "prune_fraction=1.5": "a number in (0, 1)", "prune_fraction=0": "a number in (0, 1)",
    "prune_output=yes": "true or false", "download=1": "true or false",
    "milestones=[abc]": "increasing epochs in 1..1", "epochs=10 milestones=[12]": "increasing epochs in 1..10",
    "epochs=10 milestones=[5,3]": "increasing epochs in 1..10", "milestones=[0]": "increasing epochs in 1..1",
    "rewind_iter=-5": "an iteration in [0, 16)", "rewind_iter=16": "an iteration in [0, 16)",
    "init=/nonexistent.pt": "null or an existing state-dict file",
    "device=cuda": "cpu" if not torch.cuda.is_available() else "cuda:", "device=tpu": "cpu",
    "data_root=''": "a folder", "foo=1": "not a config value; valid: model, dataset",
}


@pytest.mark.parametrize("args", list(BAD))
def test_every_bad_value_is_refused_before_a_run_exists(args):
    from experiments.imp import ex

    updates = {k: _parse(v) for k, v in (a.split("=", 1) for a in args.split())}
    with pytest.raises(Exception) as e:
        ex.run("print_config", named_configs=["smoke"], config_updates=updates, options={"--loglevel": "ERROR"})
    message = str(e.value)
    assert "\n" not in message and BAD[args] in message and args.split()[-1].split("=")[0] in message, message


def _parse(value):
    """A `with` value as Sacred's command line parses it."""
    from sacred.arg_parser import _convert_value

    return _convert_value(value)


@pytest.mark.slow
@pytest.mark.parametrize("arg", ["epochs=0", "rewind_iter=-5", "milestones=[abc]", "importance=magnitud"])
def test_a_bad_value_on_the_command_line_is_one_line_a_nonzero_exit_and_no_folder(tmp_path, arg):
    p = imp(tmp_path, "smoke", arg)
    assert p.returncode != 0
    errors = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "is not valid; valid:" in errors[0] and "Traceback" not in p.stderr, p.stderr
    assert not any(tmp_path.iterdir())  # no run folder at all


@pytest.mark.slow
def test_missing_dataset_fails_with_where_to_put_it_and_no_completed_run(tmp_path):
    empty = tmp_path / "nodata"
    p = imp(tmp_path / "runs", "smoke", "dataset=mnist", f"data_root={empty}", "download=False")
    assert p.returncode != 0
    assert "mnist not found" in p.stderr and str(empty) in p.stderr and "Traceback" not in p.stderr
    [run] = (tmp_path / "runs").iterdir()
    assert store.state(run) == "failed" and not store.is_completed(run)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of RESUMABLE: its folder."""
    runs_dir = tmp_path_factory.mktemp("reference")
    p = imp(runs_dir, *RESUMABLE)
    assert p.returncode == 0, p.stderr
    return folder_of(runs_dir, *RESUMABLE)


def kill_when(proc, folder, stage, delay=0.0):
    """SIGKILL the run once its checkpoint says it is in ``stage``, after ``delay`` seconds more.

    Returns the stage it was killed in, or None if it had gone past it (its output file existed)."""
    while proc.poll() is None and (store.progress(folder) or {}).get("stage") != stage:
        time.sleep(0.002)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -9, f"the run ended before it could be killed in {stage}"
    output = folder / ("rewind.pt" if stage == "pretrain" else f"round_{stage.split()[1]}.pt")
    return None if output.exists() else stage


@pytest.mark.slow
def test_a_run_killed_at_several_points_resumes_to_bitwise_the_same_tickets(tmp_path, reference):
    folder = folder_of(tmp_path, *RESUMABLE)
    killed_in = []
    for stage, delay in (("pretrain", 0.0), ("round 0", 0.05), ("round 1", 0.0), ("round 2", 0.1)):
        killed_in.append(kill_when(imp(tmp_path, *RESUMABLE, wait=False), folder, stage, delay))
        assert store.state(folder) == "interrupted" and not store.is_completed(folder)
    assert killed_in[0] == "pretrain" and killed_in[2] == "round 1", killed_in  # at least these two, mid-stage
    p = imp(tmp_path, *RESUMABLE)
    assert p.returncode == 0, p.stderr
    assert_same_tickets(tickets(folder, 3), tickets(reference, 3))
    a, b = (json.loads((f / "metrics.json").read_text()) for f in (folder, reference))
    assert all(a[k]["steps"] == b[k]["steps"] == [0, 1, 2, 3] and a[k]["values"] == b[k]["values"] for k in b)
    assert torch.equal(torch.load(folder / "rewind.pt")["fc_layers.0.weight"], torch.load(reference / "rewind.pt")["fc_layers.0.weight"])
    assert store.state(folder) == "completed" and not (folder / "checkpoint.pt").exists()


@pytest.mark.slow
def test_two_processes_starting_one_run_train_it_once(tmp_path, reference):
    first, second = imp(tmp_path, *RESUMABLE, wait=False), imp(tmp_path, *RESUMABLE, wait=False)
    errors = [p.communicate(timeout=300)[1] for p in (first, second)]
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 1], errors
    refused = errors[[first.returncode, second.returncode].index(1)]
    assert "is already running" in refused and "Traceback" not in refused, refused
    folder = folder_of(tmp_path, *RESUMABLE)
    assert_same_tickets(tickets(folder, 3), tickets(reference, 3))
    assert store.state(folder) == "completed"


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (as root); skipped, saying why, where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up: {p.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_run_resumes_once_there_is_space(small_disk, reference):
    p = imp(small_disk, *RESUMABLE)
    assert p.returncode != 0
    assert "no space left on the device" in p.stderr.strip().splitlines()[-1] and "Traceback" not in p.stderr, p.stderr
    folder = folder_of(small_disk, *RESUMABLE)
    assert not store.is_completed(folder)
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    p = imp(small_disk, *RESUMABLE)
    assert p.returncode == 0, p.stderr
    assert_same_tickets(tickets(folder, 3), tickets(reference, 3))


@pytest.mark.slow
def test_reinit_without_its_runs_says_which_are_missing_and_how_to_make_them(tmp_path):
    env = {**os.environ, "LTH_RUNS": str(tmp_path)}
    p = subprocess.run([sys.executable, str(ROOT / "experiments" / "reinit.py"), "with", "preset=smoke"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode != 0 and "make PRESET=smoke runs" in p.stderr and "Traceback" not in p.stderr, p.stderr
    bad = subprocess.run([sys.executable, str(ROOT / "experiments" / "reinit.py"), "with", "preset=big"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode != 0 and "valid: small, paper, smoke" in bad.stderr, bad.stderr


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where no GPU is visible")
def test_paper_preset_without_a_gpu_stops_at_once_saying_what_is_missing(tmp_path):
    p = subprocess.run([sys.executable, "-m", "experiments.sweep", "check", "paper", "--no-download"],
                       capture_output=True, text=True, env={**os.environ, "LTH_DATA": str(tmp_path)}, timeout=300)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and "needs a CUDA GPU" in p.stderr and "cifar10 not found" in p.stderr, p.stderr


@pytest.mark.slow
def test_a_metric_from_your_own_module_runs_ltr_and_a_broken_one_is_one_line_and_no_folder(tmp_path, monkeypatch):
    own = tmp_path / "own"
    own.mkdir()
    [example] = [code for _, _, code, _ in examples("README.md") if code.startswith("# mymetrics.py")]  # the README's
    (own / "mymetrics.py").write_text(example + "\n")
    monkeypatch.setenv("PYTHONPATH", str(own))
    runs_dir = tmp_path / "runs"
    p = imp(runs_dir, "smoke", "importance=mymetrics:per_row")
    assert p.returncode == 0, p.stderr
    [run] = list(runs_dir.iterdir())
    assert run.name.startswith("lenet_300_100-fashion_mnist-mymetrics.per_row-0-") and (run / "completed").exists()
    (own / "broken.py").write_text("def f(a):\n    return a +\n")
    for arg, says in (("importance=mymetrics:nothing", "has no function 'nothing'"),
                      ("importance=broken:f", "module 'broken' does not import (SyntaxError: invalid syntax"),
                      ("importance=nosuch.module:f", "module 'nosuch.module' does not import")):
        p = imp(tmp_path / "broken", "smoke", arg)
        errors = [line for line in p.stderr.splitlines() if line.strip()]
        assert p.returncode != 0 and len(errors) == 1 and says in errors[0] and "Traceback" not in p.stderr, p.stderr
        assert not (tmp_path / "broken").exists() or not any((tmp_path / "broken").iterdir())


@pytest.mark.parametrize("arg, valid", [("setting=nope", "lenet_300_100_fashion_mnist"), ("metrics=[bogus]", "a list"),
                                        ('metrics=["l1", "bogus"]', "magnitude, l1"), ("seed=7", "0, 1"),
                                        ("preset=nope", "small, paper")])
@pytest.mark.slow
def test_a_bad_reinitialisation_value_is_one_line_naming_the_valid_ones_and_no_folder(tmp_path, arg, valid):
    cmd = [sys.executable, str(ROOT / "experiments" / "reinit.py"), "with", "preset=smoke", arg]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LTH_RUNS": str(tmp_path)}, timeout=120)
    errors = [line for line in p.stderr.splitlines() if line.strip()]
    assert p.returncode != 0 and len(errors) == 1 and "valid: " + valid in errors[0], p.stderr
    assert not any(tmp_path.iterdir())
