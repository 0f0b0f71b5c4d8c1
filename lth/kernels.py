"""Portable mode: CPU kernels that give the same bits on every x86-64 CPU with AVX2 and FMA, Intel or AMD.

Each library a CPU run uses picks its kernels for the CPU it finds, and kernels of different vector widths (or
written for different vendors) sum in different orders. ``PORTABLE`` pins each one, read when its first kernel runs:

- ATen (PyTorch's own kernels, and the random draws of weight initialisation): its AVX2 kernels;
- oneDNN (convolutions, BatchNorm): at most AVX2 instructions; its kernels are chosen by instruction set alone;
- MKL (the matrix products of linear layers): conditional numerical reproducibility in its ``COMPATIBLE`` branch,
  the one branch MKL applies on every vendor's CPU (it ignores ``AVX2`` on AMD CPUs and picks by vendor).

``check_cpu`` reads the CPU's own feature flags (CPUID, through NumPy's detection) before any kernel runs: ATen
trusts ``ATEN_CPU_CAPABILITY=avx2`` without checking, and a CPU without AVX2 would die on its first kernel.

``make_deterministic`` sets every kernel choice a run depends on, once, before the process's first kernel; ``python
-m lth.portable`` (lth/portable.py) checks that a machine gives this repository's bits.
"""

import os

PORTABLE = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE,STRICT"}
NEEDED = ("AVX2", "FMA3")  # what ATen's and oneDNN's AVX2 kernels execute (NumPy's names for the CPUID flags)


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


def make_deterministic(portable=False):
    """Bitwise-reproducible kernels: same seed and config, same weights (``portable``: on every x86-64 CPU with AVX2
    and FMA, Intel or AMD; else on CPUs of the same kind). Called before the process's first CPU kernel; raises
    ``NotPortable`` (one line) on a CPU outside the portable baseline.

    One CPU thread, also where training runs on a GPU (pruning and its metrics run on the CPU): CPU kernels
    split their sums by thread count, so a run on 2 threads and one on 8 would differ in the last bits (and
    then in their masks). Runs go in parallel instead (`make -j N`)."""
    import torch

    if portable:
        enable()
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(1)
