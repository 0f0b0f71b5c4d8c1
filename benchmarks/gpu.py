"""The GPU check: the paper's four settings on one GPU in a few minutes, without Sacred.

    python3 benchmarks/gpu.py --out benchmarks/gpu-results                 # on a GPU (default: cuda if there)
    .venv/bin/python benchmarks/gpu.py --device cpu --quick --out /tmp/gpu  # the same code path on a CPU, in seconds

Per setting of lth/presets.py's PAPER (its model, batch size, hyperparameters and prune_output), on random
data of its dataset's shape (lth.data.random_like), through the project's own code (lth.ltr's set-up and LTR
loop, lth.training.train, lth.pruning, lth.models), under lth.kernels.make_deterministic:

1. deterministic: two runs from one seed, each through the LTR loop every run goes through
   (lth.ltr.lottery_ticket_rewinding, magnitude, rounds 0 and 1), on a short schedule of 3 epochs; bitwise-equal
   rewind point, masks, trained weights and accuracies, or the first tensor that differs.
2. resume bitwise: a third run from the first's theta_0, rewind point and round 0, its round 1 stopped in its
   last epoch as a killed process stops, then run again by the loop in a model built anew, resuming from the
   checkpoint ``train`` saved at the end of the epoch before: bitwise equal to the uninterrupted round 1.
3. s/epoch: ``train`` with the first run's mask (as a pruned round trains), warm, extrapolated to the real
   dataset's epoch (plus one checkpoint's save), against a plain PyTorch loop over the same model and batches
   held in memory, under the same deterministic kernels and, last, with cuDNN's fastest (nondeterministic)
   ones; one test-set pass; peak memory.
4. hours: the paper preset's device-hours from those times, by lth.cost.price (what `sweep plan paper` uses).

One table at the end, printed and written to ``--out`` as gpu.json and gpu.md. An operation with no deterministic
kernel (a RuntimeError under use_deterministic_algorithms) or any other error is reported in its setting's row.
"""

import argparse
import json
import platform
import resource
import shutil
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager, suppress
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a plain checkout (no pip install -e)

from lth import cost, data, ltr, presets, store  # noqa: E402
from lth.ltr import initialise, lottery_ticket_rewinding  # noqa: E402
from lth.pruning import full_mask, prune, weights  # noqa: E402
from lth.kernels import make_deterministic  # noqa: E402
from lth.config import Config  # noqa: E402
from lth.training import evaluate, iterations_per_epoch, save_checkpoint, train  # noqa: E402

PRESET = "paper"
SEED = 0
EPOCHS = 3  # of the determinism runs: round 1 is stopped in the third and resumed from the end of the second
# Iterations per epoch of the determinism runs, timed iterations of the speed test (fewer only where the budget
# would not hold them), warm-up iterations, test images (None: the dataset's), batch size (None: the setting's),
# seconds for the whole check.
FULL = dict(ipe=50, speed=200, warmup=10, test=None, batch=None, budget=450.0)
QUICK = dict(ipe=2, speed=2, warmup=1, test=16, batch=2, budget=300.0)
# Relative cost of one iteration (ms on an H200, guessed): how the time budget is shared among the settings.
WEIGHT = {"lenet_300_100_mnist": 1, "resnet20_cifar10": 8, "vgg16_cifar10": 15, "resnet18_tinyimagenet": 45}


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, fn):
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def fresh_model(s, device):
    """The setting's model as every run builds it (lth.ltr.initialise), its prunable layers and the ones kept
    dense."""
    model, layers, dense, _ = initialise(Config.of(s, seed=SEED, device=str(device)), *data.SHAPES[s["dataset"]][:3])
    return model, layers, dense


