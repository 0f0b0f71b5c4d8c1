import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lth import kernels, presets

# Runs are portable by default, and portable mode must be set before a process's first CPU kernel: this test
# process runs many in-process runs after other tests' kernels, and its subprocesses inherit the setting.
os.environ.update(kernels.PORTABLE)
ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = os.environ.get("LTH_DATA", str(ROOT / "data"))

# The fast tier, `make check` (pytest -m "not slow"), tests the method: metrics, pruning, the LTR loop, training,
# determinism, config and identity. Slow: a test that builds the smoke sweep, runs make or Slurm (these fixtures),
# or is marked so (`pytestmark` in a module, `@pytest.mark.slow` on a test).
SLOW_FIXTURES = {"smoke_sweep", "make", "repo_copy", "slurm"}


def pytest_configure(config):
    """On a CPU outside the portable baseline, stop with one line before any test module runs a kernel (the first
    would die on an instruction the CPU lacks)."""
    try:
        kernels.check_cpu()
    except kernels.NotPortable as e:
        raise pytest.UsageError(f"the tests run portable kernels: {e}") from None


def pytest_collection_finish(session):
    """Where the emulated-CPU tests will run (tests/test_portable.py), start their processes now, in the background."""
    emulated = [item for item in session.items if "emulated" in item.fixturenames]
    if emulated and shutil.which("qemu-x86_64"):
        emulated[0].module.start_emulated(Path(tempfile.mkdtemp(prefix="lth-emulated-")))


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _presets_resolved_anew():
    """A test may change ``lth.presets.PRESETS`` (monkeypatch): the tests after it resolve the presets anew."""
    yield
    presets.get.cache_clear()


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real Fashion-MNIST (downloaded, or Debian's dataset-fashion-mnist)."""
    from lth import data

    try:
        return data.load("fashion_mnist", DATA_ROOT)
    except data.DatasetNotFound as e:
        pytest.fail(f"{e} (the README's set-up installs it)")


@pytest.fixture
def make():
    """``make(*args, cwd=ROOT, **env)``: the repository's make, as a user would type it (not as a sub-make of
    `make test`, whose job server is not for it to share), output captured."""
    outer = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")

    def run(*args, cwd=ROOT, **env):
        environment = {k: v for k, v in os.environ.items() if k not in outer} | env
        return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=environment, capture_output=True,
                              text=True, timeout=1800)

    return run


@pytest.fixture
def repo_copy(tmp_path):
    """A copy of the repository's code (``copy_repository``)."""
    return copy_repository(tmp_path / "repo")


def copy_repository(copy):
    """A copy of the repository's code (lth/, experiments/, notebooks/, the Makefile; not its runs or data)
    with this checkout's .venv: `python -m`, make and the notebooks run from it import the copy's code."""
    for name in ("lth", "experiments", "notebooks"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "pyproject.toml", "requirements.txt"):
        shutil.copy2(ROOT / name, copy / name)  # with its time: .venv/.installed stays newer
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory):
    """Every run of the `smoke` preset, made once per session as `make PRESET=smoke runs` makes them, in a process
    per core rather than one per run (``run_preset``; make's own way is tested in tests/test_sweep.py and by every
    make target the tests run): the runs folder."""
    runs = tmp_path_factory.mktemp("smoke") / "runs"
    env = dict(LTH_RUNS=str(runs))
    subprocess.run([sys.executable, "-m", "experiments.sweep", "check", "smoke"], cwd=ROOT, env=os.environ | env,
                   check=True, capture_output=True)
    p = run_preset("smoke", ROOT, env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return runs


JOBS = os.cpu_count() or 1  # processes at once where a test runs many (each run and notebook uses one thread)


def run_preset(preset, cwd, env):
    """Every run of ``preset`` that `make figures` needs (not the regime study's), from the repository (or copy) in
    ``cwd``, as `make -j` runs them: its LTR runs in ``JOBS`` `sweep run` processes at once, then Section 5.1's
    reinitialisations, which read those runs' tickets. As one completed process (``_together``), stopping at the
    first stage that fails."""
    sweep = [sys.executable, "-m", "experiments.sweep"]
    tagged = subprocess.run([*sweep, "list", preset, "--tagged"], cwd=cwd, env=os.environ | env, check=True,
                            capture_output=True, text=True).stdout.split()
    ids = {g: list(dict.fromkeys(t.split(":", 1)[1] for t in tagged if t.split(":")[0] in groups))
           for g, groups in (("imp", ("run", "magnitude", "ticket", "extra")), ("reinit", ("reinit",)))}
    for stage in ([ids["imp"][i::JOBS] for i in range(JOBS)], [ids["reinit"]]):
        if (done := _together([[*sweep, "run", preset, *part] for part in stage if part], cwd, env)).returncode:
            break
    return done


def _together(commands, cwd, env):
    """``commands`` run at once, their output in files (a full pipe would stall one): one completed process, the
    first non-zero exit status (else 0) with every command's output, one after the other."""
    started = []
    for c in commands:
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        started.append((subprocess.Popen(c, cwd=cwd, env=os.environ | (env or {}), stdout=out, stderr=err, text=True),
                         out, err))
    codes, outs, errs = [], [], []
    for p, out, err in started:
        codes.append(p.wait(timeout=1800))
        out.seek(0), err.seek(0)
        outs.append(out.read()), errs.append(err.read())
    return subprocess.CompletedProcess(commands, next((c for c in codes if c), 0), "".join(outs), "".join(errs))


# Every notebook of `make figures`, executed as papermill executes each in a kernel of its own (its code cells in
# order, the parameters cell replaced by the preset's values), ``JOBS`` processes at once, each executing its share
# of the notebooks one after the other: the notebooks' code on a preset's runs, without a kernel's start per notebook.
# `make figures` itself is tested at full size on the smoke preset.
RENDER = """
import json, sys
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
from matplotlib import pyplot
preset, runs_dir, figures_dir, *names = sys.argv[1:]
for name in names:
    namespace = {}
    for cell in json.loads(Path("notebooks", name + ".ipynb").read_text())["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell["metadata"].get("tags", []):
            namespace.update(preset=preset, runs_dir=runs_dir, figures_dir=figures_dir)
        elif cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"notebooks/{name}.ipynb", "exec"), namespace)
    pyplot.close("all")
"""


def render(notebooks, preset, runs_dir, figures_dir, cwd=ROOT, env=None):
    """``notebooks`` (names) of ``preset`` on the runs in ``runs_dir``, into ``figures_dir``, in ``JOBS`` processes
    run in ``cwd`` (a repository or its copy), as one completed process (``_together``)."""
    return _together([[sys.executable, "-c", RENDER, preset, str(runs_dir), str(figures_dir), *notebooks[i::JOBS]]
                      for i in range(JOBS) if notebooks[i::JOBS]], cwd, env)
