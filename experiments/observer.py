"""Sacred's FileStorageObserver, writing into the run's own folder (named by its record's id, lth.runs) instead of a
numbered one.

- A started run holds the folder's lock until it ends: a second process that starts the same run
  stops at once with one line, and touches nothing.
- A completed run is left untouched: ``completed`` is set and the main function returns its result; unless
  a file it should hold cannot be read (lth.store.damage): then it runs again, as an interrupted run resumes,
  and computes that file anew.
- An unfinished attempt's record (run.json, metrics.json, ...) is replaced by the new attempt's,
  while its artifacts and checkpoint stay, so that the run resumes where it stopped.
- JSON files are written atomically, so a kill never leaves a truncated run.json; on a full disk the
  record is not updated (the run stops at its next checkpoint with one line saying so).
"""

import errno
import json
import os
from pathlib import Path

from sacred.observers import FileStorageObserver
from sacred.serializer import flatten
from sacred.utils import SacredError

from lth import store


class RunFolder(FileStorageObserver):
    """``record(config)``: the run's record (lth.runs), kept as ``self.record``."""

    def __init__(self, runs_dir, record):
        super().__init__(runs_dir, copy_sources=False)
        self.make_record, self.lock, self.completed = record, None, False

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        self.record = self.make_record(config)
        _id = self.record.id
        self.dir = str(Path(self.basedir) / _id)
        try:
            self.lock = store.lock(self.dir)
        except store.RunLocked as e:
            raise SacredError(str(e), print_traceback=False) from None
        self.completed = store.is_completed(self.dir)
        if self.completed and (damage := store.damage(self.dir, config)):
            name, why = next(iter(damage.items()))
            print(f"run {_id} has completed but {len(damage)} of its files cannot be read ({name}: {why}): "
                  "running it again, which computes them anew")
            Path(self.dir, store.COMPLETED).unlink()
            self.completed = False
        if self.completed:
            return _id
        for name in store.RECORD:
            Path(self.dir, name).unlink(missing_ok=True)
        return super().started_event(ex_info, command, host_info, start_time, config, meta_info, _id)

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

    def result(self):
        """The recorded result of a completed run."""
        return (store.read_json(Path(self.dir) / "run.json") or {}).get("result")

    # Every event after the start writes only for the attempt that holds the lock and is not done.
    def _active(self):
        return self.lock is not None and not self.completed

    def heartbeat_event(self, *args, **kwargs):
        if self._active():
            super().heartbeat_event(*args, **kwargs)

    def log_metrics(self, *args, **kwargs):
        if self._active():
            super().log_metrics(*args, **kwargs)

    def artifact_event(self, *args, **kwargs):
        if self._active():
            super().artifact_event(*args, **kwargs)

    def completed_event(self, stop_time, result):
        if self._active():
            super().completed_event(stop_time, result)
            Path(self.dir, store.COMPLETED).touch()
        self._release()

    def failed_event(self, fail_time, fail_trace):
        if self._active():
            super().failed_event(fail_time, fail_trace)
        self._release()

    def interrupted_event(self, interrupt_time, status):
        if self._active():
            super().interrupted_event(interrupt_time, status)
        self._release()

    def _release(self):
        if self.lock:
            self.lock.close()
            self.lock = None
