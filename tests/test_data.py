"""lth.data: load small files written in each dataset's real on-disk format."""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from lth import data

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
REAL_FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def idx_files(seed=0, n_train=20, n_test=10):
    """IDX bytes (big-endian magic + dims, then raw uint8) for random images and labels."""
    g = torch.Generator().manual_seed(seed)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
        y = torch.randint(0, 10, (n,), generator=g)
        arrays[f"{split}-images-idx3-ubyte"] = (x, struct.pack(">IIII", 0x803, n, 28, 28) + x.numpy().tobytes())
        arrays[f"{split}-labels-idx1-ubyte"] = (y, struct.pack(">II", 0x801, n) + y.to(torch.uint8).numpy().tobytes())
    return arrays


def check_mnist_like(ds, arrays):
    assert ds.train_x.shape == (20, 1, 28, 28) and ds.test_x.shape == (10, 1, 28, 28)
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.dtype == torch.int64
    assert ds.train_x.is_contiguous() and ds.train_x.device.type == "cpu"
    assert torch.equal(ds.train_x[:, 0], arrays["train-images-idx3-ubyte"][0])
    assert torch.equal(ds.test_x[:, 0], arrays["t10k-images-idx3-ubyte"][0])
    assert torch.equal(ds.train_y, arrays["train-labels-idx1-ubyte"][0])
    assert torch.equal(ds.test_y, arrays["t10k-labels-idx1-ubyte"][0])
    assert ds.num_classes == 10 and not ds.augment and ds.pad == 0


def test_mnist_roundtrip(tmp_path):
    arrays = idx_files()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, (_, blob) in arrays.items():
        (raw / name).write_bytes(blob)
    ds = data.load("mnist", tmp_path, download=False)
    check_mnist_like(ds, arrays)
    assert ds.name == "mnist" and ds.mean == (0.1307,) and ds.std == (0.3081,)


def test_fashion_mnist_debian_fallback(tmp_path, monkeypatch):
    arrays = idx_files(seed=1)
    debian = tmp_path / "debian"
    debian.mkdir()
    for name, (_, blob) in arrays.items():
        (debian / f"{name}.gz").write_bytes(gzip.compress(blob))
    monkeypatch.setattr(data, "FASHION_MNIST_LOCAL", debian)
    root = tmp_path / "root"
    ds = data.load("fashion_mnist", root, download=False)
    check_mnist_like(ds, arrays)
    assert ds.mean == (0.2860,) and ds.std == (0.3530,)
    raw = root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES)  # no leftover temp files
    assert (raw / IDX_NAMES[0]).read_bytes() == arrays[IDX_NAMES[0]][1]


