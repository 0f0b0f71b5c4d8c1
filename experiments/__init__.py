"""The experiments (imp.py: an LTR run; reinit.py: Section 5.1's partial reinitialisation) and what runs them."""


def start(record, runs_dir=None):
    """Run the run ``record`` (lth.runs) by its experiment, recorded under ``runs_dir`` ($LTH_RUNS by default):
    resumed where it was interrupted, replayed where it has completed. Returns Sacred's Run."""
    from experiments import imp, reinit

    return (imp if record.experiment == "imp" else reinit).run(record.config, runs_dir, record)
