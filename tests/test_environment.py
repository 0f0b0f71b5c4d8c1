"""environment.yml (conda) and requirements.txt (pip) must install the same pinned versions."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return {line.split("==")[0].lower(): line.split("==")[1] for line in lines if "==" in line}


def test_conda_and_pip_pins_agree():
    req = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(req) == pins(pip_section)
    assert all("==" in line for line in req if line), "every requirement is pinned"
    assert pins(req)["torch"] == "2.14.1" and pins(req)["sacred"] == "0.8.7"
    assert int(pins(req)["setuptools"].split(".")[0]) < 81  # Sacred 0.8.7 imports pkg_resources
