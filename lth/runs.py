"""One identity per run: the folder ``$LTH_RUNS/<run id>/`` named by the config values that change its results.

Make, the analysis, resume and the launchers all find a run through ``run_id``, never by scanning
run folders or by Sacred's counter. The folder holds Sacred's record of the run (config.json,
run.json, metrics.json, info.json, cout.txt), its artifacts (init.pt, rewind.pt, round_<i>.pt),
while it runs a per-epoch checkpoint, and once it has completed an empty file ``completed``.
Deleting the folder, or changing any value that changes results, makes the run missing again.

Plain standard library: the Makefile lists run ids before anything is installed.
"""

import errno
import fcntl
import hashlib
import json
import os
import secrets
import sys
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

from lth import presets

RESULT_KEYS = tuple(presets.DEFAULT)  # every config value that can change a run's results
COMPLETED = "completed"  # the file a run's folder gets when its run has completed
RECORD = ("run.json", "config.json", "metrics.json", "info.json", "cout.txt")  # what Sacred's observer writes
CHECKPOINT = "checkpoint.pt"  # a stage's state at the end of its last epoch, while the run trains
REPOSITORY = Path(__file__).resolve().parents[1]


def default_dir():
    """Where runs are recorded: ``$LTH_RUNS`` (relative to the current directory), or the repository's ``runs/``."""
    return Path(os.environ.get("LTH_RUNS") or REPOSITORY / "runs")


def _digest(values):
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def canonical(config):
    """The result-changing values of ``config``, typed as in ``presets.DEFAULT`` (``lr=1`` is ``lr=1.0``);
    ``init`` becomes a digest of the file's content, so that its path does not matter."""
    values = {k: config.get(k, presets.DEFAULT[k]) for k in RESULT_KEYS}
    for k, default in presets.DEFAULT.items():
        if isinstance(default, float) and isinstance(values[k], int) and not isinstance(values[k], bool):
            values[k] = float(values[k])
    if values["init"] is not None:
        values["init"] = hashlib.sha1(Path(values["init"]).read_bytes()).hexdigest()
    return values


def run_id(config):
    """The run's name: readable model, dataset, metric and seed, then a digest of every result-changing value."""
    v = canonical(config)
    return f"{v['model']}-{v['dataset']}-{v['importance']}-{v['seed']}-{_digest(v)}"


def reinit_id(config):
    """The name of a partial reinitialisation (experiments/reinit.py): the runs whose tickets it starts
    from (by their identity, so that it reruns when their values change), the round and its own seed."""
    runs = presets.runs(config["preset"])
    originals = [run_id(runs[f"{config['setting']}__{m}__{config['seed']}"]) for m in config["metrics"]]
    values = dict(originals=originals, round=config["round"], reinit_seed=config["reinit_seed"])
    return f"reinit-{config['setting']}-{config['seed']}-{config['reinit_seed']}-{_digest(values)}"


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
        return ["run.json", "config.json", "metrics.json", "info.json", "init.pt", "rewind.pt",
                *(round_file(i) for i in range(config["rounds"] + 1))]
    return ["run.json", "config.json", "reinit.pt", "survival.csv"]


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


def is_completed(folder):
    return (Path(folder) / COMPLETED).exists()


class RunLocked(RuntimeError):
    """Another process is running this run."""


def _try_lock(folder, attempts=1):
    """The run's lock file, locked (an exclusive flock, released when the file is closed), or None."""
    f = open(Path(folder) / ".lock", "a+")
    for attempt in range(attempts):
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            time.sleep(0.2 * (attempt + 1 < attempts))
    f.close()
    return None


def lock(folder):
    """Hold the run's lock (an open file; closing it releases it), or raise RunLocked naming the folder.

    It retries for about a second, so that a status query holding the lock for an instant is not
    mistaken for a run in progress."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    f = _try_lock(folder, attempts=5)
    if f is None:
        holder = Path(folder, ".lock").read_text().strip() or "another process"
        raise RunLocked(f"run {Path(folder).name} is already running ({holder} holds {folder}/.lock)")
    f.seek(0)
    f.truncate()
    f.write(f"host {os.uname().nodename}, pid {os.getpid()}\n")
    f.flush()
    return f


def is_running(folder):
    """True while some process holds the run's lock."""
    f = _try_lock(folder)
    if f:
        f.close()
    return f is None


def read_json(path):
    """A JSON file's content, or None where it is missing or was cut short by a kill."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def state(folder):
    """What a run folder says of its run: ``completed``, ``running``, ``failed``, ``interrupted``, or ``missing``.

    ``running`` means a process holds the run's lock now; a run that was killed (its run.json may
    still say RUNNING) is ``interrupted``, and resumes where it stopped when started again.
    """
    folder = Path(folder)
    if is_completed(folder):
        return "completed"
    if not (folder / "run.json").exists():
        return "running" if folder.exists() and is_running(folder) else "missing"
    if is_running(folder):
        return "running"
    record = read_json(folder / "run.json") or {}
    return "failed" if record.get("status") == "FAILED" else "interrupted"


def progress(folder):
    """Where an unfinished run stands: ``{"stage": "round 3", "epoch": 41}`` from its last checkpoint, or None."""
    return read_json(Path(folder) / "checkpoint.json")
