"""Putting a dataset's files in place, once: downloaded (its archive's md5 checked), copied from Debian's
Fashion-MNIST, or decoded (TinyImageNet's JPEGs into one tensor file); ``lth.synthetic`` writes its files through
``staged`` too. Safe for any number of processes at once on one folder: one prepares under a lock, in a staging
folder moved into place whole, the others wait. ``lth.data`` loads what is here (and calls ``ensure`` first).
"""

import gzip
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch
import torchvision
from PIL import Image
from torchvision.datasets.utils import download_and_extract_archive
from torchvision.transforms.v2.functional import pil_to_tensor

from lth import store

# Where Debian's `dataset-fashion-mnist` package installs the gzipped IDX files.
FASHION_MNIST_LOCAL = Path("/usr/share/datasets/fashion-mnist")
# name -> (URL, md5) of the archive a download fetches and checks before extracting it (MNIST and Fashion-MNIST:
# torchvision's own per-file URLs and md5s).
ARCHIVES = {"cifar10": (torchvision.datasets.CIFAR10.url, torchvision.datasets.CIFAR10.tgz_md5),
            "tinyimagenet": ("http://cs231n.stanford.edu/tiny-imagenet-200.zip", "90528d7ca1a48142e341f4ef8d21d0de")}
TORCHVISION = {"mnist": torchvision.datasets.MNIST, "fashion_mnist": torchvision.datasets.FashionMNIST}

CIFAR10_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)

# The folder under root that holds each dataset's files, as its official archive (or torchvision) names it.
FOLDERS = {"mnist": "MNIST/raw", "fashion_mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py",
           "tinyimagenet": "tiny-imagenet-200"}


class DatasetNotFound(FileNotFoundError):
    """The dataset's files are not under root and could not be fetched."""


def ensure(name, root, download=True):
    """Dataset ``name``'s files under ``root``, prepared if they are not there yet (``download``: fetching them is
    allowed): by one process under an inter-process lock in ``root``; the others wait, saying so in one line."""
    root = Path(root)
    if not _present(name, root):
        with store.exclusive(root / f".{name}.lock", f"waiting for another process to prepare {name} in {root}"):
            if not _present(name, root):
                _prepare(name, root, download)
    return root / FOLDERS[name]


# What a dataset's folder holds once it is prepared: each file is moved or written into place whole, so a
# dataset whose files are all there is complete (TinyImageNet: its decoded tensors, cached).
def _files(name):
    if name in ("mnist", "fashion_mnist"):
        return [f"{s}-{k}-idx{d}-ubyte" for s in ("train", "t10k") for k, d in (("images", 3), ("labels", 1))]
    return list(CIFAR10_BATCHES) if name == "cifar10" else ["tensors.pt"]


def _present(name, root):
    return all((root / FOLDERS[name] / f).is_file() for f in _files(name))


def _prepare(name, root, download):
    """Put the dataset's files in place (under the dataset's lock): download them if allowed, else (Fashion-MNIST)
    copy Debian's; raise DatasetNotFound, one line saying where to put them, if neither works."""
    for stale in root.glob(f".partial-{name}-*"):  # left by a process killed while it prepared this dataset
        shutil.rmtree(stale, ignore_errors=True)
    reason = None
    if download and not (name == "tinyimagenet" and (root / FOLDERS[name] / "wnids.txt").is_file()):
        try:
            _download(name, root)
        except Exception as err:  # no internet, bad mirror, corrupted or truncated archive, ...
            reason = store.one_line(err)
    if name == "fashion_mnist" and not _present(name, root):
        _copy_debian_fashion_mnist(root)
    if name == "tinyimagenet" and (root / FOLDERS[name] / "wnids.txt").is_file():
        _cache_tinyimagenet(root / FOLDERS[name])
    if not _present(name, root):
        raise _missing(name, root / FOLDERS[name], reason)


def _download(name, root):
    """Download and extract the dataset into a folder of its own, then move its files into place: an archive
    is checked (its md5) before anything moves, and a half-downloaded one is never reused."""
    with staged(root, name) as tmp:
        if name in ("mnist", "fashion_mnist"):
            TORCHVISION[name](tmp, download=True)  # torchvision checks each archive's md5 before extracting it
        else:
            url, md5 = ARCHIVES[name]
            download_and_extract_archive(url, str(tmp), md5=md5)


def _missing(name, folder, reason):
    how = "run with download enabled and internet access"
    if name == "fashion_mnist":
        how += f", or `apt-get install dataset-fashion-mnist` (installs to {FASHION_MNIST_LOCAL})"
    why = f" (download failed: {reason})" if reason else ""
    return DatasetNotFound(f"{name} not found: put its files in {folder}, or {how}{why}")


def _copy_debian_fashion_mnist(root):
    """Decompress Debian's gzipped Fashion-MNIST into torchvision's raw folder, if Debian's package is installed.

    Debian's .gz bytes differ from upstream (so torchvision's md5 check on them fails), but the
    decompressed IDX files are identical, and torchvision only checks that those exist.
    """
    sources = [FASHION_MNIST_LOCAL / f"{n}.gz" for n in _files("fashion_mnist")]
    if not all(s.is_file() for s in sources):
        return
    raw = root / FOLDERS["fashion_mnist"]
    raw.mkdir(parents=True, exist_ok=True)
    for source in sources:
        with gzip.open(source, "rb") as f:
            store.write_atomic(raw / source.stem, f.read())


def _cache_tinyimagenet(folder):
    """Decode the standard tiny-imagenet-200 folder (the val split is the test set) into tensors.pt: decoding
    110k JPEGs takes minutes, so it is done once, by one process, and every load reads the tensors."""
    wnids = sorted((folder / "wnids.txt").read_text().split())
    index = {w: i for i, w in enumerate(wnids)}
    train = [(p, index[w]) for w in wnids for p in sorted((folder / "train" / w / "images").glob("*.JPEG"))]
    rows = [line.split("\t") for line in (folder / "val" / "val_annotations.txt").read_text().splitlines() if line]
    test = sorted((folder / "val" / "images" / r[0], index[r[1]]) for r in rows)
    t = {"train_x": _decode([p for p, _ in train]), "train_y": torch.tensor([y for _, y in train]),
         "test_x": _decode([p for p, _ in test]), "test_y": torch.tensor([y for _, y in test])}
    with store.atomic(folder / "tensors.pt") as tmp:
        torch.save(t, tmp)


def _decode(paths):
    """Decode image files (grayscale ones converted to RGB) into one N x 3 x H x W uint8 tensor."""
    if not paths:
        return torch.empty(0, 3, 64, 64, dtype=torch.uint8)
    decode = lambda path: pil_to_tensor(Image.open(path).convert("RGB"))
    out = torch.empty((len(paths), *decode(paths[0]).shape), dtype=torch.uint8)
    for i, path in enumerate(paths):
        out[i] = decode(path)
    return out


@contextmanager
def staged(root, name):
    """A temporary folder under ``root`` for preparing dataset ``name``: what the block writes to
    ``<tmp>/<its folder>`` then moves to ``root/<its folder>``, in one step (or, where that folder exists already,
    entry by entry), so an interrupted download or write never leaves a complete-looking dataset behind.
    Call it holding the dataset's lock (``load`` and ``lth.synthetic.write`` do)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".partial-{name}-", dir=root))
    try:
        yield tmp
        source, target = tmp / FOLDERS[name], root / FOLDERS[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.replace(source, target)
        else:
            for entry in sorted(source.iterdir()):
                os.replace(entry, target / entry.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


