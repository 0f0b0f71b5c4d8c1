"""lth.data reads each dataset's real on-disk format, lth.prepare puts its files in place; lth.synthetic writes small learnable datasets in it."""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from lth import data, prepare, synthetic

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
REAL_FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def entries(folder):
    """What a folder holds besides the datasets' lock files (``.<name>.lock``, which stay)."""
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.endswith(".lock"))


def check_idx(ds, raw):
    """The loaded tensors are the bytes of the IDX files in ``raw`` after their big-endian headers."""
    for split, x, y in (("train", ds.train_x, ds.train_y), ("t10k", ds.test_x, ds.test_y)):
        images = (raw / f"{split}-images-idx3-ubyte").read_bytes()
        labels = (raw / f"{split}-labels-idx1-ubyte").read_bytes()
        assert images[:16] == struct.pack(">IIII", 0x803, len(y), 28, 28)
        assert labels[:8] == struct.pack(">II", 0x801, len(y))
        assert x.shape == (len(y), 1, 28, 28) and x.flatten().tolist() == list(images[16:])
        assert y.tolist() == list(labels[8:])
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.dtype == torch.int64
    assert ds.train_x.is_contiguous() and ds.train_x.device.type == "cpu"
    assert ds.num_classes == 10 and not ds.augment and ds.pad == 0


def test_mnist_roundtrip(tmp_path):
    raw = synthetic.write("mnist", tmp_path, 20, 10)
    ds = data.load("mnist", tmp_path, download=False)
    check_idx(ds, raw)
    assert ds.name == "mnist" and ds.mean == (0.1307,) and ds.std == (0.3081,)


def test_fashion_mnist_debian_fallback(tmp_path, monkeypatch):
    source = synthetic.write("fashion_mnist", tmp_path / "source", 20, 10)
    debian = tmp_path / "debian"
    debian.mkdir()
    for name in IDX_NAMES:
        (debian / f"{name}.gz").write_bytes(gzip.compress((source / name).read_bytes()))
    monkeypatch.setattr(prepare, "FASHION_MNIST_LOCAL", debian)
    root = tmp_path / "root"
    ds = data.load("fashion_mnist", root, download=False)
    check_idx(ds, source)
    assert ds.mean == (0.2860,) and ds.std == (0.3530,)
    raw = root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES)  # no leftover temp files
    assert all((raw / name).read_bytes() == (source / name).read_bytes() for name in IDX_NAMES)