def short_schedule(s, batch, ipe):
    """The setting's hyperparameters on 3 epochs of ``ipe`` iterations: k = a quarter epoch, and where the paper's
    learning rate drops, a drop after epoch 2 (so that the resumed epoch runs at the dropped rate)."""
    return Config(epochs=EPOCHS, batch_size=batch, lr=s["lr"], momentum=s["momentum"],
                  weight_decay=s["weight_decay"], milestones=(2,) if s["milestones"] else (),
                  rewind_iter=max(1, ipe // 4))


class Killed(Exception):
    """A run stopped as a killed process stops: what it saved stays, nothing after."""


@contextmanager
def killed_in(stage, at):
    """The LTR loop's training of ``stage`` stopped at iteration ``at`` (by the loop's own ``train``)."""
    def stopped(*args, end, stage=stage, **kwargs):
        if stage != killed_stage:
            return train(*args, end=end, stage=stage, **kwargs)
        train(*args, end=at, stage=stage, **kwargs)
        raise Killed

    killed_stage, ltr.train = stage, stopped
    try:
        yield
    finally:
        ltr.train = train


def ltr_two_rounds(s, dataset, config, device, workdir, resume_from=None):
    """Rounds 0 and 1 of a run, through the LTR loop every run goes through (lth.ltr.lottery_ticket_rewinding,
    magnitude): {name: CPU tensor} of what it keeps (the rewind point; each round's mask, trained weights and test
    accuracy).

    ``resume_from``: the folder of another run, whose theta_0, rewind point and round 0 are copied; round 1 is then
    stopped in its last epoch and, as a restarted process would, run again by the loop in a model built anew, from
    what the stopped one saved. Returns (tensors, the epoch round 1 resumed at or None)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    def run():
        model, layers, dense = fresh_model(s, device)
        return lottery_ticket_rewinding(model, dataset, config, layers, importance="magnitude", rounds=1,
                                        fraction=s["prune_fraction"], seed=SEED, workdir=workdir, dense=dense)

    resumed_at = None
    if resume_from:
        for name in (store.INIT, store.REWIND, store.round_file(0)):
            shutil.copyfile(Path(resume_from) / name, workdir / name)
        ipe = iterations_per_epoch(dataset, config.batch_size)
        with killed_in("round 1", (config.epochs - 1) * ipe + max(1, ipe // 2)), suppress(Killed):
            run()
        resumed_at = json.loads(store.checkpoint_summary(workdir / store.CHECKPOINT).read_text())["epoch"]
    tickets = run()
    kept = {"rewind": torch.load(workdir / store.REWIND, weights_only=True)}
    for i, ticket in enumerate(tickets):
        kept |= {f"round {i}/mask": ticket["mask"], f"round {i}/trained": ticket["trained"],
                 f"round {i}/accuracy": {"test": torch.tensor(ticket["test_accuracy"], dtype=torch.float64)}}
    return {f"{part}/{n}": t for part, tensors in kept.items() for n, t in tensors.items()}, resumed_at


def first_difference(a, b):
    """None if ``a`` and ``b`` hold the same names and bitwise-equal tensors; else the first name that differs,
    with by how much."""
    for name in a:
        x, y = a[name], b.get(name)
        if y is None or x.dtype != y.dtype or x.shape != y.shape:
            return f"{name} (missing or of another shape)"
        if not torch.equal(x.contiguous().view(-1).view(torch.uint8), y.contiguous().view(-1).view(torch.uint8)):
            if x.dtype == torch.bool:
                return f"{name} ({int((x != y).sum())} entries)"
            return f"{name} (max |difference| {float((x.double() - y.double()).abs().max()):.1e})"
    return next((f"{n} (missing)" for n in b if n not in a), None)


def plain_loop(model, s, x, y, batch, iterations):
    """A minimal PyTorch epoch: SGD with the setting's hyperparameters over normalised batches held in memory."""
    opt = torch.optim.SGD(model.parameters(), lr=s["lr"], momentum=s["momentum"], weight_decay=s["weight_decay"])
    order = torch.randperm(len(y), device=y.device)
    model.train()
    for i in range(iterations):
        idx = order[i * batch:(i + 1) * batch]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def fast_kernels(device):
    """cuDNN's autotuned kernels, nondeterministic allowed: what a run would cost without make_deterministic."""
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.benchmark = True


def peak_memory_gb(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # the process's peak RSS so far (KiB)


def probe(s, dataset, hp, device, iterations):
    """Seconds per iteration of ``train`` on ``dataset``, after one warm-up iteration: what the budget is planned by."""
    model, _, _ = fresh_model(s, device)
    train(model, dataset, hp, start=0, end=1, seed=SEED)
    return timed(device, lambda: train(model, dataset, hp, start=1, end=1 + iterations, seed=SEED)) / iterations


def speed(s, device, batch, sizes, mask, share, per_iteration):
    """Seconds per real epoch as the project trains (and as plain loops train), per test pass, peak memory.

    Timed iterations: ``sizes["speed"]``, fewer (down to the warm-up's number) where the three loops would not
    fit in ``share`` seconds at ``per_iteration``. The full mode holds the real training set's size on the
    device, as a run does; the quick mode only the batches it times."""
    name = s["dataset"]
    _, _, _, n_train, n_test = data.SHAPES[name]
    warmup = sizes["warmup"]
    n = max(warmup, min(sizes["speed"], int(share / 3 / per_iteration) - warmup, n_train // batch - warmup))
    n_images = batch * (warmup + n) if sizes["batch"] else n_train
    dataset = data.to(data.random_like(name, n_images, sizes["test"] or n_test, seed=1), device)
    real_ipe = -(-n_train // s["batch_size"])
    per_epoch = lambda t: t * real_ipe * s["batch_size"] / batch  # from s/iteration (by the image where batch differs)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model, _, _ = fresh_model(s, device)
    hp = Config(epochs=1, batch_size=batch, lr=s["lr"], momentum=s["momentum"], weight_decay=s["weight_decay"])
    train(model, dataset, hp, start=0, end=warmup, seed=SEED, mask=mask)
    per_iteration = timed(device, lambda: train(model, dataset, hp, start=warmup, end=warmup + n, seed=SEED,
                                                mask=mask)) / n
    with tempfile.TemporaryDirectory() as tmp:
        opt = torch.optim.SGD(model.parameters(), lr=s["lr"], momentum=s["momentum"])
        if s["momentum"]:  # the state a run's optimizer saves: a momentum buffer per parameter
            opt.state.update({p: {"momentum_buffer": torch.zeros_like(p)} for p in model.parameters()})
        checkpoint = timed(device, lambda: save_checkpoint(Path(tmp) / "c.pt", "round 1", 1, 1, model, opt))
    evaluate(model, data.subset(dataset, test_size=1000))  # warm-up: one batch of evaluate's
    # The whole test set, or where its pass (a third of a training step per image) would take over a tenth of
    # ``share``, as many batches of 1000 as fit (at least one), extrapolated.
    fit = int(0.1 * share / (per_iteration / batch / 3)) // 1000 * 1000
    test = data.subset(dataset, test_size=max(1000, min(len(dataset.test_y), fit)))
    test_pass = timed(device, lambda: evaluate(model, test)) * n_test / len(test.test_y)
    out = dict(timed_iterations=n, s_per_iteration=per_iteration, s_per_epoch=per_epoch(per_iteration) + checkpoint,
               s_per_checkpoint=checkpoint, s_per_test_pass=test_pass, memory_gb=peak_memory_gb(device))
    del model, opt
    x, y = data.normalise(dataset, dataset.train_x[:batch * (warmup + n)]), dataset.train_y[:batch * (warmup + n)]
    for key, setup in (("plain", None), ("plain_fast", fast_kernels)):
        if setup:
            setup(device)
        try:
            plain, _, _ = fresh_model(s, device)
            plain_loop(plain, s, x, y, batch, warmup)
            out[f"s_per_epoch_{key}"] = per_epoch(timed(device, lambda: plain_loop(plain, s, x, y, batch, n)) / n)
        finally:
            make_deterministic()
    return out


def check_setting(setting, s, device, sizes, share):
    """One row of the table: every check of one setting within about ``share`` seconds, each error caught and
    reported in the row."""
    row = dict(setting=setting, model=s["model"], dataset=s["dataset"], prune_output=s["prune_output"])
    batch = min(s["batch_size"], sizes["batch"] or s["batch_size"])
    row["batch"] = batch
    errors = []

    def attempt(what, fn):
        try:
            return fn()
        except Exception as e:  # a RuntimeError of use_deterministic_algorithms, out of memory, ...
            message = " ".join(str(e).split())
            op = message.split(" does not have a deterministic implementation")[0]
            errors.append(f"{what}: {op if op != message else type(e).__name__ + ': ' + message[:300]}")
            print(f"{setting}: {what} failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    dataset = data.to(data.random_like(s["dataset"], batch * sizes["ipe"], 1, seed=2), device)
    per_iteration = attempt("probe", lambda: probe(s, dataset, short_schedule(s, batch, sizes["ipe"]), device,
                                                   sizes["warmup"]))
    ipe = sizes["ipe"]
    if per_iteration:  # shorter epochs where the three runs (about 15 epochs in all) would not fit in 60 % of the share
        ipe = max(2, min(ipe, int(share * 0.6 / (15 * per_iteration))))
    hp = short_schedule(s, batch, ipe)
    dataset = data.subset(dataset, batch * ipe)
    row.update(ipe=ipe, iterations_per_run=hp.rewind_iter + 2 * (EPOCHS * ipe - hp.rewind_iter))
    with tempfile.TemporaryDirectory() as tmp:
        first, second = [attempt(f"run {i}", lambda i=i: ltr_two_rounds(s, dataset, hp, device, Path(tmp) / str(i)))
                         for i in (1, 2)]
        resumed = first and attempt("resumed run", lambda: ltr_two_rounds(s, dataset, hp, device, Path(tmp) / "3",
                                                                          resume_from=Path(tmp) / "1"))
    if first and second:
        row["first_difference"] = first_difference(first[0], second[0])
        row["deterministic"] = row["first_difference"] is None
    if resumed:
        round_1 = {n: t for n, t in first[0].items() if n.startswith("round 1/")}
        row["resume_difference"] = first_difference(round_1, {n: resumed[0][n] for n in round_1 if n in resumed[0]})
        row["resume_bitwise"] = row["resume_difference"] is None
        row["resumed_at_epoch"] = resumed[1]
    if first:
        mask = {n.split("/", 2)[2]: t for n, t in first[0].items() if n.startswith("round 1/mask/")}
    else:  # the runs failed: still time the speed with a mask of the project's pruning
        model, layers, dense = fresh_model(s, device)
        mask = prune(weights(model, layers), full_mask(model, layers), "magnitude", s["prune_fraction"], dense=dense)
    del dataset  # (the speed test's peak memory holds its own data only)
    left = share - (time.perf_counter() - start)
    row.update(attempt("speed", lambda: speed(s, device, batch, sizes, mask, left, per_iteration or 1.0)) or {})
    if "s_per_epoch_plain" in row:
        row["ratio"] = row["s_per_epoch"] / row["s_per_epoch_plain"]
    row["errors"] = errors
    row["elapsed_s"] = time.perf_counter() - start
    return row


def header(device, quick):
    cuda = device.type == "cuda"
    return dict(device=cost.device_name(device), device_type=device.type, torch=torch.__version__,
                cuda=torch.version.cuda if cuda else None,
                cudnn=torch.backends.cudnn.version() if cuda else None, python=platform.python_version(),
                threads=torch.get_num_threads(), mode="quick" if quick else "full", preset=PRESET,
                unit="GPU-hours" if cuda else "CPU-hours")


def fmt(value, spec, missing="n/a"):
    return missing if value is None else format(value, spec)


def yes_no(row, flag, difference):
    if flag not in row:
        return "n/a"
    return "yes" if row[flag] else f"no: {row[difference]}"


def markdown(report):
    h = report["header"]
    lines = [f"Device: {h['device']}; torch {h['torch']}, CUDA {h['cuda'] or 'n/a'}, cuDNN {h['cudnn'] or 'n/a'}, "
             f"Python {h['python']}, "
             f"{h['threads']} CPU thread{'s' if h['threads'] > 1 else ''}; {h['mode']} mode; "
             f"{report['elapsed_s']:.0f} s in all.", "",
             f"| setting | batch | deterministic | resume bitwise | timed it | s/epoch (project) "
             f"| s/epoch (plain loop) | ratio | s/epoch (plain, fast kernels) | s/test pass | memory GB | {h['preset']} preset {h['unit']} "
             f"| elapsed s | errors |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in report["settings"]:
        lines.append(" | ".join([
            f"| {r['setting']}", str(r.get("batch")), yes_no(r, "deterministic", "first_difference"),
            yes_no(r, "resume_bitwise", "resume_difference"), fmt(r.get("timed_iterations"), "d"),
            fmt(r.get("s_per_epoch"), ".3f"),
            fmt(r.get("s_per_epoch_plain"), ".3f"), fmt(r.get("ratio"), ".2f"),
            fmt(r.get("s_per_epoch_plain_fast"), ".3f"), fmt(r.get("s_per_test_pass"), ".3f"),
            fmt(r.get("memory_gb"), ".2f"), fmt(r.get("hours"), ",.1f"), f"{r['elapsed_s']:.1f}",
            "; ".join(r["errors"]) or "-"]) + " |")
    lines.append(f"| total | | | | | | | | | | | {fmt(report['total_hours'], ',.1f')} | {report['elapsed_s']:.1f} | |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    settings = list(presets.get(PRESET).settings)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny data, a few iterations, batch 2 (the CPU check)")
    parser.add_argument("--settings", default=",".join(settings), help=f"comma-separated, of {','.join(settings)}")
    parser.add_argument("--budget", type=float, help="seconds for the whole check (default 450; quick: 300): "
                                                     "iterations shrink to fit, settings past it are skipped")
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu.json and gpu.md")
    args = parser.parse_args(argv)
    chosen = args.settings.split(",")
    if unknown := [c for c in chosen if c not in settings]:
        parser.error(f"unknown setting {unknown[0]!r}; valid: {', '.join(settings)}")
    chosen = [c for c in settings if c in chosen]  # the preset's order
    devices = ["cpu"] + ["cuda"] * torch.cuda.is_available() + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if args.device not in devices:
        parser.error(f"--device {args.device} is not valid; valid: {', '.join(devices)} (cuda only where PyTorch "
                     "sees a GPU)")
    if args.budget is not None and not args.budget > 0:
        parser.error(f"--budget {args.budget:g} is not valid; valid: seconds > 0")
    device = torch.device(args.device)
    sizes = QUICK if args.quick else FULL
    budget = args.budget or sizes["budget"]
    make_deterministic()  # before the first CUDA call: it sets CUBLAS_WORKSPACE_CONFIG
    start = time.perf_counter()
    report = dict(header=header(device, args.quick), settings=[])
    print(json.dumps(report["header"]), flush=True)
    for i, setting in enumerate(chosen):
        left = budget - (time.perf_counter() - start)
        share = left * WEIGHT[setting] / sum(WEIGHT[c] for c in chosen[i:])
        if left < 0.05 * budget:
            row = dict(setting=setting, errors=[f"skipped: the {budget:.0f} s budget is spent"], elapsed_s=0.0)
        else:
            row = check_setting(setting, presets.get(PRESET).settings[setting], device, sizes, share)
        report["settings"].append(row)
        print(f"{setting}: {row['elapsed_s']:.1f} s ({time.perf_counter() - start:.1f} s in all); "
              f"deterministic {yes_no(row, 'deterministic', 'first_difference')}, "
              f"resume bitwise {yes_no(row, 'resume_bitwise', 'resume_difference')}", flush=True)
    timings = {r["setting"]: (r["s_per_epoch"], r["s_per_test_pass"]) for r in report["settings"] if "s_per_epoch" in r}
    for setting, runs, epochs, _, hours in cost.price(PRESET, timings):
        row = next(r for r in report["settings"] if r["setting"] == setting)
        row.update(runs=runs, epochs=epochs, hours=hours)
    report["total_hours"] = sum(r.get("hours", 0.0) for r in report["settings"]) if timings else None
    report["elapsed_s"] = time.perf_counter() - start
    table = markdown(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "gpu.md").write_text(table)
    print("\n" + table, end="")


if __name__ == "__main__":
    main()
