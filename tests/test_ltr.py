"""The LTR loop (Algorithm 2): rewinding, determinism across metrics, resume after interruption."""

import pytest
import torch

from lth import data, models, pruning
from lth.ltr import lottery_ticket_rewinding
from lth.config import Config
from lth.training import derive_seed, train

HP = Config(epochs=1, batch_size=128, lr=0.1, rewind_iter=3)


@pytest.fixture(scope="module")
def small(fashion_mnist):
    return data.subset(fashion_mnist, 1024, 500)


def run(dataset, workdir, importance="magnitude", seed=0, rounds=3, log=None):
    torch.manual_seed(derive_seed(seed, "init"))
    model = models.build("lenet_300_100", 1, 28, 10)
    layers = pruning.prunable_layers(model)
    tickets = lottery_ticket_rewinding(model, dataset, HP, layers, importance=importance, rounds=rounds,
                                       fraction=0.2, seed=seed, workdir=workdir, dense=["fc"], log=log)
    return model, tickets


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_rounds_prune_twenty_percent_and_rewind_to_iteration_k(small, tmp_path):
    model, tickets = run(small, tmp_path)
    assert [round(pruning.density(t["mask"]), 4) for t in tickets] == [1.0, 0.8, 0.64, 0.512]
    init, rewind = torch.load(tmp_path / "init.pt"), torch.load(tmp_path / "rewind.pt")
    fresh = models.build("lenet_300_100", 1, 28, 10)
    fresh.load_state_dict(init)
    train(fresh, small, HP, start=0, end=HP.rewind_iter, seed=0)
    assert same(fresh.state_dict(), rewind)  # theta_{0,k}: k iterations from theta_0
    # The returned model is the last ticket: theta_{0,k} with the last round's mask applied.
    for name, m in tickets[-1]["mask"].items():
        assert torch.equal(model.get_submodule(name).weight.detach(), rewind[name + ".weight"] * m)


def test_same_config_gives_bitwise_identical_tickets(small, tmp_path):
    _, a = run(small, tmp_path / "a")
    _, b = run(small, tmp_path / "b")
    assert all(same(x["mask"], y["mask"]) and same(x["trained"], y["trained"]) for x, y in zip(a, b))


def test_metrics_only_differ_after_the_first_pruning(small, tmp_path):
    _, a = run(small, tmp_path / "a", "magnitude")
    _, b = run(small, tmp_path / "b", "minmax")
    assert same(a[0]["trained"], b[0]["trained"]) and a[0]["test_accuracy"] == b[0]["test_accuracy"]
    assert not same(a[1]["mask"], b[1]["mask"])


def test_resume_after_interruption_matches_an_uninterrupted_run(small, tmp_path):
    _, full = run(small, tmp_path / "full")

    class Killed(Exception):
        pass

    def kill_after_round_1(i, ticket, path):
        if i == 1:
            raise Killed

    with pytest.raises(Killed):
        run(small, tmp_path / "resumed", log=kill_after_round_1)
    assert not (tmp_path / "resumed" / "round_2.pt").exists()
    stamp = (tmp_path / "resumed" / "round_1.pt").stat().st_mtime_ns
    seen = []
    _, resumed = run(small, tmp_path / "resumed", log=lambda i, t, p: seen.append(i))
    assert seen == [0, 1, 2, 3]  # the loaded rounds are reported too
    assert (tmp_path / "resumed" / "round_1.pt").stat().st_mtime_ns == stamp  # not retrained
    assert all(same(x["mask"], y["mask"]) and same(x["trained"], y["trained"]) for x, y in zip(full, resumed))
