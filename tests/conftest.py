import os
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
