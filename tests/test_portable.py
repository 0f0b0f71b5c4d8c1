"""Portable mode (lth.portable): a run's tickets bitwise the same whatever vector width the CPU offers
above AVX2; run digests, and `make verify` against the committed digests."""

import atexit
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import conftest
from lth import kernels, portable, runs, store

from lth.report import analysis
from lth.kernels import PORTABLE, NotPortable, make_deterministic

pytestmark = pytest.mark.slow  # runs under each vector width, make verify (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "figures" / "smoke" / "digests.csv"
AVX2 = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
HAS_AVX512 = "avx512f" in Path("/proc/cpuinfo").read_text()


def digests(tmp_path, restrictions, *args):
    """Per restriction, the digests of a short run's tickets, each run in a process whose vector width that
    restriction restricts (``conftest.JOBS`` at a time: each uses one thread)."""
    folders, commands = [], []
    for restriction in restrictions:
        folders.append(tmp_path / ("-".join(f"{k}={v}" for k, v in restriction.items()) or "none"))
        env = {k: v for k, v in os.environ.items() if k not in PORTABLE} | restriction | {"LTH_RUNS": str(folders[-1])}
        commands.append(([sys.executable, str(ROOT / "experiments" / "imp.py"), "with", "smoke", "rounds=1", "seed=5",
                          *args], env))
    for i in range(0, len(commands), conftest.JOBS):
        started = [subprocess.Popen(c, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for c, env in commands[i:i + conftest.JOBS]]
        for p in started:
            err = p.communicate(timeout=600)[1]
            assert p.returncode == 0, err[-2000:]
    return [store.read_json(next(folder.iterdir()) / "info.json")["digests"] for folder in folders]


@pytest.mark.parametrize("model", ["lenet_300_100", "resnet8_16"])
def test_portable_tickets_are_bitwise_equal_under_every_restriction_of_the_vector_width(tmp_path, model):
    restrictions = [{}, {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, {"ONEDNN_MAX_CPU_ISA": "AVX2"},
                    {"ATEN_CPU_CAPABILITY": "avx2"}, AVX2]
    found = digests(tmp_path, restrictions, f"model={model}")
    assert all(d == found[0] for d in found) and len(found[0]) == 2


@pytest.mark.skipif(not HAS_AVX512, reason="needs a CPU with AVX-512 to differ from an AVX2 one")
def test_native_tickets_differ_between_avx512_and_avx2_which_is_why_portable_mode_exists(tmp_path):
    native = digests(tmp_path, [{}, AVX2], "model=resnet8_16", "portable=False")
    assert native[0] != native[1]


def test_portable_mode_reads_the_cpus_own_flags_and_refuses_one_without_fma_in_one_line(monkeypatch):
    """The flags of this CPU's CPUID (NumPy's detection), not what ATen reports once told `avx2`; an emulated CPU
    without AVX2 below."""
    assert all(kernels.cpu_features()[f] for f in kernels.NEEDED)  # this machine: AMD EPYC with AVX-512
    monkeypatch.setattr(kernels, "cpu_features", lambda: {"AVX2": True, "FMA3": False})
    with pytest.raises(NotPortable, match=r"^portable=True needs an x86-64 CPU with AVX2 and FMA; this CPU lacks FMA3 "
                                          r"\(run with portable=False: .*\)$"):
        make_deterministic(portable=True)


def test_portable_mode_set_after_a_kernel_ran_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr("torch.backends.cpu.get_cpu_capability", lambda: "AVX512")
    with pytest.raises(NotPortable, match=r"^portable=True must be set before the process's first CPU kernel; this "
                                          r"process runs AVX512 kernels already$"):
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
    monkeypatch.setattr(kernels, "cpu_features", lambda: {})
    with pytest.raises(SystemExit, match=r"^this machine is outside the portable baseline, so its runs cannot be "
                                         r"compared bitwise: portable=True needs"):
        sweep.verify("smoke", COMMITTED)


def test_plan_on_a_machine_outside_the_baseline_says_so_in_one_line(monkeypatch):
    from experiments import sweep

    monkeypatch.setattr(kernels, "cpu_features", lambda: {})
    with pytest.raises(SystemExit, match=r"^this machine is outside the portable baseline, so it cannot time the "
                                         r"preset's kernels: portable=True needs"):
        sweep.plan("smoke")


def test_verify_and_digests_refuse_a_bad_value_in_one_line(make):
    p = make("verify", PRESET="smoke", VERIFY="yes")
    assert p.returncode != 0 and "VERIFY=yes is not valid; valid: all (every run), or unset (a sample)" in p.stderr
    p = subprocess.run([sys.executable, "-m", "experiments.sweep", "digests", "smoke"], capture_output=True, text=True,
                       cwd=ROOT)
    assert p.returncode == 2 and p.stderr.strip().endswith("digests takes one CSV file to write, e.g. "
                                                           "figures/small/digests.csv")


# --- Other CPUs, emulated by Debian's qemu-user: MKL picks its kernels by vendor, ATen trusts what it is told ---

QEMU = shutil.which("qemu-x86_64")
BASELINE = {  # qemu's CPU model: what it is
    "Haswell-v4": "Intel, AVX2 + FMA",
    "EPYC-Rome": "AMD, AVX2 + FMA",
    "Haswell-v4,vendor=AuthenticAMD": "the Intel model relabelled AMD",
}
# The settings each emulated CPU probes: VGG-16 at 1/8 width, ten times the others' emulated time, on the AMD one.
PROBED = {"Haswell-v4": ["lenet_300_100_fashion_mnist", "resnet8_16_fashion_mnist"], "EPYC-Rome": [],
          "Haswell-v4,vendor=AuthenticAMD": ["lenet_300_100_fashion_mnist", "resnet8_16_fashion_mnist"]}
OUTSIDE = "Nehalem"  # Intel, SSE4.2, no AVX
# Each way a process meets the CPU check, on a CPU outside the baseline, as a user types it, and the one line it must
# end on: an experiment (imp.py; reinit.py fails the same way, through observer.fail), the sweep (run; verify and
# plan share sweep.deterministic, their own lines tested natively above and below) and the tests (conftest.py).
ENTRY_POINTS = {
    "imp.py": (["experiments/imp.py", "with", "smoke"], "sacred.utils.SacredError: portable=True needs"),
    "sweep run": (["-m", "experiments.sweep", "run", "smoke", runs.of_preset("smoke")[0].id],
                  "this machine is outside the portable baseline, so these runs cannot run here: portable=True needs"),
    "the tests": (["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_ltr.py"],
                  "ERROR: the tests run portable kernels: portable=True needs"),
}


_STARTED = {}  # name -> (process, its stdout file, its stderr file), once started


def start_emulated(folder):
    """Start every emulated process of this module at once (the emulator takes about a minute to import torch),
    writing into ``folder``: the probe (python -m lth.portable) on each CPU of ``BASELINE``, and each of
    ``ENTRY_POINTS`` on ``OUTSIDE``. tests/conftest.py starts them as soon as the tests are collected, so that their
    minutes of emulation overlap the tests before this module's (which mostly leave one of two cores idle)."""
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE}
    env["LTH_RUNS"] = str(folder / "runs")
    jobs = {cpu: [QEMU, "-cpu", cpu, sys.executable, "-m", "lth.portable", *PROBED[cpu]] for cpu in BASELINE}
    jobs |= {name: [QEMU, "-cpu", OUTSIDE, sys.executable, *args] for name, (args, _) in ENTRY_POINTS.items()}
    for i, (name, cmd) in enumerate(jobs.items()):
        out, err = folder / f"{i}.out", folder / f"{i}.err"
        with open(out, "w") as o, open(err, "w") as e:
            _STARTED[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=o, stderr=e, text=True), out, err
    atexit.register(_stop, folder)


def _stop(folder):
    """At the session's end: kill what is still running (a session stopped early), remove ``folder``."""
    for p, _, _ in _STARTED.values():
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    """Every emulated process of this module (``start_emulated``), finished: {name: (exit status, stdout, stderr)}."""
    if not QEMU:
        if os.environ.get("CI"):
            pytest.fail("qemu-user is not installed (.ci/run installs it: apt-get install qemu-user)")
        pytest.skip("needs Debian's qemu-user (apt-get install qemu-user)")
    if not _STARTED:
        start_emulated(tmp_path_factory.mktemp("emulated"))
    return {name: (p.wait(timeout=1200), out.read_text(), err.read_text()) for name, (p, out, err) in _STARTED.items()}


def lines(text):
    """What a process printed, less the emulator's warnings about CPU features it does not emulate."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith(("qemu-x86_64:", "INFO",
                                                                                           "WARNING"))]


@pytest.mark.parametrize("cpu", BASELINE)
def test_the_probe_gives_the_committed_bits_on_emulated_intel_and_amd_cpus(emulated, cpu):
    """The probe runs every CPU kernel of a run (lth.portable.probe): an LTR run's first rounds of LeNet-300-100,
    ResNet-8-16 and (on the AMD CPU) VGG-16 at 1/8 width, with their 10-output products, and every metric's mask.
    Its digests are the committed ones here, natively, and on each emulated CPU."""
    native = subprocess.run([sys.executable, "-m", "lth.portable", *PROBED[cpu]], cwd=ROOT, capture_output=True,
                            text=True)
    assert native.returncode == 0, native.stdout + native.stderr
    status, out, err = emulated[cpu]
    assert status == 0 and out == native.stdout, f"{cpu} ({BASELINE[cpu]}):\n{out}\n{err[-2000:]}"
    assert len(lines(out)) == len(PROBED[cpu] or portable.committed()) and all(
        line.endswith("bitwise equal to lth/portable_digests.csv") for line in lines(out))


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_entry_point_refuses_an_emulated_cpu_without_avx2_in_one_line(emulated, entry):
    status, out, err = emulated[entry]
    errors = lines(err) if entry != "the tests" else lines(out + err)
    assert status not in (0, -4, 132) and "Traceback" not in err and "Illegal instruction" not in err, err[-3000:]
    assert len([e for e in errors if "portable=True needs" in e]) == 1, errors
    assert errors[-1].startswith(ENTRY_POINTS[entry][1]), errors[-1]
    assert errors[-1].endswith("this CPU lacks AVX2, FMA3 (run with portable=False: its results are bitwise only on "
                               "CPUs like this one)"), errors[-1]


def test_the_probe_refuses_an_unknown_argument_in_one_line():
    p = subprocess.run([sys.executable, "-m", "lth.portable", "--wirte"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr == ("python -m lth.portable takes --write or settings (lenet_300_100_fashion_mnist, "
                                              "resnet8_16_fashion_mnist, vgg16_8_fashion_mnist), not '--wirte'\n")
