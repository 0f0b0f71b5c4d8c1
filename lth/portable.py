"""``python -m lth.portable [SETTING ...]``: does this machine give this repository's bits?

Runs ``probe``, the shortest computation that runs every CPU kernel of a run (seconds; minutes under an emulator),
in portable mode (lth/kernels.py), and compares its digests with the committed ones (``lth/portable_digests.csv``).
"""

import csv
import hashlib
import sys
import tempfile
from pathlib import Path

import torch

from lth import config, data, importance, kernels, presets, pruning, store, tickets
from lth.ltr import initialise, lottery_ticket_rewinding
from lth.training import derive_seed

DIGESTS = Path(__file__).with_name("portable_digests.csv")


def settings():
    """The settings the presets train on a CPU (``small`` and ``smoke``), one per model and dataset."""
    found = {}
    for preset in ("small", "smoke"):
        for s in presets.get(preset).settings.values():
            found.setdefault(f"{s.model}_{s.dataset}", s.replace(data_root=config.data_dir(), device="cpu"))
    return found


def probe(data_root=None, only=None):
    """{setting: digest} of the shortest computation that runs every CPU kernel of a run, per ``settings()``: two
    LTR rounds on three batches of the training set (initialisation, augmentation, training steps with the
    setting's optimizer, evaluation on 100 test images, magnitude pruning), then every registry metric's mask
    of round 0's ticket (``only``: of those settings alone). Equal digests: equal bits."""
    out = {}
    for name, s in settings().items():
        if only is not None and name not in only:
            continue
        loaded = data.subset(data.load(s["dataset"], data_root or s["data_root"], download=False),
                             3 * s["batch_size"], 100)
        net, layers, dense, _ = initialise(s, loaded.train_x.shape[1], loaded.train_x.shape[-1], loaded.num_classes)
        schedule = s.replace(epochs=1, milestones=(), rewind_iter=1)
        with tempfile.TemporaryDirectory() as tmp:
            found = lottery_ticket_rewinding(net, loaded, schedule, layers, importance="magnitude", rounds=1,
                                             fraction=0.2, seed=0, workdir=tmp, dense=dense)
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
    only, known = argv[1:], settings()
    if only != ["--write"] and (unknown := [a for a in only if a not in known]):
        sys.exit(f"python -m lth.portable takes --write or settings ({', '.join(known)}), not {' '.join(unknown)!r}")
    try:
        kernels.make_deterministic(portable=True)
    except kernels.NotPortable as e:
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
