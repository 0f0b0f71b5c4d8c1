"""SGD training of a masked model: the paper's Appendix A.4 schedule, deterministic by seed and resumable."""

import io
import json
import math
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from lth import store
from lth.data import batches, test_batches
from lth.regime import learning_rate


def derive_seed(seed, *keys):
    """An independent 63-bit seed for each use of the run's seed (init, an epoch, a round)."""
    words = [seed, *(k if isinstance(k, int) else int.from_bytes(k.encode(), "little") for k in keys)]
    return int(np.random.SeedSequence(words).generate_state(2, np.uint64)[0] >> np.uint64(1))


def iterations_per_epoch(data, batch_size):
    return math.ceil(len(data.train_y) / batch_size)


def save(obj, path):
    """torch.save, atomically (a kill never leaves a truncated file), with a one-line error on a full disk.

    Saved through a buffer, the bytes depend on ``obj`` alone (torch.save to a path writes the path's name
    into the file), so a run's identity can digest a state dict file by its content."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    store.write_atomic(path, buffer.getbuffer())


def save_checkpoint(checkpoint, stage, it, ipe, model, opt):
    """A stage's state after iteration ``it``, and beside it a summary readable without torch (``.json``)."""
    save(dict(stage=stage, iteration=it, model=model.state_dict(), optimizer=opt.state_dict()), checkpoint)
    store.write_atomic(store.checkpoint_summary(checkpoint), json.dumps(dict(stage=stage, epoch=it // ipe)).encode())


def train(model, data, config, *, start, end, seed, mask=None, stage="train", checkpoint=None):
    """Train iterations [start, end) with a fresh optimizer; pruned weights stay exactly 0.

    Epoch e always sees the same batches (order and augmentation drawn from ``(seed, e)``), so
    training from the rewind point k replays exactly what the dense run saw after iteration k.

    ``checkpoint``: a file that holds this ``stage``'s state (weights, optimizer, iteration) at the
    end of every epoch, with a summary readable without torch beside it (``.json``). If it holds
    a state of the same stage, training continues from there, bitwise as if never interrupted.
    """
    device = next(model.parameters()).device
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    masked = [(model.get_submodule(n).weight, m.to(device, torch.float32)) for n, m in (mask or {}).items()
              if not m.all()]
    ipe = iterations_per_epoch(data, config.batch_size)
    it = start
    if checkpoint and Path(checkpoint).exists():
        try:
            state = torch.load(checkpoint, map_location=device, weights_only=True)
        except Exception as e:  # cut short by a partial copy, say: this stage trains again from its start
            print(f"{checkpoint} cannot be read ({store.one_line(e)}): training {_label(stage)} again from its start")
            state = {"stage": None}
        if state["stage"] == stage:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            it = state["iteration"]
    model.train()
    losses = torch.zeros(ipe, device=device)  # this epoch's, checked once at its end: no host sync per iteration
    bar = tqdm(total=end - start, initial=it - start, desc=stage, unit="it", leave=False, disable=None)
    while it < end:
        epoch, first = divmod(it, ipe)
        last = min(ipe, first + end - it)
        for j, (x, y) in enumerate(batches(data, config.batch_size, derive_seed(seed, "epoch", epoch), first, last)):
            for group in opt.param_groups:
                group["lr"] = learning_rate(config, it, ipe)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for w, m in masked:
                    w.mul_(m)
                losses[j] = loss
            it += 1
        _check_losses(losses[:last - first], stage, it - (last - first), config)
        bar.update(last - first)
        bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
        if checkpoint and it < end:
            save_checkpoint(checkpoint, stage, it, ipe, model, opt)
    bar.close()
    if not torch.stack([p.isfinite().all() for p in model.parameters()]).all():
        raise Diverged(f"training diverged in {_label(stage)} by iteration {end} (weights not finite); try a lower lr "
                       f"(lr={config.lr:g})")
    return model


class Diverged(ArithmeticError):
    """The loss or the weights stopped being finite: no result of this stage is valid."""


def _label(stage):
    return "pretraining" if stage == "pretrain" else stage


def _check_losses(losses, stage, first, config):
    """Raise Diverged, naming the first iteration whose loss is not finite (``losses[i]`` is iteration first + i)."""
    bad = ~losses.isfinite()
    if bad.any():
        i = int(bad.nonzero()[0])
        raise Diverged(f"training diverged in {_label(stage)} at iteration {first + i} (loss {losses[i].item():g}); "
                       f"try a lower lr (lr={config.lr:g})")


@torch.no_grad()
def evaluate(model, data, batch_size=1000):
    """Top-1 test accuracy in percent."""
    model.eval()
    correct = 0
    for x, y in test_batches(data, batch_size):
        correct += int((model(x).argmax(1) == y).sum())
    return 100.0 * correct / len(data.test_y)
