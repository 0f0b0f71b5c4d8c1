"""Datasets as whole uint8 tensors in memory.

All four datasets are small enough to hold in (GPU) memory, so we load each split once as a
single N x C x H x W uint8 tensor and batch / augment / normalise with tensor ops elsewhere,
instead of paying for per-sample PIL transforms in a DataLoader.
"""

import functools
import math
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from lth import prepare
from lth.prepare import CIFAR10_BATCHES, FOLDERS, DatasetNotFound  # noqa: F401 (load raises DatasetNotFound)

DATASETS = ("mnist", "fashion_mnist", "cifar10", "tinyimagenet")

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


def load(name, root, download=True):
    """Load dataset ``name`` from ``root`` (fetching it if needed and allowed) as CPU tensors.

    Safe for any number of processes at once on one folder, on this machine or a shared filesystem: a
    dataset that is not there yet is prepared (copied, downloaded, extracted, decoded) by one process under
    an inter-process lock in ``root``; the others wait, saying so in one line, then read the same files."""
    check(name)
    root = Path(root)
    prepare.ensure(name, root, download)
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


def _read_mnist(name, root):
    """MNIST / Fashion-MNIST's IDX files, read by torchvision."""
    train, test = (prepare.TORCHVISION[name](root, train=t, download=False) for t in (True, False))
    return train.data.unsqueeze(1), _labels(train.targets), test.data.unsqueeze(1), _labels(test.targets)


def _labels(targets):
    return torch.as_tensor(targets, dtype=torch.int64)


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


_READERS = {"mnist": _read_mnist, "fashion_mnist": _read_mnist, "cifar10": _read_cifar10,
            "tinyimagenet": _read_tinyimagenet}


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
