"""Datasets as whole uint8 tensors in memory.

All four datasets are small enough to hold in (GPU) memory, so we load each split once as a
single N x C x H x W uint8 tensor and batch / augment / normalise with tensor ops elsewhere,
instead of paying for per-sample PIL transforms in a DataLoader.
"""

import functools
import gzip
import math
import os
import pickle
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch.nn import functional as F
from torchvision.datasets.utils import download_and_extract_archive
from PIL import Image
from torchvision.transforms.v2.functional import pil_to_tensor

from lth import store

DATASETS = ("mnist", "fashion_mnist", "cifar10", "tinyimagenet")

# Where Debian's `dataset-fashion-mnist` package installs the gzipped IDX files.
FASHION_MNIST_LOCAL = Path("/usr/share/datasets/fashion-mnist")
# name -> (URL, md5) of the archive a download fetches and checks before extracting it (MNIST and Fashion-MNIST:
# torchvision's own per-file URLs and md5s).
ARCHIVES = {"cifar10": (torchvision.datasets.CIFAR10.url, torchvision.datasets.CIFAR10.tgz_md5),
            "tinyimagenet": ("http://cs231n.stanford.edu/tiny-imagenet-200.zip", "90528d7ca1a48142e341f4ef8d21d0de")}
_TORCHVISION = {"mnist": torchvision.datasets.MNIST, "fashion_mnist": torchvision.datasets.FashionMNIST}

CIFAR10_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)

# The folder under root that holds each dataset's files, as its official archive (or torchvision) names it.
FOLDERS = {"mnist": "MNIST/raw", "fashion_mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py",
           "tinyimagenet": "tiny-imagenet-200"}

# name -> (channels, image size, classes, training images, test images) of the real dataset
SHAPES = {"mnist": (1, 28, 10, 60000, 10000), "fashion_mnist": (1, 28, 10, 60000, 10000),
          "cifar10": (3, 32, 10, 50000, 10000), "tinyimagenet": (3, 64, 200, 100000, 10000)}

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# name -> (mean, std, augment, pad). CIFAR-10 with ImageNet's statistics is not a slip: OpenLTH's
# CIFAR-10 dataset normalises so, and the paper ran OpenLTH's defaults.
_SPECS = {
    "mnist": ((0.1307,), (0.3081,), False, 0),
    "fashion_mnist": ((0.2860,), (0.3530,), False, 0),
    "cifar10": (IMAGENET_MEAN, IMAGENET_STD, True, 4),
    "tinyimagenet": (IMAGENET_MEAN, IMAGENET_STD, True, 4),
}


@dataclass
class Dataset:
    name: str
    train_x: torch.Tensor  # uint8, N x C x H x W, contiguous
    train_y: torch.Tensor  # int64, N
    test_x: torch.Tensor  # uint8, N x C x H x W
    test_y: torch.Tensor  # int64
    mean: tuple[float, ...]  # per-channel normalisation, in [0,1] pixel units
    std: tuple[float, ...]
    num_classes: int
    augment: bool  # random crop with padding + horizontal flip (applied elsewhere)
    pad: int  # crop padding in pixels


class DatasetNotFound(FileNotFoundError):
    """The dataset's files are not under root and could not be fetched."""


def load(name, root, download=True):
    """Load dataset ``name`` from ``root`` (fetching it if needed and allowed) as CPU tensors.

    Safe for any number of processes at once on one folder, on this machine or a shared filesystem: a
    dataset that is not there yet is prepared (copied, downloaded, extracted, decoded) by one process under
    an inter-process lock in ``root``; the others wait, saying so in one line, then read the same files."""
    check(name)
    root = Path(root)
    if not _present(name, root):
        with store.exclusive(root / f".{name}.lock", f"waiting for another process to prepare {name} in {root}"):
            if not _present(name, root):
                _prepare(name, root, download)
    mean, std, augment, pad = _SPECS[name]
    train_x, train_y, test_x, test_y = _READERS[name](name, root)
    return Dataset(name, train_x, train_y, test_x, test_y, mean, std, SHAPES[name][2], augment, pad)


def random_like(name, n_train, n_test, seed=0):
    """Random images and labels shaped and normalised as dataset ``name``: for timing, not for learning."""
    channels, size, classes, _, _ = SHAPES[name]
    g = torch.Generator().manual_seed(seed)
    images = lambda n: torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)
    labels = lambda n: torch.randint(0, classes, (n,), generator=g)
    return Dataset(name, images(n_train), labels(n_train), images(n_test), labels(n_test), *_SPECS[name][:2], classes,
                   *_SPECS[name][2:])


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
            _TORCHVISION[name](tmp, download=True)  # torchvision checks each archive's md5 before extracting it
        else:
            url, md5 = ARCHIVES[name]
            download_and_extract_archive(url, str(tmp), md5=md5)


def _missing(name, folder, reason):
    how = "run with download enabled and internet access"
    if name == "fashion_mnist":
        how += f", or `apt-get install dataset-fashion-mnist` (installs to {FASHION_MNIST_LOCAL})"
    why = f" (download failed: {reason})" if reason else ""
    return DatasetNotFound(f"{name} not found: put its files in {folder}, or {how}{why}")


