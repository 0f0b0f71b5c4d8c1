"""experiments/sweep.py and the Makefile: runs found by identity, status, plan, and a preset on a real Slurm."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lth import config, cost, presets, runs, store

pytestmark = pytest.mark.slow  # whole presets through make and Slurm (tests/conftest.py)

pytest_plugins = ["slurm_cluster"]
ROOT = Path(__file__).resolve().parents[1]


def sweep(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "experiments.sweep", *args], capture_output=True, text=True,
                          env=env or os.environ, cwd=cwd, timeout=600)


def test_make_runs_a_run_again_when_its_folder_is_deleted_or_its_preset_changes(repo_copy, tmp_path, make):
    env = dict(LTH_RUNS=str(tmp_path / "runs"), PRESET="smoke")
    first = sweep("list", "smoke", cwd=repo_copy).stdout.split()[0]
    target = f"{tmp_path}/runs/{first}/completed"
    p = make(target, cwd=repo_copy, **env)
    assert p.returncode == 0 and f"sweep run smoke {first}" in p.stdout, p.stdout + p.stderr
    again = make(target, cwd=repo_copy, **env)
    assert again.returncode == 0 and "sweep run" not in again.stdout  # completed: never run again
    shutil.rmtree(tmp_path / "runs" / first)
    p = make(target, cwd=repo_copy, **env)
    assert p.returncode == 0 and f"sweep run smoke {first}" in p.stdout  # deleted: run again

    source = (repo_copy / "lth" / "presets.py").read_text()
    assert "train_size=2048" in source
    (repo_copy / "lth" / "presets.py").write_text(source.replace("train_size=2048", "train_size=1024"))
    changed = sweep("list", "smoke", cwd=repo_copy).stdout.split()[0]
    assert changed != first and changed.split("-")[:4] == first.split("-")[:4]  # same run, new values
    planned = make("-n", "runs", cwd=repo_copy, **env).stdout
    assert f"sweep run smoke {changed}" in planned and f"sweep run smoke {first}" not in planned


def test_status_says_where_each_run_stands(tmp_path):
    env = {**os.environ, "LTH_RUNS": str(tmp_path)}
    configs = {r.name: r.config for r in runs.of_preset("smoke")}
    names = list(configs)
    done, failed, interrupted, damaged = (tmp_path / runs.run_id(configs[n]) for n in names[:4])
    for folder in (done, failed, interrupted, damaged):
        folder.mkdir()
    for folder in (done, damaged):  # what a completed run holds, readable
        for name in store.files(configs[names[0]]):
            torch.save({}, folder / name) if name.endswith(".pt") else (folder / name).write_text("{}")
        (folder / "completed").touch()
    (damaged / "round_1.pt").write_bytes((damaged / "round_1.pt").read_bytes()[:100])  # cut short by a copy
    (failed / "run.json").write_text(json.dumps({"status": "FAILED", "fail_trace": ["Traceback\n", "ValueError: bad\n"]}))
    (interrupted / "run.json").write_text(json.dumps({"status": "RUNNING"}))  # killed: nobody holds its lock
    (interrupted / "rewind.pt").touch()
    for i in range(3):
        (interrupted / f"round_{i}.pt").touch()
    (interrupted / "checkpoint.json").write_text(json.dumps({"stage": "round 3", "epoch": 0}))
    p = sweep("status", "smoke", env=env)
    assert p.returncode == 0, p.stderr
    lines = {line.split()[0]: line for line in p.stdout.splitlines()}
    assert lines[names[0]].split()[1] == "done"
    assert lines[names[1]].split()[1] == "failed" and lines[names[1]].endswith("ValueError: bad")
    assert "interrupted" in lines[names[2]] and "round 3 of 3, epoch 1 of 1" in lines[names[2]]
    assert lines[names[3]].split()[1:3] == ["damaged", "1"] and "(round_1.pt: File is not a zip file)" in lines[names[3]]
    assert lines[names[3]].endswith(f"`python -m experiments.sweep run smoke {damaged.name}` computes them anew")
    n = len(runs.every("smoke"))  # the LTR runs, the extra metrics' and the reinitialisations
    assert p.stdout.splitlines()[-1] == f"total: {n} runs: 1 done, 1 damaged, 1 interrupted, 1 failed, {n - 4} missing"


def test_a_figure_of_an_incomplete_sweep_stops_with_how_many_are_missing(tmp_path):
    from lth.report import analysis

    with pytest.raises(analysis.MissingRuns, match=r"^\d+ of the \d+ runs this needs have not completed .* "
                                                   r"run `make PRESET=smoke runs`"):
        analysis.load_runs(tmp_path, "smoke")


def test_plan_prices_every_setting_from_a_timed_epoch_and_the_disk_its_runs_need(tmp_path):
    p = sweep("plan", "smoke", env={**os.environ, "LTH_RUNS": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "CPU-hours" in lines[0] and "disk GB" in lines[0] and lines[-2].startswith("total")
    rows = {line.split()[0]: line.split() for line in lines[1:-2]}
    lenet = rows["lenet_300_100_fashion_mnist"]
    n = 14 + 2  # 7 metrics x 2 seeds, and the extra metric's 2 seeds
    assert int(lenet[1]) == n and float(lenet[2].replace(",", "")) == n * 4 * (16 - 4) / 16 + n * 4 / 16
    assert float(lenet[3]) > 0 and int(rows["resnet8_16_fashion_mnist"][1]) == 14 + 3  # with the reinit's reruns
    disk = sum(cost.disk("smoke").values())
    assert float(lines[-2].split()[-1]) == round(disk / 1e9, 2) > 0
    assert re.fullmatch(rf"disk: {disk / 1e9:.2f} GB still to write under {tmp_path}, [0-9.]+ GB free there: fits",
                        lines[-1]), lines[-1]


def test_a_run_folder_holds_what_the_plan_says_to_within_a_percent(tmp_path):
    from experiments import imp

    record = runs.of_preset("smoke", ["magnitude"])[-1]  # resnet8_16: many small tensors
    assert imp.run(record.config, tmp_path, record).status == "COMPLETED"
    held = sum(f.stat().st_size for f in record.folder(tmp_path).glob("*.pt"))
    assert abs(cost.stored_bytes(record.config) / held - 1) < 0.01


def test_runs_that_cannot_fit_on_the_disk_are_refused_before_the_first_starts(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True, text=True)
    if p.returncode:
        pytest.skip(f"cannot mount a small tmpfs: {p.stderr.strip()}")
    try:
        first = runs.of_preset("smoke")[0]
        p = sweep("run", "smoke", first.id, env={**os.environ, "LTH_RUNS": str(disk)})
        assert p.returncode == 1 and not any(disk.iterdir()), p.stdout + p.stderr
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
        assert re.match(rf"PRESET=smoke disk: [0-9.]+ GB still to write under {disk}, 0.00 GB free there: does not fit",
                        p.stderr), p.stderr
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_plan_times_an_epoch_smaller_than_a_batch_as_the_one_short_batch_it_is(monkeypatch):
    batches = []
    real_train = cost.train
    monkeypatch.setattr(cost, "train", lambda model, data, hp, **kw: batches.append(hp.batch_size)
                        or real_train(model, data, hp, **kw))
    rehearsal = presets.get("rehearsal").settings["lenet_300_100_mnist"]
    cost.seconds_per_epoch(config.Config.of(rehearsal), "cpu", iterations=2)
    assert rehearsal["batch_size"] == 128 and batches == [64, 64]  # its 64 images, not a batch of 128


# --- A real Slurm cluster (tests/slurm_cluster.py): submit, requeue, cancel ---

def wait(condition, what, timeout=600):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def squeue():
    out = subprocess.run(["squeue", "--noheader", "--array", "--format=%i %T"], capture_output=True, text=True).stdout
    return dict(line.split() for line in out.splitlines())


def test_a_preset_on_slurm_completes_and_a_cancelled_job_is_submitted_again(slurm, tmp_path, make):
    env = dict(LTH_RUNS=str(tmp_path / "runs"), PRESET="smoke", LAUNCHER="slurm", FIGS=str(tmp_path / "figures"))
    p = make("figure4", **env)  # submits everything, then stops: the runs are not done
    n = len(runs.every("smoke"))
    assert p.returncode != 0 and f"{n} runs submitted to Slurm now" in p.stdout, p.stdout + p.stderr
    # (the first jobs may have completed already: a smoke run takes seconds)
    assert re.search(rf"\b[1-9]\d* of the {n} runs of PRESET=smoke have not completed", p.stderr), p.stderr
    again = make("runs", **env)  # nothing is submitted twice
    assert again.returncode == 0 and "0 runs submitted to Slurm now" in again.stdout, again.stdout + again.stderr
    tickets = {r.id for r in runs.groups("smoke")["ticket"]}  # the reinitialisation waits for these
    pending = {job: state for job, state in squeue().items() if state == "PENDING"}
    others = [r.folder(tmp_path / "runs") for r in runs.of_preset("smoke") if r.id not in tickets]
    folder = next(f for f in reversed(others) if (f / "slurm_job").read_text().strip() in pending)
    job = (folder / "slurm_job").read_text().strip()
    subprocess.run(["scancel", job], check=True)
    wait(lambda: job not in squeue(), "the cancelled job to leave the queue")
    wait(lambda: not squeue(), "the other jobs", timeout=900)
    status = sweep("status", "smoke", env={**os.environ, **env}).stdout
    assert status.splitlines()[-1] == f"total: {n} runs: {n - 1} done, 1 missing", status
    p = make("runs", **env)
    assert "1 runs submitted to Slurm now" in p.stdout, p.stdout + p.stderr
    wait(lambda: store.is_completed(folder), "the resubmitted run")
    assert sweep("status", "smoke", env={**os.environ, **env}).stdout.splitlines()[-1] == f"total: {n} runs: {n} done"
    logs = list((tmp_path / "runs" / "slurm").glob("*_log.out"))
    assert len(logs) == n  # one per job that ran (the cancelled one never started), where docs/cluster.md says


def test_a_job_requeued_mid_round_resumes_to_the_tickets_of_a_local_run(slurm, tmp_path):
    from experiments import slurm as launcher

    config = dict(presets.PRESETS["smoke"]["settings"]["lenet_300_100_fashion_mnist"], train_size=60000, epochs=2,
                  rewind_iter=50, rounds=3, importance="l1")
    run_id, runs_dir = runs.run_id(config), tmp_path / "slurm_runs"
    record = runs.Run("lenet_300_100_fashion_mnist", config)
    [job] = launcher.submit("smoke", [record], runs_dir).values()
    folder = runs_dir / run_id
    wait(lambda: (store.progress(folder) or {}).get("stage") == "round 1", "the job to be in round 1")
    subprocess.run(["scontrol", "requeue", job], check=True)
    # Pending again, it starts once its old credential has expired (5 s here), as a preempted job does; forcing
    # it earlier races that expiry and Slurm ends the job ("Job credential revoked").
    wait(lambda: store.is_completed(folder), "the requeued job to complete")
    logs = "".join(p.read_text() for p in (runs_dir / "slurm").glob(f"{job}_0_log.*"))
    assert logs.count(f'Started run with ID "{run_id}"') == 2  # started, requeued, resumed

    local = subprocess.run([sys.executable, str(ROOT / "experiments" / "imp.py"), "with",
                            *[f"{k}={v!r}" for k, v in config.items()]], capture_output=True, text=True,
                           env={**os.environ, "LTH_RUNS": str(tmp_path / "local")})
    assert local.returncode == 0, local.stderr
    for i in range(4):
        a, b = torch.load(folder / f"round_{i}.pt"), torch.load(tmp_path / "local" / run_id / f"round_{i}.pt")
        assert all(torch.equal(a["trained"][n], b["trained"][n]) and torch.equal(a["mask"][n], b["mask"][n]) for n in a["mask"])


def test_a_preset_on_synthetic_data_runs_end_to_end_its_reinitialisation_included(tmp_path, monkeypatch):
    """The rehearsal's path in miniature: the preset writes its datasets under $LTH_DATA/<preset>, and every run,
    the reinitialisation's reruns included, reads them there (real data under $LTH_DATA is never needed)."""
    from experiments import sweep as sweep_

    setting = dict(presets.DEFAULT, dataset="mnist", epochs=2, train_size=256, test_size=64, rounds=2)
    monkeypatch.setitem(presets.PRESETS, "tiny", dict(seeds=[0], metrics=["magnitude", "l1"], settings={"lenet": setting},
                                                      synthetic=dict(train=256, test=64), tickets=dict(
                                                          setting="lenet", metrics=["magnitude", "l1"], round=2,
                                                          reinit_seeds=[1])))
    monkeypatch.setenv("LTH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LTH_RUNS", str(tmp_path / "runs"))
    sweep_.check("tiny", download=False)
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["tiny"]
    sweep_.run("tiny", [r.id for r in runs.every("tiny")])  # LTR runs first, then the reinitialisation
    [reinit] = runs.groups("tiny")["reinit"]
    assert store.is_completed(reinit.folder(tmp_path / "runs"))
    assert all(store.is_completed(r.folder(tmp_path / "runs")) for r in runs.every("tiny"))
    held = sum(f.stat().st_size for f in (tmp_path / "runs").glob("*/*.pt"))  # the reruns' folders and reinit.pt too
    assert abs(sum(cost.disk("tiny").values()) / held - 1) < 0.01


