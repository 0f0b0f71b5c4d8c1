"""Datasets as whole uint8 tensors in memory.

All four datasets are small enough to hold in (GPU) memory, so we load each split once as a
single N x C x H x W uint8 tensor and batch / augment / normalise with tensor ops elsewhere,
instead of paying for per-sample PIL transforms in a DataLoader.
"""

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

from lth.runs import write_atomic

DATASETS = ("mnist", "fashion_mnist", "cifar10", "tinyimagenet")

# Where Debian's `dataset-fashion-mnist` package installs the gzipped IDX files.
FASHION_MNIST_LOCAL = Path("/usr/share/datasets/fashion-mnist")
TINYIMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"

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
    """Load dataset ``name`` from ``root`` (fetching it if needed and allowed) as CPU tensors."""
    check(name)
    root = Path(root)
    mean, std, augment, pad = _SPECS[name]
    loader = {"cifar10": _cifar10, "tinyimagenet": _tinyimagenet}.get(name, _mnist)
    train_x, train_y, test_x, test_y = loader(name, root, download)
    return Dataset(name, train_x, train_y, test_x, test_y, mean, std, SHAPES[name][2], augment, pad)


def random_like(name, n_train, n_test, seed=0):
    """Random images and labels shaped and normalised as dataset ``name``: for timing, not for learning."""
    channels, size, classes, _, _ = SHAPES[name]
    g = torch.Generator().manual_seed(seed)
    images = lambda n: torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)
    labels = lambda n: torch.randint(0, classes, (n,), generator=g)
    return Dataset(name, images(n_train), labels(n_train), images(n_test), labels(n_test), *_SPECS[name][:2], classes,
                   *_SPECS[name][2:])


def _missing(name, folder, reason):
    how = "run with download enabled and internet access"
    if name == "fashion_mnist":
        how += f", or `apt-get install dataset-fashion-mnist` (installs to {FASHION_MNIST_LOCAL})"
    why = f" (download failed: {reason})" if reason else ""
    return DatasetNotFound(f"{name} not found: put its files in {folder}, or {how}{why}")


def _first_line(err):
    """The error as one short line (torchvision's MNIST errors span several)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _mnist(name, root, download):
    """MNIST / Fashion-MNIST via torchvision (which only checks that the IDX files exist), falling
    back to Debian's copy of Fashion-MNIST."""
    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.FashionMNIST
    splits = lambda dl: (cls(root, train=True, download=dl), cls(root, train=False, download=dl))
    reason = None
    try:
        train, test = splits(False)
    except RuntimeError:  # torchvision's "not found (or corrupted)"
        train = None
    if train is None and download:
        try:
            train, test = splits(True)
        except Exception as err:  # no internet, bad mirror, truncated archive, ...
            reason = _first_line(err)
    if train is None and name == "fashion_mnist" and _copy_debian_fashion_mnist(root):
        train, test = splits(False)
    if train is None:
        raise _missing(name, root / FOLDERS[name], reason)
    return train.data.unsqueeze(1), _labels(train.targets), test.data.unsqueeze(1), _labels(test.targets)


def _labels(targets):
    return torch.as_tensor(targets, dtype=torch.int64)


def _copy_debian_fashion_mnist(root):
    """Decompress Debian's gzipped Fashion-MNIST into torchvision's raw folder.

    Debian's .gz bytes differ from upstream (so torchvision's md5 check on them fails), but the
    decompressed IDX files are identical, and torchvision only checks that those exist.
    """
    names = [f"{s}-{k}-idx{d}-ubyte" for s in ("train", "t10k") for k, d in (("images", 3), ("labels", 1))]
    sources = [FASHION_MNIST_LOCAL / f"{n}.gz" for n in names]
    if not all(s.is_file() for s in sources):
        return False
    raw = root / FOLDERS["fashion_mnist"]
    raw.mkdir(parents=True, exist_ok=True)
    for name, source in zip(names, sources):
        with gzip.open(source, "rb") as f:
            write_atomic(raw / name, f.read())
    return True