@pytest.mark.skipif(not REAL_FASHION.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_real_debian_copy(tmp_path):
    ds = data.load("fashion_mnist", tmp_path, download=False)
    assert ds.train_x.shape == (60000, 1, 28, 28) and ds.test_x.shape == (10000, 1, 28, 28)
    assert ds.train_y.shape == (60000,) and ds.test_y.shape == (10000,)
    assert set(ds.train_y.tolist()) == set(range(10)) and ds.num_classes == 10
    # The stated normalisation should match the data.
    assert abs(ds.train_x.float().mean().item() / 255 - ds.mean[0]) < 1e-3


def test_cifar10_layout(tmp_path, monkeypatch):
    # Generated batches cannot match torchvision's md5s of the real files: skip that check
    # (the class method covers the batches, the module function batches.meta).
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows = rng.integers(0, 256, (4, 3072), dtype=np.uint8)  # channel-major: 1024 R, 1024 G, 1024 B
        labels = rng.integers(0, 10, 4).tolist()
        batches[name] = (rows, labels)
        with open(folder / name, "wb") as f:
            # The real files are Python 2 pickles whose str keys torchvision reads back (latin1) as
            # str "data"/"labels"; a Python 3 pickle of b"data" would stay bytes, so write str keys.
            pickle.dump({"data": rows, "labels": labels, "batch_label": name}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f, protocol=2)

    ds = data.load("cifar10", tmp_path, download=False)
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.test_x.shape == (4, 3, 32, 32)
    assert ds.train_x.dtype == torch.uint8 and ds.train_x.is_contiguous()
    assert ds.train_y.dtype == torch.int64 and ds.num_classes == 10 and ds.augment and ds.pad == 4
    # Train image 6 is the 3rd row of data_batch_2; pixel (c=2, h=5, w=7) is byte 2*1024 + 5*32 + 7.
    rows, labels = batches["data_batch_2"]
    assert ds.train_x[6, 2, 5, 7] == rows[2, 2 * 1024 + 5 * 32 + 7]
    assert torch.equal(ds.train_x[6], torch.from_numpy(rows[2].reshape(3, 32, 32)))
    assert ds.train_y[4:8].tolist() == labels
    assert torch.equal(ds.test_x.flatten(1), torch.from_numpy(batches["test_batch"][0]))
    assert ds.test_y.tolist() == batches["test_batch"][1]


def test_tinyimagenet_tree_and_cache(tmp_path):
    folder = tmp_path / "tiny-imagenet-200"
    wnids = ["n03", "n01", "n02"]  # unsorted on disk: class index = position in sorted order
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")

    def jpeg(path, channels, value):
        img = torch.full((channels, 64, 64), value, dtype=torch.uint8)
        Image.fromarray(img.permute(1, 2, 0).squeeze(-1).numpy()).save(path, "JPEG", quality=100)

    for k, w in enumerate(wnids):
        (folder / "train" / w / "images").mkdir(parents=True)
        for j in range(2):
            jpeg(folder / "train" / w / "images" / f"{w}_{j}.JPEG", 3, 40 * k + 10 * j)
    val = [("val_2.JPEG", "n01", 1), ("val_0.JPEG", "n03", 3), ("val_1.JPEG", "n02", 1)]  # val_2 is grayscale
    for i, (fname, _, channels) in enumerate(val):
        jpeg(folder / "val" / "images" / fname, channels, 200 + 10 * i)
    (folder / "val" / "val_annotations.txt").write_text("".join(f"{f}\t{w}\t0\t0\t63\t63\n" for f, w, _ in val))

    ds = data.load("tinyimagenet", tmp_path, download=False)
    assert ds.train_x.shape == (6, 3, 64, 64) and ds.test_x.shape == (3, 3, 64, 64)
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.dtype == torch.int64
    assert ds.num_classes == 200 and ds.augment and ds.pad == 4
    assert ds.train_y.tolist() == [0, 0, 1, 1, 2, 2]  # n01, n02, n03
    # n01 (k=1) holds values 40, 50; n03 (k=0) holds 0, 10. Flat colours survive JPEG within +-2.
    means = ds.train_x.float().mean(dim=(1, 2, 3)).tolist()
    assert means == pytest.approx([40, 50, 80, 90, 0, 10], abs=2)
    # Test set sorted by filename: val_0 (n03), val_1 (n02), val_2 (n01, grayscale -> 3 channels).
    assert ds.test_y.tolist() == [2, 1, 0]
    assert ds.test_x.float().mean(dim=(1, 2, 3)).tolist() == pytest.approx([210, 220, 200], abs=2)
    assert torch.equal(ds.test_x[2, 0], ds.test_x[2, 1]) and torch.equal(ds.test_x[2, 1], ds.test_x[2, 2])

    assert (folder / "tensors.pt").is_file() and not (folder / "tensors.pt.tmp").exists()
    for p in list(folder.rglob("*.JPEG")):
        p.unlink()
    again = data.load("tinyimagenet", tmp_path, download=False)
    for a, b in ((ds.train_x, again.train_x), (ds.train_y, again.train_y), (ds.test_x, again.test_x), (ds.test_y, again.test_y)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name,folder", [
    ("mnist", "MNIST/raw"), ("fashion_mnist", "FashionMNIST/raw"),
    ("cifar10", "cifar-10-batches-py"), ("tinyimagenet", "tiny-imagenet-200"),
])
def test_missing_data_names_folder(tmp_path, monkeypatch, name, folder):
    monkeypatch.setattr(data, "FASHION_MNIST_LOCAL", tmp_path / "empty-debian")
    with pytest.raises(data.DatasetNotFound) as info:
        data.load(name, tmp_path, download=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "\n" not in message and name in message and str(tmp_path / folder) in message
    if name == "fashion_mnist":
        assert "apt-get install dataset-fashion-mnist" in message


def test_unknown_name(tmp_path):
    with pytest.raises(ValueError) as info:
        data.load("foo", tmp_path)
    message = str(info.value)
    assert "\n" not in message and "'foo'" in message
    assert all(name in message for name in data.DATASETS)
