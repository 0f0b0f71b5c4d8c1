"""`make figures` end to end on the tiny `smoke` preset: runs, then every notebook, then files."""

OUTPUTS = {  # notebook -> what it must write
    "table1": ["table1.csv", "table1.md"], "table2": ["table2.csv", "table2.md"],
    "figure2": ["figure2.png", "figure2.pdf"], "figure4": ["figure4.png", "figure4.pdf"],
    "figure8": ["figure8.png", "figure8.pdf"], "figure9": ["figure9.png", "figure9.pdf"],
    "figure10": ["figure10.png", "figure10.pdf"], "collapse": ["collapse.csv", "collapse.md", "collapse_runs.csv"],
    "overlap": ["overlap.csv", "overlap.md", "jaccard.csv"], "figure1": ["figure1.png", "figure1.pdf", "figure1.csv"],
    "figure3": ["figure3.png", "figure3.pdf"], "figure5": ["figure5.png", "figure5.pdf"],
    "figure6": ["figure6.png", "figure6.pdf"], "figure7": ["figure7.png", "figure7.pdf"], "reinit": ["reinit.csv", "reinit.md"],
}


def test_make_figures_runs_what_is_missing_then_renders_every_notebook(tmp_path, make):
    env = dict(LTH_RUNS=str(tmp_path / "runs"), PRESET="smoke", FIGS=str(tmp_path / "figures"))
    p = make("figures", **env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    for notebook, files in OUTPUTS.items():
        assert (tmp_path / "figures" / f"{notebook}.ipynb").stat().st_size > 0, notebook
        for f in files:
            assert (tmp_path / "figures" / f).stat().st_size > 0, f
    assert "| setting" in (tmp_path / "figures" / "table2.md").read_text()
    assert "bitwise equal" in (tmp_path / "figures" / "overlap.ipynb").read_text()
    # A second `make figures` trains nothing and renders nothing.
    again = make("figures", **env)
    assert again.returncode == 0 and "sweep run" not in again.stdout and "papermill" not in again.stdout, again.stdout


def test_unknown_preset_stops_make_with_the_valid_ones(make):
    p = make("figures", PRESET="big")
    assert p.returncode != 0 and "invalid choice: 'big'" in p.stderr and "'small', 'paper', 'smoke', 'rehearsal'" in p.stderr