def _cifar10(name, root, download):
    """CIFAR-10 from its pickled batches, read as torchvision reads them but without its md5 check,
    so that files other than the official download (such as lth.synthetic's) load too."""
    cifar = torchvision.datasets.CIFAR10
    folder = _fetch(name, root, download, CIFAR10_BATCHES, cifar.url, cifar.tgz_md5)
    return (*_cifar10_batches(folder, CIFAR10_BATCHES[:5]), *_cifar10_batches(folder, CIFAR10_BATCHES[5:]))


def _cifar10_batches(folder, names):
    """Python 2 pickles of rows of 3072 bytes (1024 red, 1024 green, 1024 blue) -> N x 3 x 32 x 32."""
    entries = []
    for name in names:
        with open(folder / name, "rb") as f:
            entries.append(pickle.load(f, encoding="latin1"))
    x = np.concatenate([e["data"] for e in entries]).reshape(-1, 3, 32, 32)
    return torch.from_numpy(x), _labels([y for e in entries for y in e["labels"]])


def _tinyimagenet(name, root, download):
    """Tiny ImageNet from the standard tiny-imagenet-200 folder; the val split is the test set."""
    cache = root / FOLDERS[name] / "tensors.pt"
    if cache.is_file():
        t = torch.load(cache, weights_only=True)
        return t["train_x"], t["train_y"], t["test_x"], t["test_y"]
    folder = _fetch(name, root, download, ["wnids.txt"], TINYIMAGENET_URL)
    wnids = sorted((folder / "wnids.txt").read_text().split())
    index = {w: i for i, w in enumerate(wnids)}
    train = [(p, index[w]) for w in wnids for p in sorted((folder / "train" / w / "images").glob("*.JPEG"))]
    rows = [line.split("\t") for line in (folder / "val" / "val_annotations.txt").read_text().splitlines() if line]
    test = sorted((folder / "val" / "images" / r[0], index[r[1]]) for r in rows)
    t = {"train_x": _decode([p for p, _ in train]), "train_y": _labels([y for _, y in train]),
         "test_x": _decode([p for p, _ in test]), "test_y": _labels([y for _, y in test])}
    # Decoding 110k JPEGs takes minutes: cache the tensors (atomically) for the next load.
    tmp = cache.with_name(cache.name + ".tmp")
    torch.save(t, tmp)
    os.replace(tmp, cache)
    return t["train_x"], t["train_y"], t["test_x"], t["test_y"]


def _decode(paths):
    """Decode image files (grayscale ones converted to RGB) into one N x 3 x H x W uint8 tensor."""
    if not paths:
        return torch.empty(0, 3, 64, 64, dtype=torch.uint8)
    decode = lambda path: pil_to_tensor(Image.open(path).convert("RGB"))
    out = torch.empty((len(paths), *decode(paths[0]).shape), dtype=torch.uint8)
    for i, path in enumerate(paths):
        out[i] = decode(path)
    return out


def _fetch(name, root, download, files, url, md5=None):
    """The dataset's folder, after downloading its archive if ``files`` are missing and download is allowed."""
    folder = root / FOLDERS[name]
    present = lambda: all((folder / f).is_file() for f in files)
    reason = None
    if not present() and download:
        try:
            with staged(root, FOLDERS[name]) as tmp:
                download_and_extract_archive(url, str(tmp), md5=md5)
        except Exception as err:  # no internet, bad mirror, truncated archive, ...
            reason = _first_line(err)
    if not present():
        raise _missing(name, folder, reason)
    return folder


@contextmanager
def staged(root, folder):
    """A temporary folder under ``root``; what the block writes to ``<tmp>/<folder>`` then moves to
    ``root/folder`` in one step, so an interrupted download or write never leaves a complete-looking
    dataset behind."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        yield tmp
        (root / folder).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / folder, root / folder)
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
    mean = torch.tensor(data.mean, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, device=x.device).view(1, -1, 1, 1)
    return (x.float() / 255 - mean) / std


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
