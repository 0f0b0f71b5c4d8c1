"""The house's plan, from its own imports: the method (lth/) apart from the reporting (lth/report/), the
experiments on top, no import circle, and the method free of the reporting's libraries."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORTING_LIBRARIES = ("pandas", "matplotlib", "seaborn", "sacred", "papermill", "tabulate")


def modules():
    """{module name: its file} of lth, lth.report and experiments."""
    found = {}
    for path in [*(ROOT / "lth").rglob("*.py"), *(ROOT / "experiments").glob("*.py")]:
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path, known):
    """Every module ``path`` imports, at its top or inside a function: of ``known`` by name, and the others' top
    package."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:  # a module of the package, or one of its names
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names]
        else:
            continue
        for name in names:
            while name not in known and "." in name:
                name = name.rsplit(".", 1)[0]
            out.add(name)
    return out


def layer(module):
    return "experiments" if module.startswith("experiments") else "report" if module.startswith("lth.report") else \
        "method"


def graph():
    known = modules()
    return {m: {i for i in imports(path, known) if i != m and i not in ("lth", "lth.report")}
            for m, path in known.items()}


def test_the_method_imports_neither_the_reporting_nor_its_libraries_nor_the_experiments():
    g = graph()
    for m, found in g.items():
        if layer(m) == "method":
            assert not {i for i in found if i in g and layer(i) != "method"}, m
            assert not found & set(REPORTING_LIBRARIES), m
        if layer(m) == "report":
            assert not {i for i in found if i in g and layer(i) == "experiments"}, m


def test_no_import_circle():
    g, done, path = graph(), set(), []

    def visit(m):
        if m in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(m):] + [m]))
        if m in done or m not in g:
            return
        path.append(m)
        for i in sorted(g[m]):
            visit(i)
        path.pop()
        done.add(m)

    for m in sorted(g):
        visit(m)


def test_an_ltr_run_loads_no_pandas():
    code = ("import sys, lth.ltr, lth.runs, lth.config, lth.cost, lth.portable; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {REPORTING_LIBRARIES!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_circle_and_a_reporting_import_are_caught(tmp_path, monkeypatch):
    """The walk itself: a constructed package with a circle through a function-level import."""
    known = {"lth.a": tmp_path / "a.py", "lth.b": tmp_path / "b.py"}
    known["lth.a"].write_text("from lth import b\n")
    known["lth.b"].write_text("def f():\n    from lth.a import g\n    import pandas\n")
    assert imports(known["lth.a"], known) == {"lth.b"}
    assert imports(known["lth.b"], known) == {"lth.a", "pandas"}
