"""Portable mode (lth.training.PORTABLE): a run's tickets bitwise the same whatever vector width the CPU offers
above AVX2; run digests, and `make verify` against the committed digests."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lth import analysis, runs, store
from lth.training import PORTABLE, NotPortable, make_deterministic

pytestmark = pytest.mark.slow  # runs under each vector width, make verify (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "figures" / "smoke" / "digests.csv"
AVX2 = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
HAS_AVX512 = "avx512f" in Path("/proc/cpuinfo").read_text()


def digests(tmp_path, restriction, *args):
    """The digests of a short run's tickets, run in a process whose vector width is restricted by ``restriction``."""
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE} | restriction
    env["LTH_RUNS"] = str(tmp_path / "-".join(f"{k}={v}" for k, v in restriction.items()) or "none")
    p = subprocess.run([sys.executable, str(ROOT / "experiments" / "imp.py"), "with", "smoke", "rounds=1", "seed=5",
                        *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    [folder] = Path(env["LTH_RUNS"]).iterdir()
    return store.read_json(folder / "info.json")["digests"]


@pytest.mark.parametrize("model", ["lenet_300_100", "resnet8_16"])
def test_portable_tickets_are_bitwise_equal_under_every_restriction_of_the_vector_width(tmp_path, model):
    restrictions = [{}, {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, {"ONEDNN_MAX_CPU_ISA": "AVX2"},
                    {"ATEN_CPU_CAPABILITY": "avx2"}, AVX2]
    found = [digests(tmp_path, r, f"model={model}") for r in restrictions]
    assert all(d == found[0] for d in found) and len(found[0]) == 2


@pytest.mark.skipif(not HAS_AVX512, reason="needs a CPU with AVX-512 to differ from an AVX2 one")
def test_native_tickets_differ_between_avx512_and_avx2_which_is_why_portable_mode_exists(tmp_path):
    native = [digests(tmp_path, r, "model=resnet8_16", "portable=False") for r in ({}, AVX2)]
    assert native[0] != native[1]


def test_portable_mode_refuses_a_cpu_without_avx2_in_one_line(monkeypatch):
    monkeypatch.setattr("torch.backends.cpu.get_cpu_capability", lambda: "DEFAULT")
    with pytest.raises(NotPortable, match=r"^portable=True needs an x86-64 CPU with AVX2 and FMA.*DEFAULT kernels"):
        make_deterministic(portable=True)


def test_the_smoke_sweeps_digests_are_the_committed_ones(smoke_sweep):
    table = analysis.digests(smoke_sweep, "smoke")
    with open(COMMITTED) as f:
        committed = [(r["run"], int(r["round"]), r["digest"]) for r in csv.DictReader(f)]
    assert list(table.itertuples(index=False, name=None)) == committed
    every = runs.every("smoke", "imp")
    assert len(committed) == sum(r.config["rounds"] + 1 for r in every)


def test_make_verify_says_bitwise_equal_and_names_the_first_round_of_an_altered_run(make, tmp_path):
    env = dict(PRESET="smoke", LTH_RUNS=str(tmp_path / "runs"))
    p = make("verify", **env)
    lines = [line for line in p.stdout.splitlines() if line.endswith("bitwise equal")]
    assert p.returncode == 0 and len(lines) == 2, p.stdout[-2000:] + p.stderr[-2000:]

    rows = list(csv.DictReader(open(COMMITTED)))
    first = runs.of_preset("smoke")[0]
    altered = next(r for r in rows if r["run"] == first.id and r["round"] == "2")
    altered["digest"] = "0" * 16
    (tmp_path / "figures").mkdir()
    with open(tmp_path / "figures" / "digests.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["run", "round", "digest"])
        writer.writeheader()
        writer.writerows(rows)
    p = make("verify", FIGS=str(tmp_path / "figures"), **env)
    assert p.returncode != 0 and f"{first.name}: differs from round 2 on" in p.stdout, p.stdout[-2000:]
    assert "1 of 2 runs of PRESET=smoke differ from the digests in" in p.stderr
    assert not list((tmp_path / "runs").glob("verify-*"))  # each verify removed its scratch folder


def test_verify_on_a_machine_outside_the_baseline_says_so_in_one_line(monkeypatch, tmp_path):
    from experiments import sweep

    monkeypatch.setenv("LTH_RUNS", str(tmp_path))
    monkeypatch.setattr("torch.backends.cpu.get_cpu_capability", lambda: "DEFAULT")
    with pytest.raises(SystemExit, match=r"^this machine is outside the portable baseline, so its runs cannot be "
                                         r"compared bitwise: portable=True needs"):
        sweep.verify("smoke", COMMITTED)


def test_verify_and_digests_refuse_a_bad_value_in_one_line(make):
    p = make("verify", PRESET="smoke", VERIFY="yes")
    assert p.returncode != 0 and "VERIFY=yes is not valid; valid: all (every run), or unset (a sample)" in p.stderr
    p = subprocess.run([sys.executable, "-m", "experiments.sweep", "digests", "smoke"], capture_output=True, text=True,
                       cwd=ROOT)
    assert p.returncode == 2 and p.stderr.strip().endswith("digests takes one CSV file to write, e.g. "
                                                           "figures/small/digests.csv")
