"""A ticket (``mask``, ``trained`` weights, ``test_accuracy``) and its round file: stored sparse (``pack``), read back
bitwise (``unpack``, ``load_ticket``), named by its digest; and what Section 5's experiments do with tickets:
where several tickets overlap (``intersection``) and the partial reinitialisation (``partial_reinit``).

A mask maps a layer's name to a bool tensor (True = unpruned), as in ``lth.pruning``.
"""

import hashlib
import math
from pathlib import Path

import numpy as np
import torch

from lth import store


def load_file(path):
    """A stored file of a run; one that cannot be read raises lth.store.Damaged, one line naming it."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # PyTorch's reader raises RuntimeError, EOFError, UnpicklingError, ...
        raise store.damaged(path, store.one_line(e)) from None


def digest(ticket):
    """A ticket's digest: SHA-256 (its first 16 hex digits) of its mask and trained weights, every tensor's name,
    dtype, shape and bytes in order. Two runs' tickets have one digest only if they are bitwise equal."""
    h = hashlib.sha256()
    for part in ("mask", "trained"):
        for name, t in sorted(ticket[part].items()):
            h.update(f"{part}/{name}/{t.dtype}/{tuple(t.shape)}".encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def load_ticket(run_path, round):
    """Round ``round`` of an LTR run: a dict with ``mask``, ``trained`` (and ``test_accuracy``)."""
    return unpack(load_file(Path(run_path) / store.round_file(round)))


def pack(ticket):
    """A ticket as its round file stores it: per layer the mask as bits, the trained weights where it is unpruned,
    and a bit for the sign of each pruned one (a zero, +0.0 or -0.0, as ``lth.pruning.apply_mask`` leaves it): about
    0.25 + 4 x density bytes per prunable weight instead of 5. ``unpack`` gives the ticket back bitwise; one with a
    pruned weight that is not zero is stored as it is."""
    mask, trained = ticket["mask"], ticket["trained"]
    if any(trained[n][~m].any() for n, m in mask.items()):
        return ticket
    return dict(ticket, shapes={n: tuple(m.shape) for n, m in mask.items()},
                mask={n: _bits(m) for n, m in mask.items()}, trained={n: trained[n][m] for n, m in mask.items()},
                signs={n: _bits(torch.signbit(trained[n][~m])) for n, m in mask.items()})


def unpack(stored):
    """The ticket of a round file (``pack``); one stored as it is (as every round was before packing) unchanged."""
    if "shapes" not in stored:
        return stored
    mask, trained = {}, {}
    for n, shape in stored["shapes"].items():
        kept = _unbits(stored["mask"][n], math.prod(shape))
        values = stored["trained"][n].numpy()
        weights = np.zeros(kept.size, dtype=values.dtype)
        weights[kept] = values
        weights[~kept] = np.where(_unbits(stored["signs"][n], int(kept.size - kept.sum())), -0.0, 0.0)
        mask[n], trained[n] = torch.from_numpy(kept).reshape(shape), torch.from_numpy(weights).reshape(shape)
    return {k: v for k, v in stored.items() if k not in ("shapes", "signs")} | dict(mask=mask, trained=trained)


def _bits(flags):
    return torch.from_numpy(np.packbits(flags.reshape(-1).numpy()))


def _unbits(bits, n):
    """The first ``n`` flags of packed ``bits``, as a NumPy bool array."""
    return np.unpackbits(bits.numpy(), count=n).astype(bool)


def load_history(run_path, last_round):
    """Layer -> tensor (last_round + 1, *weight shape): the trained weights of rounds 0..last_round."""
    trained = [load_ticket(run_path, i)["trained"] for i in range(last_round + 1)]
    return {layer: torch.stack([t[layer] for t in trained]) for layer in trained[0]}


def _first_difference(a, b):
    """The first key at which two dicts of tensors are not bitwise equal, or None."""
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b or a[key].dtype != b[key].dtype or not torch.equal(a[key], b[key]):
            return key
    return None


def check_same_dense(run_paths):
    """Raise ValueError unless the runs share theta_0 (init.pt) and the dense round 0 bitwise.

    Only then do their tickets come from one initialisation and differ by the metric alone, which
    is what makes their overlap meaningful.
    """
    paths = [Path(p) for p in run_paths]
    if tuple(paths) in _SAME_DENSE:  # checked already in this process (round 0 and theta_0 never change)
        return
    for file, part in ((store.INIT, None), (store.round_file(0), "trained")):
        states = [load_ticket(p, 0)[part] if part else load_file(p / file) for p in paths]
        for p, state in zip(paths[1:], states[1:]):
            key = _first_difference(states[0], state)
            if key is not None:
                what = f"{file} {part}[{key!r}]" if part else f"{file}[{key!r}]"
                raise ValueError(f"run {p} differs from run {paths[0]} at {what}: not one dense network")
    _SAME_DENSE.add(tuple(paths))


_SAME_DENSE = set()


def layers_of(masks):
    """The layers of the masks, in order; they must agree in names and shapes."""
    masks = list(masks)
    if not masks:
        raise ValueError("no masks given")
    for m in masks[1:]:
        if list(m) != list(masks[0]) or any(m[n].shape != masks[0][n].shape for n in m):
            raise ValueError(f"masks have different layers or shapes: {list(masks[0])} vs {list(m)}")
    return list(masks[0])


def intersection(masks):
    """Layer -> bool tensor: True where the connection is unpruned in every ticket."""
    return {n: torch.stack([m[n].bool() for m in masks]).all(0) for n in layers_of(masks)}


def partial_reinit(theta_0, keep, seed):
    """Section 5.1's initialisation: theta_0 at the ``keep`` connections, every other prunable weight
    redrawn from the same Kaiming normal (seeded by ``seed``); biases and BatchNorm stay theta_0's."""
    g = torch.Generator().manual_seed(seed)
    new = {k: v.clone() for k, v in theta_0.items()}
    for layer, k in keep.items():
        w = theta_0[f"{layer}.weight"]
        fresh = torch.nn.init.kaiming_normal_(torch.empty_like(w), generator=g)
        new[f"{layer}.weight"] = torch.where(k, w, fresh)
    return new
