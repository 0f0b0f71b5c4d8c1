"""The documentation stays true: README.md and docs/*.md have their generated blocks as the code gives them now
(`make docs`), their relative links lead somewhere, and every example in them runs.

An example is a fenced code block: ```bash is run as a shell script, ```python as a script, ```console as `$ `
commands whose output must match what follows them (a line `...` stands for any lines), each in a copy of the
repository whose runs folder holds the smoke sweep. A ```python block that starts with `# <name>.py` is a module:
it is written there for the blocks after it. A block preceded by `<!-- not run: why -->` is not run and is
listed; ```text blocks are output or listings, not commands. A page's blocks run in order in one copy, as a
reader would type them.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from lth import presets
from lth.report import docs

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S)
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->\s*$")
RUN = ("bash", "python", "console")
SHOWN = ("text", "")  # output and listings


def examples(page):
    """(line, language, code, why it is not run or None) of every fenced block of ``page``."""
    text = (ROOT / page).read_text()
    out = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").splitlines()
        why = NOT_RUN.search(before[-1]) if before else None
        code = "\n".join(line.removeprefix(m["indent"]) for line in m["body"].splitlines())
        out.append((text[:m.start()].count("\n") + 1, m["lang"], code, why and why[1]))
    return out


def test_every_block_is_run_shown_or_says_why_not():
    run, skipped = 0, []
    for page in docs.PAGES:
        for line, lang, code, why in examples(page):
            assert lang in RUN + SHOWN or why, f"{page}:{line}: ```{lang} is neither run nor marked <!-- not run -->"
            run += lang in RUN and not why
            if why:
                skipped.append(f"{page}:{line} ({why})")
    print(f"{run} blocks run by test_every_example_of_the_page_runs, {len(skipped)} not run:", *skipped, sep="\n  ")


LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


@pytest.mark.parametrize("page", docs.PAGES)
def test_relative_links_lead_to_a_file_and_anchors_to_a_heading(page):
    text = (ROOT / page).read_text()
    for target, anchor in LINK.findall(text):
        if re.match(r"\w+://|mailto:", target):
            continue
        path = (ROOT / page).parent / target
        assert path.exists(), f"{page}: link to {target}, which does not exist"
        if anchor and path.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor[1:] in slugs, f"{page}: link to {target}{anchor}, which has no such heading"


@pytest.mark.parametrize("page", docs.PAGES)
def test_generated_blocks_are_what_make_docs_writes_now(page):
    for name, content in docs.blocks((ROOT / page).read_text()):
        if name in docs.MEASURED:
            continue
        assert content.strip("\n") == docs.render(name), f"{page}: block {name} is stale: run `make docs`"


def test_measured_blocks_count_what_the_code_counts_now():
    """Of a measured block, what does not depend on the machine: the runs each target needs, a plan's runs, epochs
    and disk. The measurement itself is what `make docs` last wrote, with its date and machine."""
    from lth import cost

    seen = set()
    for page in docs.PAGES:
        for name, content in docs.blocks((ROOT / page).read_text()):
            if name not in docs.MEASURED:
                continue
            seen.add(name)
            assert content.strip().startswith("Measured ") and " by `make docs`" in content, f"{page}: {name}"
            if name == "targets":
                expected = [[f"| {cell}", title, str(len(ids))] for cell, title, ids in docs._targets_rows()]
            else:
                preset = name.removeprefix("plan-")
                disk = cost.disk(preset)
                epochs = {s: sum(map(cost.epochs, cost.configs(preset, s))) for s in disk}
                rows = [(s, str(len(cost.configs(preset, s))), f"{epochs[s]:,.1f}", f"{disk[s] / 1e9:.2f}") for s in disk]
                expected = rows + [("total", str(sum(int(r[1]) for r in rows)), f"{sum(epochs.values()):,.1f}",
                                    f"{sum(disk.values()) / 1e9:.2f}")]
            assert docs.stable(name, content) == expected, f"{page}: block {name} is stale: run `make docs`"
    assert seen == set(docs.MEASURED)


def test_a_stale_block_is_caught_and_make_docs_mends_it(tmp_path):
    text = "a\n<!-- generated: presets -->\nold\n<!-- end -->\nb <!-- generated: quickstart-run -->x<!-- end -->\n"
    [(_, old), (_, inline)] = docs.blocks(text)
    assert old.strip() != docs.render("presets")
    mended = docs.fill(text, {n: docs.render(n) for n, _ in docs.blocks(text)})
    assert dict(docs.blocks(mended)) == {"presets": "\n" + docs.render("presets") + "\n",
                                         "quickstart-run": docs.render("quickstart-run")}
    assert mended.startswith("a\n<!-- generated: presets -->\n| preset") and mended.endswith("<!-- end -->\n")


def test_the_readme_routes_in_at_most_8000_characters():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 8000, len(readme.encode())
    for page in docs.PAGES[1:]:
        assert f"({page})" in readme, f"the README's index does not link {page}"


# --- Every example runs ---

@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, smoke_sweep):
    """A copy of the repository's tracked files with this checkout's .venv, and a copy of the smoke sweep."""
    def make():
        base = tmp_path_factory.mktemp("docs")
        copy = base / "repo"
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.split()
        for name in files:
            if (ROOT / name).is_file():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, copy / name)
        (copy / ".venv").symlink_to(ROOT / ".venv")
        shutil.copytree(smoke_sweep, copy / "runs", symlinks=True)
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "LTH_RUNS")}
        env |= dict(PYTHONPATH=str(copy), LTH_DATA=docs.config.data_dir(), PATH=f"{copy / '.venv' / 'bin'}:{env['PATH']}")
        return copy, env

    return make


def run_block(lang, code, cwd, env):
    if lang == "python" and re.match(r"# ([\w/]+\.py)", code):
        (cwd / re.match(r"# ([\w/]+\.py)", code)[1]).write_text(code + "\n")
        return
    if lang == "console":
        for command, expected in re.findall(r"^\$ (.+)\n((?:(?!\$ ).*\n?)*)", code, re.M):
            p = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
            assert p.returncode == 0, f"$ {command}\n{p.stdout[-2000:]}{p.stderr[-2000:]}"
            pattern = "".join(".*?\n" if line == "..." else re.escape(line) + r" *\n"
                              for line in expected.rstrip("\n").splitlines())
            assert re.fullmatch(pattern, p.stdout, re.S), f"$ {command}: expected\n{expected}\ngot\n{p.stdout}"
        return
    command = ["bash", "-euo", "pipefail", "-c", code] if lang == "bash" else ["python", "-c", code]
    p = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, f"```{lang}\n{code}\n```\n{p.stdout[-3000:]}{p.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("page", docs.PAGES)
def test_every_example_of_the_page_runs(page, sandbox):
    blocks = [(line, lang, code) for line, lang, code, why in examples(page) if lang in RUN and not why]
    if not blocks:
        pytest.skip(f"{page} has no example to run")
    cwd, env = sandbox()
    for line, lang, code in blocks:
        try:
            run_block(lang, code, cwd, env)
        except AssertionError as e:
            raise AssertionError(f"{page}:{line}: {e}") from None


def test_the_readme_says_what_the_committed_results_cover():
    """Every setting of the small preset with the paper's setting it stands for, and the paper's gaps split into
    judged, beyond our rounds and not run, adding up."""
    text = docs.coverage()
    for setting in presets.get("small").settings.values():
        assert f"to round {setting.rounds} (for " in text
    every, judged, beyond, other = map(int, re.search(r"paper's (\d+) gaps .*?, (\d+) are at .*?, (\d+) beyond .*?\), "
                                                      r"(\d+) on settings", text).groups())
    assert judged + beyond + other == every and judged > 0


def test_the_coverage_names_the_claims_no_clause_of_which_is_judged():
    claims = pd.DataFrame(dict(claim=["a", "b", "c"], **{"clauses judged": [3, 0, 0]}))
    assert docs._unjudged(claims) == " No clause of 2 claims is judged at this scale: b; c."
    assert docs._unjudged(claims.iloc[:1]) == docs._unjudged(claims.drop(columns="clauses judged")) == ""