@pytest.mark.skipif(not REAL_FASHION.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_real_debian_copy(tmp_path):
    ds = data.load("fashion_mnist", tmp_path, download=False)
    assert ds.train_x.shape == (60000, 1, 28, 28) and ds.test_x.shape == (10000, 1, 28, 28)
    assert ds.train_y.shape == (60000,) and ds.test_y.shape == (10000,)
    assert set(ds.train_y.tolist()) == set(range(10)) and ds.num_classes == 10
    # The stated normalisation should match the data.
    assert abs(ds.train_x.float().mean().item() / 255 - ds.mean[0]) < 1e-3


def test_cifar10_layout(tmp_path):
    # Files that are not the official download (whose md5s torchvision would insist on) load.
    folder = synthetic.write("cifar10", tmp_path, 20, 4)
    batches = {}
    for name in ("data_batch_2", "test_batch"):
        blob = (folder / name).read_bytes()
        assert blob[:2] == b"\x80\x02"  # a protocol-2 pickle, as the real (Python 2) files
        entry = pickle.loads(blob, encoding="latin1")
        batches[name] = entry["data"], entry["labels"]

    ds = data.load("cifar10", tmp_path, download=False)
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.test_x.shape == (4, 3, 32, 32)
    assert ds.train_x.dtype == torch.uint8 and ds.train_x.is_contiguous()
    assert ds.train_y.dtype == torch.int64 and ds.num_classes == 10 and ds.augment and ds.pad == 4
    # OpenLTH's CIFAR-10 normalisation is ImageNet's (docs/paper.md section 3), not CIFAR-10's own.
    assert ds.mean == (0.485, 0.456, 0.406) and ds.std == (0.229, 0.224, 0.225)
    # Rows are channel-major: 1024 red, 1024 green, 1024 blue bytes, each 32 rows of 32.
    # Train image 6 is the 3rd row of data_batch_2; pixel (c=2, h=5, w=7) is byte 2*1024 + 5*32 + 7.
    rows, labels = batches["data_batch_2"]
    assert rows.shape == (4, 3072) and rows.dtype == np.uint8
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

    assert (folder / "tensors.pt").is_file() and not list(folder.glob("*.tmp")) and not list(folder.glob(".*.tmp"))
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
    monkeypatch.setattr(prepare, "FASHION_MNIST_LOCAL", tmp_path / "empty-debian")
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


def test_download_moves_the_archive_folder_into_place(tmp_path, monkeypatch):
    fetched = []

    def download(url, root, md5=None):  # stands in for the archive: extracts cifar-10-batches-py into root
        fetched.append((url, md5))
        synthetic.write("cifar10", root, 10, 5)

    monkeypatch.setattr(prepare, "download_and_extract_archive", download)
    ds = data.load("cifar10", tmp_path)
    assert fetched == [(torchvision.datasets.CIFAR10.url, torchvision.datasets.CIFAR10.tgz_md5)]
    assert entries(tmp_path) == ["cifar-10-batches-py"] and len(ds.test_y) == 5
    data.load("cifar10", tmp_path)
    assert len(fetched) == 1  # there now: not fetched again


@pytest.mark.parametrize("name", ["cifar10", "tinyimagenet"])
def test_failed_download_leaves_nothing(tmp_path, monkeypatch, name):
    def download(url, root, md5=None):  # the connection drops half-way through the extraction
        (Path(root) / prepare.FOLDERS[name]).mkdir()
        raise OSError("Connection reset\nby peer")

    monkeypatch.setattr(prepare, "download_and_extract_archive", download)
    with pytest.raises(data.DatasetNotFound) as info:
        data.load(name, tmp_path)
    assert "(download failed: Connection reset by peer)" in str(info.value)
    assert entries(tmp_path) == []


# --- lth.synthetic: small learnable datasets in the real formats ---

def nearest_class_mean_accuracy(ds):
    x = ds.train_x.flatten(1).float()
    means = torch.stack([x[ds.train_y == k].mean(0) for k in range(ds.num_classes)])
    return (torch.cdist(ds.test_x.flatten(1).float(), means).argmin(1) == ds.test_y).float().mean().item()


@pytest.mark.parametrize("name", data.DATASETS)
def test_synthetic_loads_and_is_learnable(tmp_path, name):
    channels, size, classes, _, _ = data.SHAPES[name]
    n_train, n_test = 2 * classes + 7, classes + 3  # some classes one image more than others
    assert synthetic.write(name, tmp_path, n_train, n_test) == tmp_path / prepare.FOLDERS[name]
    ds = data.load(name, tmp_path, download=False)
    assert ds.train_x.shape == (n_train, channels, size, size) and ds.test_x.shape == (n_test, channels, size, size)
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.dtype == torch.int64 and ds.num_classes == classes
    assert ds.train_y.bincount(minlength=classes).tolist() == [3] * 7 + [2] * (classes - 7)
    assert ds.test_y.bincount(minlength=classes).tolist() == [2] * 3 + [1] * (classes - 3)
    assert nearest_class_mean_accuracy(ds) > 0.8  # chance: 1 / classes


@pytest.mark.parametrize("name", data.DATASETS)
def test_synthetic_same_seed_same_bytes(tmp_path, name):
    files = lambda folder: {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    a, b, c = (files(synthetic.write(name, tmp_path / str(i), 30, 10, seed)) for i, seed in enumerate((0, 0, 1)))
    assert a == b and a.keys() == c.keys() and a != c


def test_synthetic_write_is_atomic_and_never_overwrites(tmp_path, monkeypatch):
    write_files = synthetic._WRITERS["cifar10"]

    def interrupted(*args):  # Ctrl-C after every file is written, before the folder moves into place
        write_files(*args)
        raise KeyboardInterrupt

    monkeypatch.setitem(synthetic._WRITERS, "cifar10", interrupted)
    with pytest.raises(KeyboardInterrupt):
        synthetic.write("cifar10", tmp_path, 10, 5)
    assert entries(tmp_path) == []
    monkeypatch.undo()

    folder = synthetic.write("cifar10", tmp_path, 10, 5)
    before = (folder / "test_batch").read_bytes()
    synthetic.write("cifar10", tmp_path, 20, 10, seed=1)  # the folder exists: left as it is
    assert (folder / "test_batch").read_bytes() == before
