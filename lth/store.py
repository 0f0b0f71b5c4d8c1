"""A run's folder on disk: the names of its files, each written whole, and what to say of one that cannot be read.

A run's folder (``$LTH_RUNS/<run id>/``, named by lth/runs.py) holds Sacred's record of the run (``RECORD``), its
artifacts (``init.pt``, theta_0; ``rewind.pt``, theta_{0,k}; ``round_<i>.pt``, each round's ticket), while it
trains a per-epoch checkpoint with a summary beside it, once submitted to Slurm its job id, and once it has
completed an empty file ``completed``. Everything that reads or writes a run folder takes these names from here.

Plain standard library: the Makefile lists run ids before anything is installed.
"""

import errno
import fcntl
import json
import os
import secrets
import sys
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

COMPLETED = "completed"  # the file a run's folder gets when its run has completed
RUN, CONFIG, METRICS, INFO = "run.json", "config.json", "metrics.json", "info.json"  # Sacred's record of the run
RECORD = (RUN, CONFIG, METRICS, INFO, "cout.txt")  # what Sacred's observer writes
INIT, REWIND = "init.pt", "rewind.pt"  # theta_0 and theta_{0,k}, the weights every round rewinds to
REINIT, SURVIVAL = "reinit.pt", "survival.csv"  # a partial reinitialisation's new theta_0 and its table
CHECKPOINT = "checkpoint.pt"  # a stage's state at the end of its last epoch, while the run trains
SLURM_JOB = "slurm_job"  # the Slurm job id last submitted for the run (experiments/slurm.py)


def checkpoint_summary(checkpoint):
    """The JSON file beside a checkpoint that says where it stands, readable without torch (``sweep status``)."""
    return Path(checkpoint).with_suffix(".json")


def remove_checkpoint(checkpoint):
    for f in (Path(checkpoint), checkpoint_summary(checkpoint)):
        f.unlink(missing_ok=True)


class DiskFull(OSError):
    """No space left to write a file; a run resumes from its last checkpoint once there is space."""


@contextmanager
def atomic(path):
    """A temporary path beside ``path``, unique to this writer, that becomes ``path`` in one step when the
    block ends: the file is whole or absent, and writers of the same file at once (``make -j``, a Slurm array on a
    shared filesystem) never take each other's temporary file. A full disk raises DiskFull with one line."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(e.errno, f"no space left on the device to write {path}: free some space and start "
                                    "the run again; it resumes from its last checkpoint") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path, data):
    """Write bytes to ``path`` atomically (``atomic``)."""
    with atomic(path) as tmp, open(tmp, "xb") as f:
        f.write(data)


@contextmanager
def exclusive(path, waiting=None):
    """Hold an exclusive inter-process lock (flock on ``path``, created if needed) for the block. A process that
    has to wait prints ``waiting`` once, as one line on stderr."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                print(waiting, file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def round_file(i):
    return f"round_{i}.pt"


def files(config):
    """The files a completed run's folder holds, but for Sacred's captured output: for an LTR run
    (experiments/imp.py, lth/ltr.py) theta_0, theta_{0,k} and every round's ticket; for a partial
    reinitialisation (experiments/reinit.py) its new initialisation and its table."""
    if "rounds" in config:
        return [RUN, CONFIG, METRICS, INFO, INIT, REWIND,
                *(round_file(i) for i in range(config["rounds"] + 1))]
    return [RUN, CONFIG, REINIT, SURVIVAL]


class Damaged(RuntimeError):
    """A stored file of a run cannot be read (cut short by a partial copy, say)."""


def damaged(path, reason):
    """Damaged's one line: the file, why, and what to do."""
    return Damaged(f"{path} cannot be read ({reason}): delete it and start its run again (make does not: "
                   f"`python -m experiments.sweep run PRESET {Path(path).parent.name}`), which computes it anew")


def unreadable(path):
    """Why the stored file ``path`` cannot be read, or None. Cheap: a .pt file must open as the zip archive
    torch.save writes (a file cut short has lost its directory at the end), a .json file must parse."""
    path = Path(path)
    try:
        if path.suffix == ".pt":
            zipfile.ZipFile(path).close()
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif not path.is_file():
            raise FileNotFoundError("missing")
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError, zipfile.BadZipFile) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return one_line(e)
    return None


def one_line(err):
    """An error as one short line (PyTorch's and torchvision's span several)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def damage(folder, config):
    """{file: why} of the files a completed run's folder should hold (``files``) but that cannot be read."""
    return {f: why for f in files(config) if (why := unreadable(Path(folder) / f))}


class RunLocked(RuntimeError):
    """Another process is running this run."""


def lock(folder):
    """Hold the run's lock (an open file: closing it releases it), or raise RunLocked naming its holder. It tries
    for a second, so that a status query testing the lock for an instant is not taken for a run in progress."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    f = open(Path(folder) / ".lock", "a+")
    for attempt in range(5):
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            time.sleep(0.2)
    else:
        f.close()
        holder = Path(folder, ".lock").read_text().strip() or "another process"
        raise RunLocked(f"run {Path(folder).name} is already running ({holder} holds {folder}/.lock)")
    f.seek(0)
    f.truncate()
    f.write(f"host {os.uname().nodename}, pid {os.getpid()}\n")
    f.flush()
    return f


def is_running(folder):
    """True while some process holds the run's lock."""
    try:
        with open(Path(folder) / ".lock") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except FileNotFoundError:
        return False
    except BlockingIOError:
        return True


def is_completed(folder):
    return (Path(folder) / COMPLETED).exists()


def read_json(path):
    """A JSON file's content, or None where it is missing or was cut short by a kill."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def state(folder):
    """What a run folder says of its run: ``completed``, ``running`` (a process holds its lock now), ``missing``,
    ``failed``, or ``interrupted`` (killed, though its run.json may still say RUNNING: started again, it
    resumes where it stopped)."""
    if is_completed(folder):
        return "completed"
    if is_running(folder):
        return "running"
    if not (Path(folder) / RUN).exists():
        return "missing"
    return "failed" if (read_json(Path(folder) / RUN) or {}).get("status") == "FAILED" else "interrupted"


def progress(folder):
    """Where an unfinished run stands: ``{"stage": "round 3", "epoch": 41}`` from its last checkpoint, or None."""
    return read_json(checkpoint_summary(Path(folder) / CHECKPOINT))