def test_a_request_slurm_refuses_is_one_line_per_setting_and_nothing_is_submitted(slurm, tmp_path, make):
    env = dict(LTH_RUNS=str(tmp_path / "runs"), PRESET="smoke", LAUNCHER="slurm")
    p = make("runs", MEM="1000G", **env)  # more than the test node has
    errors = [line for line in p.stderr.splitlines() if line.strip() and not line.startswith("make")]
    assert p.returncode != 0 and "Traceback" not in p.stderr and len(errors) == 2, p.stdout + p.stderr
    for setting, line in zip(("lenet_300_100_fashion_mnist", "resnet8_16_fashion_mnist"), errors):
        assert line.startswith(f"{setting}: Slurm refuses --mem=1000G --cpus-per-task=1 --time=60: "), line
        assert "Requested node configuration is not available" in line and "set MEM=" in line, line
    assert not squeue() and not list((tmp_path / "runs").glob("*/slurm_job"))
    gres = make("runs", GRES="gpu:a100:1", **env)  # the test node has no GPUs
    errors = [line for line in gres.stderr.splitlines() if line.strip() and not line.startswith("make")]
    assert gres.returncode != 0 and len(errors) == 2 and "Traceback" not in gres.stderr, gres.stdout + gres.stderr
    assert all("Slurm refuses --mem=8G --cpus-per-task=1 --gres=gpu:a100:1 --time=60: " in line for line in errors)
    assert not squeue() and not list((tmp_path / "runs").glob("*/slurm_job"))
    bad = make("runs", CPUS="two", **env)
    errors = [line for line in bad.stderr.splitlines() if line.strip() and not line.startswith("make")]
    assert bad.returncode != 0 and errors == ["CPUS=two (LTH_CPUS) is not valid; valid: CPUs per job, an integer >= 1"]


