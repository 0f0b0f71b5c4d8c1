"""benchmarks/gpu.py (the GPU check) in its CPU quick mode, without Sacred; lth.cost.price, which it and
`sweep plan` price with."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from lth import cost, data, kernels, presets

pytestmark = pytest.mark.slow  # the GPU check's whole path on the CPU (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = list(presets.PAPER)

# Runs the script as the GPU machine would, where Sacred is not installed: importing it fails, and at the end
# no module of it may have been loaded.
WITHOUT_SACRED = """
import runpy, sys
class NoSacred:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "sacred":
            raise ImportError("sacred is not installed on the GPU machine")
sys.meta_path.insert(0, NoSacred())
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
assert not any(m.split(".")[0] == "sacred" for m in sys.modules), "benchmarks/gpu.py imported sacred"
"""


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu")
    p = subprocess.run([sys.executable, "-c", WITHOUT_SACRED, str(ROOT / "benchmarks" / "gpu.py"),
                        "--device", "cpu", "--quick", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    return p, out


def table_rows(stdout):
    """{setting: [cells]} of the Markdown table the script prints last."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in SETTINGS + ["total"]:
            rows[cells[0]] = cells
    return rows


def test_the_quick_check_runs_every_setting_deterministically_and_resumes_bitwise_on_the_cpu(quick):
    p, out = quick
    assert p.returncode == 0, p.stdout + p.stderr
    rows = table_rows(p.stdout)
    assert list(rows) == SETTINGS + ["total"], p.stdout
    for setting in SETTINGS:
        deterministic, resume, errors = rows[setting][2], rows[setting][3], rows[setting][-1]
        assert (deterministic, resume, errors) == ("yes", "yes", "-"), rows[setting]
    assert float(rows["total"][11].replace(",", "")) > 0
    assert (out / "gpu.md").read_text().strip() in p.stdout


def test_the_quick_check_writes_its_table_as_json(quick):
    p, out = quick
    report = json.loads((out / "gpu.json").read_text())
    header = report["header"]
    assert header["device_type"] == "cpu" and header["torch"] and header["mode"] == "quick"
    assert header["unit"] == "CPU-hours" and header["threads"] == 1  # make_deterministic: one thread on the CPU
    assert [r["setting"] for r in report["settings"]] == SETTINGS
    for r in report["settings"]:
        assert r["deterministic"] is True and r["first_difference"] is None, r
        assert r["resume_bitwise"] is True and r["resumed_at_epoch"] == 2, r  # from the end of epoch 2 of 3
        assert r["errors"] == []
        for key in ("s_per_epoch", "s_per_epoch_plain", "s_per_epoch_plain_fast", "ratio", "s_per_test_pass",
                    "memory_gb", "hours"):
            assert isinstance(r[key], float) and math.isfinite(r[key]) and r[key] > 0, (key, r)
        assert r["batch"] == 2 and r["runs"] == len(cost.configs("paper", r["setting"]))
    assert report["total_hours"] == pytest.approx(sum(r["hours"] for r in report["settings"]))


def test_a_subset_of_settings_and_a_bad_name(tmp_path):
    p = subprocess.run([sys.executable, "benchmarks/gpu.py", "--device", "cpu", "--quick", "--out", str(tmp_path),
                        "--settings", "lenet_300_100_mnist"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert list(table_rows(p.stdout)) == ["lenet_300_100_mnist", "total"]
    p = subprocess.run([sys.executable, "benchmarks/gpu.py", "--out", str(tmp_path), "--settings", "lenet"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "unknown setting 'lenet'" in p.stderr


@pytest.mark.parametrize("args, says", [(["--device", "tpu"], "--device tpu is not valid; valid: cpu"),
                                        (["--budget", "0"], "--budget 0 is not valid; valid: seconds > 0")])
def test_a_bad_device_or_budget_is_one_line_naming_what_is_valid(tmp_path, args, says):
    p = subprocess.run([sys.executable, "benchmarks/gpu.py", "--quick", "--out", str(tmp_path), *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and says in p.stderr.splitlines()[-1] and "Traceback" not in p.stderr, p.stderr


def paper_hours_by_hand(setting, per_epoch, per_test):
    """The paper preset's hours of one setting, counted here from docs/paper.md's schedule, not by lth.cost."""
    s = presets.PAPER[setting]
    ipe = math.ceil(data.SHAPES[s["dataset"]][3] / s["batch_size"])
    k, m = s["rewind_iter"], s["epochs"] * ipe
    runs = len(presets.METRICS) * 3  # every metric, seeds 0, 1, 2
    epochs = runs * (k + (s["rounds"] + 1) * (m - k)) / ipe
    tests = runs * (s["rounds"] + 1)
    if setting == "resnet18_tinyimagenet":  # Section 5.1: 3 reinitialisations x 3 metrics rerun LTR to round 15
        epochs += 9 * (k + 16 * (m - k)) / ipe
        tests += 9 * 16
    return (epochs * per_epoch + tests * per_test) / 3600


def test_price_is_the_arithmetic_of_sweep_plan(monkeypatch, capsys):
    from experiments import sweep

    timings = {"lenet_300_100_mnist": (0.5, 0.1), "resnet20_cifar10": (4.0, 0.5), "vgg16_cifar10": (6.0, 0.7),
               "resnet18_tinyimagenet": (20.0, 2.0)}
    rows = cost.price("paper", timings)
    assert [r[0] for r in rows] == SETTINGS
    for setting, runs, _, per_epoch, hours in rows:
        assert per_epoch == timings[setting][0]
        assert hours == pytest.approx(paper_hours_by_hand(setting, *timings[setting]), rel=1e-12)
    assert runs == 21 + 9 and rows[0][1] == 21
    # plan prices with the same function: the same rows from the same seconds, printed as before
    by_model = {presets.PAPER[n]["model"]: t for n, t in timings.items()}
    monkeypatch.setattr(cost, "seconds_per_epoch", lambda config, device: by_model[config["model"]])
    monkeypatch.setattr(kernels, "make_deterministic", lambda portable=False: None)
    assert sweep.plan("paper") == rows
    printed = capsys.readouterr().out.splitlines()
    disk = cost.disk("paper")
    assert printed[1].split() == ["lenet_300_100_mnist", "21", "21,000.0", "18,760", "0.0000", "0.50", f"{rows[0][4]:.2f}",
                                  f"{disk['lenet_300_100_mnist'] / 1e9:.2f}"]
    assert printed[-2].split()[-2:] == [f"{sum(r[4] for r in rows):.2f}", f"{sum(disk.values()) / 1e9:.2f}"]
    assert printed[-1].startswith("disk: ")
    assert cost.price("paper", {"vgg16_cifar10": timings["vgg16_cifar10"]}) == [rows[2]]  # a subset: its rows
