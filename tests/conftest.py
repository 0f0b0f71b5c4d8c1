import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = os.environ.get("LTH_DATA", str(ROOT / "data"))


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