def _read_mnist(name, root):
    """MNIST / Fashion-MNIST's IDX files, read by torchvision."""
    train, test = (_TORCHVISION[name](root, train=t, download=False) for t in (True, False))
    return train.data.unsqueeze(1), _labels(train.targets), test.data.unsqueeze(1), _labels(test.targets)


def _labels(targets):
    return torch.as_tensor(targets, dtype=torch.int64)


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


def _read_cifar10(name, root):
    """CIFAR-10 from its pickled batches, read as torchvision reads them but without its md5 check,
    so that files other than the official download (such as lth.synthetic's) load too."""
    folder = root / FOLDERS[name]
    return (*_cifar10_batches(folder, CIFAR10_BATCHES[:5]), *_cifar10_batches(folder, CIFAR10_BATCHES[5:]))


def _cifar10_batches(folder, names):
    """Python 2 pickles of rows of 3072 bytes (1024 red, 1024 green, 1024 blue) -> N x 3 x 32 x 32."""
    entries = []
    for name in names:
        with open(folder / name, "rb") as f:
            entries.append(pickle.load(f, encoding="latin1"))
    x = np.concatenate([e["data"] for e in entries]).reshape(-1, 3, 32, 32)
    return torch.from_numpy(x), _labels([y for e in entries for y in e["labels"]])


def _read_tinyimagenet(name, root):
    t = torch.load(root / FOLDERS[name] / "tensors.pt", weights_only=True)
    return t["train_x"], t["train_y"], t["test_x"], t["test_y"]


def _cache_tinyimagenet(folder):
    """Decode the standard tiny-imagenet-200 folder (the val split is the test set) into tensors.pt: decoding
    110k JPEGs takes minutes, so it is done once, by one process, and every load reads the tensors."""
    wnids = sorted((folder / "wnids.txt").read_text().split())
    index = {w: i for i, w in enumerate(wnids)}
    train = [(p, index[w]) for w in wnids for p in sorted((folder / "train" / w / "images").glob("*.JPEG"))]
    rows = [line.split("\t") for line in (folder / "val" / "val_annotations.txt").read_text().splitlines() if line]
    test = sorted((folder / "val" / "images" / r[0], index[r[1]]) for r in rows)
    t = {"train_x": _decode([p for p, _ in train]), "train_y": _labels([y for _, y in train]),
         "test_x": _decode([p for p, _ in test]), "test_y": _labels([y for _, y in test])}
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


_READERS = {"mnist": _read_mnist, "fashion_mnist": _read_mnist, "cifar10": _read_cifar10,
            "tinyimagenet": _read_tinyimagenet}


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


# --- The data path: whole tensors in memory (on the training device), batches cut from them ---

def check(name):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def subset(data, train_size=None, test_size=None):
    """The first ``train_size`` training and ``test_size`` test examples (None: all)."""
    return replace(data, train_x=data.train_x[:train_size], train_y=data.train_y[:train_size],
                   test_x=data.test_x[:test_size], test_y=data.test_y[:test_size])


def to(data, device):
    return replace(data, **{f: getattr(data, f).to(device) for f in ("train_x", "train_y", "test_x", "test_y")})


def normalise(data, x):
    """uint8 images -> normalised float32; done per batch so the dataset stays uint8 (4x smaller)."""
    mean, std = _moments(data.mean, data.std, x.device)
    return (x.float() / 255 - mean) / std


@functools.cache
def _moments(mean, std, device):
    """The normalisation's tensors on ``device``, made once: a copy to a GPU per batch would wait for the GPU."""
    return tuple(torch.tensor(v, device=device).view(1, -1, 1, 1) for v in (mean, std))


def crop_flip(x, dy, dx, flip, pad):
    """Random crop with zero padding and horizontal flip of a whole batch, as one gather.

    Sample j is cropped at offset (dy[j], dx[j]) of its padded image and mirrored where flip[j]:
    the same result as torchvision's RandomCrop(padding=pad) + RandomHorizontalFlip per image.
    """
    b, c, h, w = x.shape
    x = F.pad(x, (pad, pad, pad, pad))
    rows = dy[:, None] + torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = dx[:, None] + torch.where(flip[:, None], w - 1 - cols, cols)
    return x[torch.arange(b, device=x.device)[:, None, None, None], torch.arange(c, device=x.device)[:, None, None],
             rows[:, None, :, None], cols[:, None, None, :]]


def batches(data, batch_size, seed, first=0, last=None):
    """Batches ``first`` .. ``last`` - 1 of one epoch, drawn from ``seed`` alone: a shuffled order
    and, for datasets that augment, one crop offset and flip per example (the last batch may be
    smaller, as with a DataLoader)."""
    n = len(data.train_y)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=g).to(data.train_x.device)
    if data.augment:
        offsets = torch.randint(0, 2 * data.pad + 1, (2, n), generator=g).to(data.train_x.device)
        flips = (torch.rand(n, generator=g) < 0.5).to(data.train_x.device)
    last = math.ceil(n / batch_size) if last is None else last
    for i in range(first, last):
        idx = order[i * batch_size:(i + 1) * batch_size]
        x = data.train_x[idx]
        if data.augment:
            x = crop_flip(x, offsets[0, idx], offsets[1, idx], flips[idx], data.pad)
        yield normalise(data, x), data.train_y[idx]


def test_batches(data, batch_size=1000):
    for i in range(0, len(data.test_y), batch_size):
        yield normalise(data, data.test_x[i:i + batch_size]), data.test_y[i:i + batch_size]
