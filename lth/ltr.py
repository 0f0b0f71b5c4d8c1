"""Lottery Ticket Rewinding with an importance metric: the paper's Algorithm 2.

Every stage writes its result to ``workdir`` (``init.pt``, ``rewind.pt``, ``round_{i}.pt``) and is
skipped when that file exists; within a stage, training saves its state at the end of every epoch
(``checkpoint.pt``). So a run killed at any moment and started again loses at most one epoch and
ends bitwise as an uninterrupted run would; a stored file that cannot be read is computed anew.
"""

from pathlib import Path

import torch
from tqdm.auto import tqdm

from lth import models, store
from lth.importance import resolve
from lth.pruning import apply_mask, density, full_mask, prunable_layers, prune, weights
from lth.tickets import pack, unpack
from lth.training import derive_seed, evaluate, iterations_per_epoch, save, train


def initialise(config, channels, size, classes):
    """Algorithm 2's step 1, as every run, probe and benchmark takes it: the config's model for images of
    ``channels`` x ``size`` x ``size`` and ``classes`` classes, drawn from its seed (theta_0; loaded from ``init``
    where given), on its device; its prunable layers, those kept dense (its output layer, unless ``prune_output``)
    and its roles (``lth.models.Roles``)."""
    torch.manual_seed(derive_seed(config.seed, "init"))
    net = models.build(config.model, channels, size, classes)
    if config.init:
        net.load_state_dict(torch.load(config.init, weights_only=True))
    net = net.to(config.device or "cpu")
    layers, roles = prunable_layers(net), models.roles(net)
    return net, layers, [] if config.prune_output else [roles.output], roles


def lottery_ticket_rewinding(model, data, config, layers, *, importance, rounds, fraction, seed, workdir, dense=(),
                             log=None):
    """Return the tickets of rounds 0..``rounds``: dicts of ``mask``, ``trained``, ``test_accuracy``.

    ``model`` comes initialised (theta_0); ``layers`` are the names of its prunable layers, of which
    those in ``dense`` are never pruned (but counted, as OpenLTH counts them); ``log(i, ticket, path)``
    is called once per round, also for rounds loaded on resume.
    """
    workdir, metric = Path(workdir), resolve(importance)  # the metric's function, found once
    workdir.mkdir(parents=True, exist_ok=True)
    k, m = config.rewind_iter, config.epochs * iterations_per_epoch(data, config.batch_size)
    checkpoint = workdir / store.CHECKPOINT

    def rewind(state, mask=None):
        model.load_state_dict(state)
        if mask is not None:
            apply_mask(model, mask)

    def pretrain():
        train(model, data, config, start=0, end=k, seed=seed, stage="pretrain", checkpoint=checkpoint)
        return snapshot(model)

    def train_ticket(mask, i):
        rewind(theta_0k, mask)
        train(model, data, config, start=k, end=m, seed=seed, mask=mask, stage=f"round {i}", checkpoint=checkpoint)
        return {"mask": mask, "trained": weights(model, layers), "test_accuracy": evaluate(model, data)}

    theta_0 = cached(workdir / store.INIT, lambda: snapshot(model))  # 1. initialise
    rewind(theta_0)
    theta_0k = cached(workdir / store.REWIND, pretrain)  # 2. pretrain k iterations: the rewind point
    mask = full_mask(model, layers)
    init, rewound = ({n: state[f"{n}.weight"] for n in layers} for state in (theta_0, theta_0k))  # for the metric
    tickets = []
    bar = tqdm(range(rounds + 1), desc="LTR", unit="round", disable=None)
    for i in bar:  # 3. each round: rewind, train, score with the importance metric and prune
        path = workdir / store.round_file(i)
        ticket = unpack(cached(path, lambda: pack(train_ticket(mask, i))))  # stored sparse, bitwise the same
        tickets.append(ticket)
        bar.set_postfix(accuracy=f"{ticket['test_accuracy']:.2f}", density=f"{density(ticket['mask']):.4f}")
        if log:
            log(i, ticket, path)
        if i < rounds:
            mask = prune(ticket["trained"], ticket["mask"], metric, fraction, seed=derive_seed(seed, "prune", i),
                         dense=dense, init=init, rewind=rewound)
    rewind(theta_0k, mask)
    store.remove_checkpoint(checkpoint)
    return tickets


def snapshot(model):
    """A CPU copy of the full state (weights, BatchNorm statistics): what rewinding restores."""
    return {n: t.detach().cpu().clone() for n, t in model.state_dict().items()}


def cached(path, make):
    """Load ``path`` if a previous run completed it; else make it and save it atomically. A file that cannot be
    read (cut short by a partial copy, say) is made anew, and says so: every stage is deterministic, so the run
    still ends bitwise as an uninterrupted run would."""
    if path.exists():
        try:
            return torch.load(path, weights_only=True)
        except Exception as e:  # PyTorch's reader raises RuntimeError, EOFError, UnpicklingError, ...
            print(f"{path} cannot be read ({store.one_line(e)}): computing it anew")
    obj = make()
    save(obj, path)
    return obj
