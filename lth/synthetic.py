"""Small synthetic datasets, written in each real dataset's on-disk format.

For rehearsing the whole pipeline on tiny data through the real loaders (the "rehearsal" preset),
and for tests: ``write(name, root, n_train, n_test)`` puts files where
``lth.data.load(name, root, download=False)`` reads them, with the real image shapes and numbers
of classes. An image is its class's template (a smooth random image, drawn once per dataset) plus
pixel noise, so a network learns the classes far above chance. The bytes depend on ``seed`` and
``name`` alone.

Writing n_train=512, n_test=256 takes about 0.02 s for MNIST or Fashion-MNIST, 0.05 s for CIFAR-10
and 0.3 to 0.8 s for TinyImageNet (mostly creating its 768 JPEG files and 400 folders), measured on
a shared 2-core machine.
"""

import hashlib
import pickle
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from lth import data, prepare, store

GRID = 4  # a template is a random GRID x GRID image upsampled bilinearly: smooth, yet distinct per class
NOISE = 64.0  # std of the pixel noise, in uint8 units


def write(name, root, n_train, n_test, seed=0):
    """Write ``n_train`` training and ``n_test`` test images of dataset ``name`` under ``root``, unless
    its folder is there already (the write is atomic: a folder that exists is complete); return the folder."""
    data.check(name)
    folder = Path(root) / prepare.FOLDERS[name]
    with store.exclusive(Path(root) / f".{name}.lock"):  # the lock lth.prepare.ensure prepares a dataset under
        if not folder.exists():
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])  # one stream per (seed, dataset)
            train, test = _images(rng, *data.SHAPES[name][:3], n_train, n_test)
            with prepare.staged(root, name) as tmp:
                _WRITERS[name](tmp / prepare.FOLDERS[name], train, test, rng)
    return folder


def _images(rng, channels, size, classes, n_train, n_test):
    """(uint8 N x C x H x W images, labels) for each split, each class equally often, in random order."""
    # Bilinear upsampling as a matrix: output pixel i weighs the grid points next to its position.
    up = np.maximum(0, 1 - np.abs(np.linspace(0, GRID - 1, size)[:, None] - np.arange(GRID)))
    templates = (up @ rng.uniform(0, 255, (classes, channels, GRID, GRID)) @ up.T).astype(np.float32)
    splits = []
    for n in (n_train, n_test):
        y = rng.permutation(np.arange(n) % classes)
        x = templates[y] + NOISE * rng.standard_normal((n, channels, size, size), dtype=np.float32)
        splits.append((x.clip(0, 255).round().astype(np.uint8), y))
    return splits


def _mnist(folder, train, test, rng):
    """IDX files: big-endian magic (0x0803 images, 0x0801 labels) and sizes, then the raw bytes."""
    folder.mkdir(parents=True)
    for split, (x, y) in (("train", train), ("t10k", test)):
        images = struct.pack(">IIII", 0x803, len(x), 28, 28) + x.tobytes()
        labels = struct.pack(">II", 0x801, len(y)) + y.astype(np.uint8).tobytes()
        (folder / f"{split}-images-idx3-ubyte").write_bytes(images)
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(labels)


def _cifar10(folder, train, test, rng):
    """Five training batches and a test batch, pickled as dicts of rows of 3072 bytes (1024 red,
    1024 green, 1024 blue) and labels, plus batches.meta."""
    folder.mkdir(parents=True)
    batches = list(zip(np.array_split(train[0], 5), np.array_split(train[1], 5))) + [test]
    for name, (x, y) in zip(prepare.CIFAR10_BATCHES, batches):
        # Protocol 2 with str keys, like the real (Python 2) files: a str key reads back as str.
        entry = {"batch_label": name, "labels": y.tolist(), "data": x.reshape(len(x), -1)}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    meta = {"label_names": names, "num_cases_per_batch": len(batches[0][1]), "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))


def _tinyimagenet(folder, train, test, rng):
    """wnids.txt (unsorted, as the real one), train/<wnid>/images/<wnid>_<i>.JPEG, and
    val/images/val_<i>.JPEG labelled by val/val_annotations.txt; class k is the k-th wnid in sorted order."""
    wnids = [f"n{k:08d}" for k in range(data.SHAPES["tinyimagenet"][2])]
    folder.mkdir(parents=True)
    (folder / "wnids.txt").write_text("".join(f"{w}\n" for w in rng.permutation(wnids)))
    jpeg = lambda x, path: Image.fromarray(x.transpose(1, 2, 0)).save(path, "JPEG")
    x, y = train
    for k, wnid in enumerate(wnids):
        (folder / "train" / wnid / "images").mkdir(parents=True)
        for i, image in enumerate(x[y == k]):
            jpeg(image, folder / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
    x, y = test
    (folder / "val" / "images").mkdir(parents=True)
    for i, image in enumerate(x):
        jpeg(image, folder / "val" / "images" / f"val_{i}.JPEG")
    (folder / "val" / "val_annotations.txt").write_text("".join(f"val_{i}.JPEG\t{wnids[k]}\t0\t0\t63\t63\n"
                                                                for i, k in enumerate(y)))


_WRITERS = {"mnist": _mnist, "fashion_mnist": _mnist, "cifar10": _cifar10, "tinyimagenet": _tinyimagenet}


def archive(name, folder, n_train, n_test, seed=0):
    """The official download of CIFAR-10 (a .tar.gz of cifar-10-batches-py/) or TinyImageNet (a .zip of
    tiny-imagenet-200/), holding ``write``'s images, in ``folder``: (its path, its md5), for a test to serve in
    place of ``lth.prepare.ARCHIVES[name]`` where there is no internet."""
    formats = {"cifar10": ("gztar", ".tar.gz"), "tinyimagenet": ("zip", ".zip")}
    if name not in formats:
        raise ValueError(f"no archive for {name!r}; valid: {', '.join(formats)}")
    folder = Path(folder)
    images = write(name, folder / f"{name}-images", n_train, n_test, seed)
    path = Path(shutil.make_archive(str(folder / prepare.FOLDERS[name]), formats[name][0], images.parent, images.name))
    return path, hashlib.md5(path.read_bytes()).hexdigest()
