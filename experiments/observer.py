"""Sacred's FileStorageObserver, writing into the run's own folder (named by its record's id, lth.runs) instead of a
numbered one.

- A started run holds the folder's lock until it ends: a second process that starts the same run
  stops at once with one line, and touches nothing.
- A run started again, interrupted or completed, resumes: its record (run.json, metrics.json, ...) and
  ``completed`` are replaced by the new attempt's, while its stored stages and checkpoint stay. So a completed
  run replays its stages in seconds, trains nothing, and computes anew only a file that cannot be read.
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
        self.make_record, self.lock = record, None

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        self.record = self.make_record(config)
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