def test_resources_set_for_one_submission_reach_the_jobs_and_the_array_throttle_holds(slurm, tmp_path, monkeypatch):
    from experiments import slurm as launcher

    records = [r for r in runs.of_preset("smoke") if r.setting == "lenet_300_100_fashion_mnist"][:3]
    monkeypatch.setenv("LTH_RUNS", str(tmp_path))

    def submitted(**overrides):
        for key, value in overrides.items():
            monkeypatch.setenv(f"LTH_{key.upper()}", value)
        return next(iter(launcher.submit("smoke", records, tmp_path).values())).split("_")[0]

    def show(array):
        return subprocess.run(["scontrol", "show", "job", array], capture_output=True, text=True, check=True).stdout

    def cancel(array):
        subprocess.run(["scancel", array], check=True)
        wait(lambda: not any(j.startswith(f"{array}_") for j in squeue()), "the cancelled jobs to leave the queue")

    array = submitted(mem="2000M", cpus="2")  # the test node has 2 CPUs: one such job at a time
    assert "MinMemoryNode=2000M" in show(array) and "NumCPUs=2" in show(array), show(array)
    cancel(array)
    monkeypatch.setenv("LTH_CPUS", "1")  # two of these fit on the node: only the throttle holds the second back
    array = submitted(max_jobs="1")
    try:
        assert "ArrayTaskId=0-2%1 ArrayTaskThrottle=1" in show(array), show(array)
        seen = []

        def held_back():  # one task running, another pending on the throttle, in one view of the queue
            out = subprocess.run(["squeue", "--noheader", "--array", "--format=%i %T %r"], capture_output=True,
                                 text=True).stdout
            seen.append([line.split()[1:] for line in out.splitlines() if line.startswith(f"{array}_")])
            return ["RUNNING", "None"] in seen[-1] and ["PENDING", "JobArrayTaskLimit"] in seen[-1]

        wait(held_back, "a task running and one held back by the throttle", timeout=120)
        assert all(sum(state == "RUNNING" for state, _ in view) <= 1 for view in seen), seen
    finally:
        cancel(array)
