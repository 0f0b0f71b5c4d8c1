"""Training speed: `make bench`. One line per measurement; median of a few repeats after a warm-up.

- lenet_300_100 fashion_mnist: epochs (batch 128) through lth.training.train as a run trains them (hidden
  layers half pruned, the output layer dense, the per-epoch checkpoint saved), next to the floor, a minimal
  plain-PyTorch loop over the same in-memory tensors; and one checkpoint's save, timed by itself.
- resnet20 cifar10-shaped random data: s/iter with augmentation, batch 128.

On the CPU with one thread, as runs train (lth.kernels.make_deterministic), in native and in portable mode, each
in its own process; then the small preset's settings (s/epoch at their batch sizes) side by side, with the ratio.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from lth import data, models, pruning
from lth.kernels import make_deterministic
from lth.config import Config
from lth.training import iterations_per_epoch, save_checkpoint, train

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))


def timed(fn, repeats=REPEATS):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_gb():
    if DEVICE == "cuda":
        return torch.cuda.max_memory_allocated() / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB -> GB (process peak RSS)


def lenet_model():
    torch.manual_seed(0)
    return models.build("lenet_300_100", 1, 28, 10).to(DEVICE)


def bench_lenet(root, epochs=3):
    dataset = data.to(data.load("fashion_mnist", root), DEVICE)
    hp = Config(epochs=epochs, batch_size=128)
    ipe = iterations_per_epoch(dataset, hp.batch_size)
    model = lenet_model()
    layers = pruning.prunable_layers(model)
    mask = pruning.prune(pruning.weights(model, layers), pruning.full_mask(model, layers), "magnitude", 0.5,
                         dense=["fc"])
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "checkpoint.pt"

        def as_a_run_trains():
            train(model, dataset, hp, start=0, end=epochs * ipe, seed=0, mask=mask, checkpoint=checkpoint)
            checkpoint.unlink()  # else the next repeat would resume from it

        ours = timed(as_a_run_trains) / epochs
        opt = torch.optim.SGD(model.parameters(), lr=0.1)  # no momentum buffer: LeNet's settings use none
        per_checkpoint = timed(lambda: save_checkpoint(checkpoint, "train", ipe, ipe, model, opt), repeats=9)

    plain = lenet_model()
    x_all, y_all = data.normalise(dataset, dataset.train_x), dataset.train_y
    opt = torch.optim.SGD(plain.parameters(), lr=0.1)

    def plain_epochs():
        for _ in range(epochs):
            order = torch.randperm(len(y_all), device=DEVICE)
            for i in range(0, len(y_all), 128):
                idx = order[i:i + 128]
                loss = F.cross_entropy(plain(x_all[idx]), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

    floor = timed(plain_epochs) / epochs
    print(f"lenet_300_100 fashion_mnist: {ours:.3f} s/epoch as a run trains "
          f"(one checkpoint: {1000 * per_checkpoint:.0f} ms, {100 * per_checkpoint / ours:.1f} % of an epoch), "
          f"peak {peak_gb():.1f} GB (plain PyTorch loop: {floor:.3f} s/epoch, ratio {ours / floor:.2f})")


def bench_resnet20(iters):
    g = torch.Generator().manual_seed(0)
    n = 128 * iters
    dataset = data.Dataset("random_cifar10", torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                         torch.randint(0, 10, (n,), generator=g), torch.zeros(0, 3, 32, 32, dtype=torch.uint8),
                         torch.zeros(0, dtype=torch.long), (0.49, 0.48, 0.45), (0.25, 0.24, 0.26), 10, True, 4)
    dataset = data.to(dataset, DEVICE)
    torch.manual_seed(0)
    model = models.build("resnet20", 3, 32, 10).to(DEVICE)
    mask = pruning.full_mask(model, pruning.prunable_layers(model))
    hp = Config(epochs=1, batch_size=128, momentum=0.9, weight_decay=1e-4)
    t = timed(lambda: train(model, dataset, hp, start=0, end=iters, seed=0, mask=mask))
    print(f"resnet20 cifar10 (random data, batch 128, {iters} it): {t / iters:.3f} s/iter, peak {peak_gb():.1f} GB")


def bench_small_settings():
    """s/epoch of the small preset's settings at their batch sizes (lth.cost.seconds_per_epoch, random data)."""
    from lth import cost, presets

    times = {}
    for name, s in presets.get("small").settings.items():
        times[name] = cost.seconds_per_epoch(Config.of(s), DEVICE, iterations=20)[0]
        print(f"small {name}: {times[name]:.3f} s/epoch (batch {s['batch_size']}, {s['train_size']} images)")
    return times


def side_by_side():
    """Each mode in its own process (a process has one), then the small preset's settings side by side."""
    times = {}
    for mode in ("native", "portable"):
        print(f"--- {mode} kernels", flush=True)
        p = subprocess.run([sys.executable, __file__, mode], stdout=subprocess.PIPE, text=True, check=True)
        print(p.stdout.rsplit("\n", 2)[0])
        times[mode] = json.loads(p.stdout.strip().splitlines()[-1])
    for name, native in times["native"].items():
        portable = times["portable"][name]
        print(f"{name}: native {native:.3f}, portable {portable:.3f} s/epoch, ratio {portable / native:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 1:
        side_by_side()
    else:
        make_deterministic(portable=sys.argv[1] == "portable")
        print(f"device: {DEVICE}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{torch.backends.cpu.get_cpu_capability()} kernels")
        bench_lenet(os.environ.get("LTH_DATA", "data"))
        bench_resnet20(int(os.environ.get("BENCH_RESNET_ITERS", 20 if DEVICE == "cpu" else 200)))
        print(json.dumps(bench_small_settings()))
