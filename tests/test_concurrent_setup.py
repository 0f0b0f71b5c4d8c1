"""Several processes that set up one dataset at once, from an empty folder (`make -j`, a Slurm array on a shared
filesystem): all succeed and read the same files; one that waits says so; a bad or cut-short download fails cleanly.

Each process imports everything first, then waits for the test's signal, so that they start preparing together.
"""

import functools
import hashlib
import http.server
import os
import threading
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lth import data, prepare, store, synthetic

pytestmark = pytest.mark.slow  # processes at once, archives over HTTP (tests/conftest.py)

PROCESSES = 4
LOAD = """
import hashlib, sys, time
from pathlib import Path
from lth import data, prepare
name, root, url, md5, go = sys.argv[1:]
if url:
    prepare.ARCHIVES[name] = (url, md5)
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.005)
d = data.load(name, root, download=bool(url))
h = hashlib.sha1()
for t in (d.train_x, d.train_y, d.test_x, d.test_y):
    h.update(t.numpy().tobytes())
print(h.hexdigest(), len(d.train_y), len(d.test_y), flush=True)
"""


@pytest.fixture
def server(tmp_path):
    """``server(name, n_train, n_test)``: (URL, md5) of a synthetic archive of dataset ``name``, served over HTTP on
    localhost as the real archive is on the internet."""
    folder = tmp_path / "server"
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.handle_error = lambda *args: None  # torchvision's redirect probe hangs up before the body
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def archive(name, n_train, n_test):
        path, md5 = synthetic.archive(name, folder, n_train, n_test)
        return f"http://127.0.0.1:{httpd.server_port}/{path.name}", md5

    yield archive
    httpd.shutdown()
    httpd.server_close()


def digest(d):
    h = hashlib.sha1()
    for t in (d.train_x, d.train_y, d.test_x, d.test_y):
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def start(name, root, url="", md5="", go=None):
    return subprocess.Popen([sys.executable, "-c", LOAD, name, str(root), url, md5, str(go)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def load_at_once(name, root, tmp_path, url="", md5=""):
    """PROCESSES processes loading ``name`` from ``root`` at the same moment: their (exit code, stdout, stderr)."""
    go = tmp_path / "go"
    procs = [start(name, root, url, md5, go) for _ in range(PROCESSES)]
    for p in procs:
        assert p.stdout.readline() == "ready\n", p.communicate()[1][-3000:]
    go.touch()
    return [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in procs]


def assert_all_read_the_same(results, name, root, expected, n_train, n_test):
    """Every process loaded the same tensors; one that waited said so once, in one line."""
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert out.split() == [expected, str(n_train), str(n_test)]
        waits = [line for line in err.splitlines() if "waiting" in line]
        assert waits in ([], [f"waiting for another process to prepare {name} in {root}"]), err


def leftovers(root):
    """Temporary files or folders left anywhere under ``root``."""
    return [p for p in Path(root).rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".partial-")]


@pytest.mark.skipif(not prepare.FASHION_MNIST_LOCAL.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_processes_copying_debians_fashion_mnist_at_once_all_read_it(tmp_path):
    root = tmp_path / "data"
    results = load_at_once("fashion_mnist", root, tmp_path)
    expected = digest(data.load("fashion_mnist", root, download=False))
    assert_all_read_the_same(results, "fashion_mnist", root, expected, 60000, 10000)
    assert not leftovers(root)


@pytest.mark.parametrize("name", ["cifar10", "tinyimagenet"])
def test_processes_downloading_one_archive_at_once_all_read_it(tmp_path, server, name):
    url, md5 = server(name, 40, 20)
    root = tmp_path / "data"
    results = load_at_once(name, root, tmp_path, url, md5)
    expected = digest(data.load(name, tmp_path / "server" / f"{name}-images", download=False))
    assert_all_read_the_same(results, name, root, expected, 40, 20)
    assert not leftovers(root)


def test_a_process_that_waits_says_so_in_one_line_then_loads(tmp_path, server):
    url, md5 = server("cifar10", 20, 10)
    root = tmp_path / "data"
    go = tmp_path / "go"
    go.touch()
    with store.exclusive(root / ".cifar10.lock"):  # another process is preparing CIFAR-10 here
        p = start("cifar10", root, url, md5, go)
        assert p.stdout.readline() == "ready\n"
        assert p.stderr.readline() == f"waiting for another process to prepare cifar10 in {root}\n"
        time.sleep(0.2)
        assert p.poll() is None and not (root / prepare.FOLDERS["cifar10"]).exists()
    code, out, err = p.wait(timeout=120), p.stdout.read(), p.stderr.read()
    assert code == 0 and out.split()[1:] == ["20", "10"] and "waiting" not in err


@pytest.mark.parametrize("name", ["cifar10", "tinyimagenet"])
def test_a_cut_short_download_is_refused_by_its_md5_and_leaves_nothing(tmp_path, server, monkeypatch, name):
    url, md5 = server(name, 20, 10)
    archive = tmp_path / "server" / Path(url).name
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    monkeypatch.setitem(prepare.ARCHIVES, name, (url, md5))
    with pytest.raises(data.DatasetNotFound) as info:
        data.load(name, tmp_path / "data")
    assert "(download failed: File not found or corrupted.)" in str(info.value)
    assert [p.name for p in (tmp_path / "data").iterdir()] == [f".{name}.lock"]


def test_a_half_download_left_by_a_killed_process_is_cleared_not_used(tmp_path, server, monkeypatch):
    url, md5 = server("cifar10", 20, 10)
    root = tmp_path / "data"
    partial = root / ".partial-cifar10-killed"  # a process was killed while it downloaded here
    partial.mkdir(parents=True)
    (partial / Path(url).name).write_bytes(b"half an archive")
    (partial / prepare.FOLDERS["cifar10"]).mkdir()
    monkeypatch.setitem(prepare.ARCHIVES, "cifar10", (url, md5))
    d = data.load("cifar10", root)
    assert len(d.train_y) == 20 and not partial.exists() and not leftovers(root)


def test_writers_of_one_file_at_once_never_share_a_temporary_file(tmp_path):
    """The race that broke `make -j2`: every writer went through `<name>.tmp`."""
    script = ("import sys\nfrom lth import store\n"
              "for i in range(200):\n    store.write_atomic(sys.argv[1], sys.argv[2].encode() * 100000)\n")
    target = tmp_path / "file"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(target), str(k)], stderr=subprocess.PIPE, text=True)
             for k in range(PROCESSES)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    content = target.read_bytes()
    assert len(content) == 100000 and len(set(content)) == 1 and os.listdir(tmp_path) == ["file"]
