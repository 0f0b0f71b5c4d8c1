"""What the two experiments share: Sacred's FileStorageObserver writing into the run's own folder (named by its
record's id, lth.runs) instead of a numbered one, ``run`` with it, a config hook and failing with one line.

- A started run holds the folder's lock until it ends: a second process starting it stops with one line.
- A run started again resumes: its record (run.json, ...) and ``completed`` are replaced by the new attempt's;
  its stored stages and checkpoint stay, so a completed run replays in seconds.
- JSON files are written atomically; on a full disk the record is not updated (the run stops at its next
  checkpoint with one line).
"""

import errno
import json
import os
from pathlib import Path

from sacred.observers import FileStorageObserver
from sacred.serializer import flatten
from sacred.utils import SacredError

from lth import runs, store


def fail(message):
    """End the run as FAILED with one line, no traceback."""
    raise SacredError(message, print_traceback=False)


def validate_with(ex, check):
    """Make ``check(config)`` ``ex``'s config hook: a value it refuses (ValueError) stops the run with one line,
    before any run folder or training exists."""

    @ex.config_hook
    def validate(config, command_name, logger):
        try:
            check(config)
        except ValueError as e:
            fail(str(e))
        return {}


def folder(run):
    """The RunFolder observer of Sacred's ``run``: the run's folder (``.dir``) and record (``.record``)."""
    found, name = next((o for o in run.observers if isinstance(o, RunFolder)), None), run.experiment_info["name"]
    if found is None:
        fail(f"{name}.py records every run in its own folder: run it as `python experiments/{name}.py with ...` or "
             f"through experiments.{name}.run(config, runs_dir)")
    return found


def run(ex, config, runs_dir=None, record=None):
    """Run the experiment ``ex`` (imp or reinit) with ``config``, recorded under ``runs_dir`` ($LTH_RUNS by default);
    ``record``: its lth.runs record, where the caller has it. Returns Sacred's Run."""
    ex.observers[:] = [RunFolder(runs_dir or runs.default_dir(), record)]
    return ex.run(config_updates=config)


class RunFolder(FileStorageObserver):
    """The run's record (lth.runs: ``record``, or made from the config) is kept as ``self.record``."""

    def __init__(self, runs_dir, record=None):
        super().__init__(runs_dir, copy_sources=False)
        self.record, self.lock = record, None

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        if self.record is None:
            self.record = runs.Run(None, config) if ex_info["name"] == "imp" else runs.Reinit(config)
        self.dir = str(Path(self.basedir) / self.record.id)
        try:
            self.lock = store.lock(self.dir)
        except store.RunLocked as e:
            raise SacredError(str(e), print_traceback=False) from None
        for name in (store.COMPLETED, *store.RECORD):  # complete again only once this attempt completes
            Path(self.dir, name).unlink(missing_ok=True)
        return super().started_event(ex_info, command, host_info, start_time, config, meta_info, self.record.id)

    def _make_run_dir(self, _id):
        os.makedirs(self.dir, exist_ok=True)

    def save_json(self, obj, filename):
        try:
            store.write_atomic(Path(self.dir) / filename, json.dumps(flatten(obj), sort_keys=True, indent=2).encode())
        except store.DiskFull:
            pass  # the run itself stops with one line at its next checkpoint; the record catches up on resume

    def save_cout(self):
        try:
            super().save_cout()
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise

    def completed_event(self, stop_time, result):
        super().completed_event(stop_time, result)
        Path(self.dir, store.COMPLETED).touch()
        self._release()

    # An attempt that did not get the lock has no record to write: the run is another process's.
    def failed_event(self, fail_time, fail_trace):
        if self.lock:
            super().failed_event(fail_time, fail_trace)
        self._release()

    def interrupted_event(self, interrupt_time, status):
        if self.lock:
            super().interrupted_event(interrupt_time, status)
        self._release()

    def _release(self):
        if self.lock:
            self.lock.close()
            self.lock = None
