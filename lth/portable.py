"""Portable mode: CPU kernels that give the same bits on every x86-64 CPU with AVX2 and FMA, Intel or AMD.

Each library a CPU run uses picks its kernels for the CPU it finds, and kernels of different vector widths (or
written for different vendors) sum in different orders. ``PORTABLE`` pins each one, read when its first kernel runs:

- ATen (PyTorch's own kernels, and the random draws of weight initialisation): its AVX2 kernels;
- oneDNN (convolutions, BatchNorm): at most AVX2 instructions; its kernels are chosen by instruction set alone;
- MKL (the matrix products of linear layers): conditional numerical reproducibility in its ``COMPATIBLE`` branch,
  the one branch MKL applies on every vendor's CPU (it ignores ``AVX2`` on AMD CPUs and picks by vendor).

``check_cpu`` reads the CPU's own feature flags (CPUID, through NumPy's detection) before any kernel runs: ATen
trusts ``ATEN_CPU_CAPABILITY=avx2`` without checking, and a CPU without AVX2 would die on its first kernel.

``python -m lth.portable`` runs ``probe`` (seconds; minutes under an emulator) and compares its digests with the
committed ones (``lth/portable_digests.csv``): the quickest check that a machine gives this repository's bits.
"""

import csv
import os
import sys
from pathlib import Path

PORTABLE = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE,STRICT"}
NEEDED = ("AVX2", "FMA3")  # what ATen's and oneDNN's AVX2 kernels execute (NumPy's names for the CPUID flags)
DIGESTS = Path(__file__).with_name("portable_digests.csv")


class NotPortable(RuntimeError):
    """Portable mode cannot hold in this process: the CPU lacks AVX2 or FMA, or CPU kernels ran before it was set."""


def cpu_features():
    """The CPU's features as its CPUID reports them (and the OS enables), by NumPy's runtime detection."""
    from numpy._core._multiarray_umath import __cpu_features__

    return __cpu_features__


def check_cpu():
    """Raise NotPortable, one line, if this CPU cannot run the portable kernels."""
    if missing := [f for f in NEEDED if not cpu_features().get(f)]:
        raise NotPortable(f"portable=True needs an x86-64 CPU with AVX2 and FMA; this CPU lacks {', '.join(missing)} "
                          "(run with portable=False: its results are bitwise only on CPUs like this one)")


def enable():
    """Check the CPU, then pin every library's kernels (``PORTABLE``). Call before the process's first CPU kernel;
    raises NotPortable if kernels ran already."""
    import torch

    check_cpu()
    os.environ.update(PORTABLE)
    if (found := torch.backends.cpu.get_cpu_capability()) != "AVX2":
        raise NotPortable(f"portable=True must be set before the process's first CPU kernel; this process runs "
                          f"{found} kernels already")


def settings():
    """The settings the presets train on a CPU (``small`` and ``smoke``), one per model and dataset."""
    from lth import config, presets

    found = {}
    for preset in ("small", "smoke"):
        for s in presets.check(preset)["settings"].values():
            found.setdefault(f"{s['model']}_{s['dataset']}", dict(config.defaults(), **s, device="cpu"))
    return found


def probe(data_root=None, only=None):
    """{setting: digest} of the shortest computation that runs every CPU kernel of a run, per ``settings()``: two
    LTR rounds on three batches of the training set (initialisation, augmentation, training steps with the
    setting's optimizer, evaluation on 100 test images, magnitude pruning), then every registry metric's mask
    of round 0's ticket (``only``: of those settings alone). Equal digests: equal bits."""
    import hashlib
    import tempfile

    import torch

    from lth import data as data_, importance, models, pruning, store, tickets
    from lth.ltr import lottery_ticket_rewinding
    from lth.training import Hparams, derive_seed

    out = {}
    for name, s in settings().items():
        if only is not None and name not in only:
            continue
        data = data_.subset(data_.load(s["dataset"], data_root or s["data_root"], download=False),
                            3 * s["batch_size"], 100)
        torch.manual_seed(derive_seed(0, "init"))
        net = models.build(s["model"], data.train_x.shape[1], data.train_x.shape[-1], data.num_classes)
        layers = pruning.prunable_layers(net)
        dense = [] if s["prune_output"] else [models.roles(net).output]
        hp = Hparams(1, s["batch_size"], s["lr"], s["momentum"], s["weight_decay"], (), rewind_iter=1)
        with tempfile.TemporaryDirectory() as tmp:
            found = lottery_ticket_rewinding(net, data, hp, layers, importance="magnitude", rounds=1, fraction=0.2,
                                             seed=0, workdir=tmp, dense=dense)
            init, rewind = ({n: torch.load(Path(tmp) / f, weights_only=True)[f"{n}.weight"] for n in layers}
                            for f in (store.INIT, store.REWIND))
        h = hashlib.sha256(" ".join(tickets.digest(t) for t in found).encode())
        for metric in [*importance.IMPORTANCE, *importance.OPTIONAL]:
            mask = pruning.prune(found[0]["trained"], found[0]["mask"], metric, 0.2, seed=derive_seed(0, "prune", 0),
                                 dense=dense, init=init, rewind=rewind)
            h.update(tickets.digest(dict(mask=mask, trained={})).encode())
        out[name] = h.hexdigest()[:16]
    return out


def committed():
    with open(DIGESTS) as f:
        return {r["setting"]: r["digest"] for r in csv.DictReader(f)}


def main(argv):
    """``python -m lth.portable [SETTING ...]``: the probe's digests (of those settings alone, where named) against
    the committed ones, a line per setting; exit 1 if any differs. ``--write``: write them as the committed ones."""
    from lth.training import make_deterministic

    only, known = argv[1:], settings()
    if only != ["--write"] and (unknown := [a for a in only if a not in known]):
        sys.exit(f"python -m lth.portable takes --write or settings ({', '.join(known)}), not {' '.join(unknown)!r}")
    try:
        make_deterministic(portable=True)
    except NotPortable as e:
        sys.exit(str(e))
    found = probe(only=only if only and only != ["--write"] else None)
    if argv[1:] == ["--write"]:
        with open(DIGESTS, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["setting", "digest"])
            w.writerows(found.items())
        return
    theirs = committed()
    for name, d in found.items():
        print(f"{name}: {d} " + ("bitwise equal to lth/portable_digests.csv" if theirs.get(name) == d else
                                 f"DIFFERS from lth/portable_digests.csv ({theirs.get(name)})"))
    if any(theirs.get(n) != d for n, d in found.items()):
        sys.exit("this machine's portable kernels give other bits than the committed digests")


if __name__ == "__main__":
    main(sys.argv)
