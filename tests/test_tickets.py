"""lth.tickets on hand-made masks, histories and run folders: overlap, chance, Jaccard, connection histories."""

import math

import pandas as pd
import pytest
import torch

from lth import tickets
from lth.report import section5

T, F = True, False


def mask(**layers):
    return {name: torch.tensor(values, dtype=torch.bool) for name, values in layers.items()}


@pytest.fixture
def three():
    """Three tickets over a 4-weight conv and a 2x3 fc."""
    return {
        "magnitude": mask(conv=[T, T, F, F], fc=[[T, F, T], [F, F, F]]),
        "l1": mask(conv=[T, F, T, F], fc=[[T, T, T], [F, F, F]]),
        "l2": mask(conv=[T, T, F, F], fc=[[T, F, F], [F, F, T]]),
    }


def test_intersection(three):
    ov = tickets.intersection(list(three.values()))
    assert ov["conv"].tolist() == [T, F, F, F]
    assert ov["fc"].tolist() == [[T, F, F], [F, F, F]]
    two = tickets.intersection([three["magnitude"], three["l1"]])
    assert two["fc"].tolist() == [[T, F, T], [F, F, F]]


def test_overlap_rejects_different_layers(three):
    with pytest.raises(ValueError):
        tickets.intersection([three["magnitude"], mask(conv=[T, T, T, T])])


def test_overlap_table_two_tickets():
    df = section5.overlap_table({"a": mask(conv=[T, T, F, F]), "b": mask(conv=[T, F, T, F])}).set_index("layer")
    row = df.loc["conv"]
    assert (row.depth, row.weights, row.kept_a, row.kept_b, row.overlap) == (0, 4, 2, 2, 1)
    assert row.expected == pytest.approx(1.0)  # 4 * (2/4) * (2/4)
    assert row.overlap_of_all == pytest.approx(0.25)
    assert row.overlap_of_kept == pytest.approx(0.5)
    assert row.expected_of_kept == pytest.approx(0.5)
    assert row.ratio == pytest.approx(1.0)


def test_overlap_table_three_tickets(three):
    df = section5.overlap_table(three)
    assert list(df.columns) == ["layer", "depth", "weights", "kept_magnitude", "kept_l1", "kept_l2", "overlap",
                                "overlap_of_all", "overlap_of_kept", "expected", "expected_of_kept", "ratio"]
    df = df.set_index("layer")
    conv, fc, everything = df.loc["conv"], df.loc["fc"], df.loc["all"]
    assert conv.expected == pytest.approx(0.5)  # 4 * (1/2)^3
    assert conv.ratio == pytest.approx(2.0)
    # fc: n = 6, kept 2, 3, 2 -> 6 * (2/6)(3/6)(2/6) = 1/3; overlap 1
    assert (fc.kept_magnitude, fc.kept_l1, fc.kept_l2, fc.overlap) == (2, 3, 2, 1)
    assert fc.expected == pytest.approx(1 / 3)
    assert fc.overlap_of_kept == pytest.approx(1 / (7 / 3))
    assert everything.depth == -1
    assert (everything.weights, everything.kept_magnitude, everything.kept_l1, everything.kept_l2) == (10, 4, 5, 4)
    assert everything.overlap == 2
    assert everything.expected == pytest.approx(0.5 + 1 / 3)
    assert everything.overlap_of_all == pytest.approx(0.2)
    assert everything.overlap_of_kept == pytest.approx(2 / (13 / 3))
    assert everything.expected_of_kept == pytest.approx((0.5 + 1 / 3) / (13 / 3))
    assert everything.ratio == pytest.approx(2 / (0.5 + 1 / 3))


def test_overlap_table_ratio_is_nan_without_chance():
    df = section5.overlap_table({"a": mask(conv=[F, F]), "b": mask(conv=[T, F])}).set_index("layer")
    assert df.loc["conv", "expected"] == 0 and math.isnan(df.loc["conv", "ratio"])


def test_chance_formula_by_simulation():
    """Independent uniformly random tickets of sizes 3, 5, 4 out of 10 share 10 * 0.3 * 0.5 * 0.4 = 0.6 on average."""
    n, sizes, draws = 10, (3, 5, 4), 20000
    g = torch.Generator().manual_seed(0)
    kept = torch.ones(draws, n, dtype=torch.bool)
    for k in sizes:
        chosen = torch.zeros(draws, n, dtype=torch.bool)
        chosen.scatter_(1, torch.rand(draws, n, generator=g).argsort(1)[:, :k], True)  # a random permutation's first k
        kept &= chosen
    simulated = kept.sum(1).double().mean().item()
    table = section5.overlap_table({str(k): {"w": torch.arange(n) < k} for k in sizes})
    assert table.loc[0, "expected"] == pytest.approx(0.6)
    assert abs(simulated - 0.6) < 0.05


def test_jaccard_table():
    masks = {"a": mask(conv=[T, T, F, F], fc=[T, F]), "b": mask(conv=[F, T, T, F], fc=[T, F]),
             "c": mask(conv=[T, T, T, T], fc=[F, T])}
    df = section5.jaccard_table(masks)
    assert list(zip(df.a, df.b)) == [("a", "b")] * 3 + [("a", "c")] * 3 + [("b", "c")] * 3
    ab = df[(df.a == "a") & (df.b == "b")].set_index("layer")
    assert (ab.loc["conv", "intersection"], ab.loc["conv", "union"]) == (1, 3)
    assert ab.loc["conv", "jaccard"] == pytest.approx(1 / 3)
    assert ab.loc["conv", "expected_intersection"] == pytest.approx(1.0)  # 2 * 2 / 4
    assert ab.loc["conv", "expected_jaccard"] == pytest.approx(1 / 3)  # 1 / (2 + 2 - 1)
    assert ab.loc["fc", "jaccard"] == pytest.approx(1.0)
    assert ab.loc["fc", "expected_jaccard"] == pytest.approx(0.5 / 1.5)  # E = 1 * 1 / 2
    assert ab.loc["all", "jaccard"] == pytest.approx(2 / 4)
    assert ab.loc["all", "expected_intersection"] == pytest.approx(1.5)
    assert ab.loc["all", "expected_jaccard"] == pytest.approx(1.5 / (3 + 3 - 1.5))
    bc = df[(df.a == "b") & (df.b == "c")].set_index("layer")
    assert bc.loc["fc", "jaccard"] == 0 and bc.loc["fc", "expected_jaccard"] == pytest.approx(0.5 / 1.5)


@pytest.fixture
def histories():
    """Two metrics, 3 rounds (0..2), a 3-weight conv and a 2x2 fc; 'x' prunes conv[2] and fc[1,1], 'y' conv[1]."""
    x = {"conv": torch.tensor([[1.0, 2.0, 0.5], [-1.0, 2.0, 0.0], [1.0, 2.0, 0.0]]),
         "fc": torch.tensor([[[0.5, -0.5], [1.0, 3.0]], [[0.5, -0.25], [1.0, 0.0]], [[0.5, 0.0], [-1.0, 0.0]]])}
    y = {"conv": torch.tensor([[1.0, 2.0, 0.5], [1.0, 0.0, 0.5], [3.0, 0.0, 0.5]]),
         "fc": torch.tensor([[[0.5, -0.5], [1.0, 3.0]], [[0.5, -0.5], [1.0, 3.0]], [[0.5, -0.5], [1.0, 3.0]]])}
    masks = {"x": mask(conv=[T, T, F], fc=[[T, T], [T, F]]), "y": mask(conv=[T, F, T], fc=[[T, T], [T, T]])}
    return {"x": x, "y": y}, masks


def test_connection_table(histories):
    hist, masks = histories
    init = {"conv.weight": torch.tensor([0.5, 1.0, 0.0]), "conv.bias": torch.zeros(3),
            "fc.weight": torch.tensor([[0.0, 0.0], [0.0, 0.0]])}
    df = section5.connection_table(hist, masks, init)
    assert list(df.columns) == ["metric", "layer", "depth", "index", "overlapping", "std", "sign_flip", "size",
                                "distance"]
    assert len(df) == 5 + 6  # every unpruned connection of each ticket
    x = df[df.metric == "x"].set_index(["layer", "index"])
    assert x.loc[("conv", 0), "std"] == pytest.approx(math.sqrt(8 / 9))  # [1, -1, 1]
    assert x.loc[("conv", 0), "sign_flip"]
    assert x.loc[("conv", 1), "std"] == 0 and not x.loc[("conv", 1), "sign_flip"]  # [2, 2, 2]
    assert x.loc[("fc", 1), "sign_flip"]  # [-0.5, -0.25, 0]: 0 is a sign of its own
    assert x.loc[("fc", 2), "sign_flip"]  # [1, 1, -1]
    assert not x.loc[("fc", 0), "sign_flip"] and x.loc[("fc", 0), "std"] == 0
    assert x.loc[("conv", 0), "distance"] == pytest.approx(0.5)
    assert x.loc[("conv", 0), "size"] == pytest.approx(1.0) and x.loc[("fc", 2), "size"] == pytest.approx(1.0)
    assert x.loc[("conv", 1), "distance"] == pytest.approx(1.0)
    assert x.loc[("fc", 2), "distance"] == pytest.approx(1.0)
    y = df[df.metric == "y"].set_index(["layer", "index"])
    assert y.loc[("conv", 2), "std"] == 0 and not y.loc[("conv", 2), "sign_flip"]
    assert y.loc[("conv", 0), "distance"] == pytest.approx(2.5)
    # overlapping = unpruned in both tickets: conv[0], fc[0,0], fc[0,1], fc[1,0]
    ov = tickets.intersection(list(masks.values()))
    for metric, rows in (("x", x), ("y", y)):
        for (layer, index), flag in rows["overlapping"].items():
            assert flag == bool(ov[layer].flatten()[index]), (metric, layer, index)
    assert sorted(x.index[x.overlapping]) == [("conv", 0), ("fc", 0), ("fc", 1), ("fc", 2)]
    assert df.loc[df.layer == "fc", "depth"].eq(1).all()


def test_connection_table_zero_between_signs():
    """[0.5, 0, 0.5] flips: 0 is a sign of its own; without init there is no distance column."""
    df = section5.connection_table({"m": {"w": torch.tensor([[0.5], [0.0], [0.5]])}}, {"m": mask(w=[T])})
    assert bool(df.loc[0, "sign_flip"]) and "distance" not in df
    assert df.loc[0, "std"] == pytest.approx(math.sqrt(1 / 18))


def test_connection_table_rejects_a_mask_of_another_round(histories):
    hist, masks = histories
    with pytest.raises(ValueError, match="mask"):
        section5.connection_table(hist, {"x": masks["y"], "y": masks["y"]})


def write_run(path, init, trained_rounds):
    path.mkdir()
    torch.save(init, path / "init.pt")
    for i, trained in enumerate(trained_rounds):
        m = {n: t != 0 for n, t in trained.items()}
        torch.save({"mask": m, "trained": trained, "test_accuracy": 50.0}, path / f"round_{i}.pt")
    return path


@pytest.fixture
def dense():
    g = torch.Generator().manual_seed(0)
    init = {"conv.weight": torch.randn(2, 1, 3, 3, generator=g), "bn.running_mean": torch.zeros(2),
            "fc.weight": torch.randn(3, 4, generator=g), "fc.bias": torch.zeros(3)}
    trained = {"conv": torch.randn(2, 1, 3, 3, generator=g), "fc": torch.randn(3, 4, generator=g)}
    return init, trained


def test_check_same_dense(tmp_path, dense):
    init, trained = dense
    runs = [write_run(tmp_path / name, {k: v.clone() for k, v in init.items()}, [{k: v.clone() for k, v in trained.items()}])
            for name in ("a", "b", "c")]
    tickets.check_same_dense(runs)
    tickets.check_same_dense(runs[:1])

    bumped = {k: v.clone() for k, v in init.items()}
    bumped["fc.weight"][1, 2] = torch.nextafter(bumped["fc.weight"][1, 2], torch.tensor(math.inf))
    odd = write_run(tmp_path / "odd_init", bumped, [trained])
    with pytest.raises(ValueError, match=r"odd_init.*init\.pt.*'fc\.weight'"):
        tickets.check_same_dense(runs + [odd])

    bumped = {k: v.clone() for k, v in trained.items()}
    bumped["conv"][0, 0, 1, 1] = torch.nextafter(bumped["conv"][0, 0, 1, 1], torch.tensor(-math.inf))
    odd = write_run(tmp_path / "odd_round0", init, [bumped])
    with pytest.raises(ValueError, match=r"odd_round0.*round_0\.pt.*'conv'"):
        tickets.check_same_dense([runs[0], odd])

    missing = write_run(tmp_path / "missing", {k: v for k, v in init.items() if k != "bn.running_mean"}, [trained])
    with pytest.raises(ValueError, match="bn.running_mean"):
        tickets.check_same_dense([runs[0], missing])


def test_load_ticket_and_history(tmp_path, dense):
    _, trained = dense
    rounds = [{k: v * (i + 1) for k, v in trained.items()} for i in range(4)]
    run = write_run(tmp_path / "run", dense[0], rounds)
    assert torch.equal(tickets.load_ticket(run, 2)["trained"]["fc"], rounds[2]["fc"])
    history = tickets.load_history(run, 2)
    assert list(history) == ["conv", "fc"]
    assert history["conv"].shape == (3, 2, 1, 3, 3) and history["fc"].shape == (3, 3, 4)
    for i in range(3):
        assert torch.equal(history["fc"][i], rounds[i]["fc"])


def test_a_round_file_stores_the_ticket_sparse_and_gives_it_back_bitwise(tmp_path, dense):
    """lth.tickets.pack: the mask as bits, the unpruned weights, a sign bit per pruned zero (apply_mask leaves -0.0
    where a weight was negative); loaded, the ticket is bitwise the one trained, its digest too."""
    _, trained = dense
    g = torch.Generator().manual_seed(1)
    mask = {n: torch.rand(w.shape, generator=g) < 0.3 for n, w in trained.items()}
    mask["fc"][0] = True  # a row kept whole
    ticket = dict(mask=mask, trained={n: w * mask[n] for n, w in trained.items()}, test_accuracy=91.5)
    assert any(torch.signbit(w[~mask[n]]).any() for n, w in ticket["trained"].items())  # some -0.0 to keep
    stored = tickets.pack(ticket)
    assert all(stored["trained"][n].numel() == int(m.sum()) for n, m in mask.items())
    torch.save(stored, tmp_path / "round_0.pt")
    back = tickets.load_ticket(tmp_path, 0)
    assert tickets.digest(back) == tickets.digest(ticket) and back["test_accuracy"] == 91.5
    assert list(back) == list(ticket) and list(back["mask"]) == list(mask)
    for n in mask:
        assert back["mask"][n].dtype == torch.bool and torch.equal(back["mask"][n], mask[n])
        assert back["trained"][n].numpy().tobytes() == ticket["trained"][n].numpy().tobytes()
    unmasked = dict(ticket, trained=trained)  # a pruned weight that is not zero: stored as it is
    assert tickets.pack(unmasked) is unmasked
    torch.save(ticket, tmp_path / "round_1.pt")  # written before packing: read as it is
    assert tickets.digest(tickets.load_ticket(tmp_path, 1)) == tickets.digest(ticket)


def test_partial_reinit_keeps_theta0_exactly_where_asked_and_redraws_kaiming_elsewhere():
    g = torch.Generator().manual_seed(0)
    theta = {"conv.weight": torch.randn(64, 32, 3, 3, generator=g), "conv.bias": torch.randn(64, generator=g)}
    keep = {"conv": torch.rand(64, 32, 3, 3, generator=g) < 0.3}
    new = tickets.partial_reinit(theta, keep, seed=1)
    k = keep["conv"]
    assert torch.equal(new["conv.weight"][k], theta["conv.weight"][k])
    assert not (new["conv.weight"][~k] == theta["conv.weight"][~k]).any()
    assert torch.equal(new["conv.bias"], theta["conv.bias"])
    assert new["conv.weight"][~k].std().item() == pytest.approx((2 / (32 * 9)) ** 0.5, rel=0.05)  # Kaiming fan_in
    assert torch.equal(new["conv.weight"], tickets.partial_reinit(theta, keep, seed=1)["conv.weight"])
    assert not torch.equal(new["conv.weight"], tickets.partial_reinit(theta, keep, seed=2)["conv.weight"])


def test_survival_against_the_layers_density():
    keep = {"a": torch.tensor([True, True, False, False]), "b": torch.tensor([True, False])}
    new = {"l1": {"a": torch.tensor([True, False, True, False]), "b": torch.tensor([True, True])}}
    t = section5.survival_table(keep, new).set_index("layer")
    assert (t.loc["a", "kept"], t.loc["a", "survived"], t.loc["a", "expected"]) == (2, 1, 1.0)
    assert t.loc["a", "excess"] == pytest.approx(0.0)
    assert t.loc["b", "excess"] == pytest.approx(0.0) and t.loc["all", "expected"] == pytest.approx(2.0)
    assert t.loc["all", "survived"] == 2


def test_overlap_summary_is_the_mean_over_seeds_in_percent_input_to_output_then_all(three):
    seeds = [section5.overlap_table(three).assign(seed=0),
             section5.overlap_table({m: {n: ~t if n == "conv" else t for n, t in k.items()} for m, k in three.items()}).assign(seed=1)]
    table = section5.overlap_summary(pd.concat(seeds))
    assert list(table.layer) == ["conv", "fc", "all"]
    conv = table.set_index("layer").loc["conv"]
    # seed 0 shares 1 of 4 conv weights; seed 1 (every conv mask inverted) shares 1 (index 3) as well
    assert conv["overlap"] == 1 and conv["% of all"] == 25.0
    assert table.weights.dtype == "int64"  # a count, not a mean: 2359296, not 2.3593e+06 in the Markdown table
    assert list(table.columns) == ["layer", "depth", "weights", "overlap", "% of all", "% of kept", "chance % of kept",
                                   "observed / chance"]


def test_jaccard_summary_keeps_all_layers_per_pair(three):
    jac = pd.concat([section5.jaccard_table(three).assign(seed=s) for s in (0, 1)])
    table = section5.jaccard_summary(jac)
    assert [tuple(r) for r in table[["a", "b"]].values] == [("l1", "l2"), ("magnitude", "l1"), ("magnitude", "l2")]
    all_layers = section5.jaccard_table(three).query("layer == 'all'").set_index(["a", "b"])
    assert table.set_index(["a", "b"]).loc[("magnitude", "l1"), "jaccard"] == round(all_layers.loc[("magnitude", "l1"), "jaccard"], 4)


def test_survival_summary_spans_metrics_and_reinit_seeds():
    keep = mask(conv=[T, T, F, F], fc=[[T, F, T], [F, F, F]])
    new = {"magnitude": mask(conv=[T, F, F, F], fc=[[T, T, T], [F, F, F]]), "l1": mask(conv=[T, T, F, T], fc=[[F, F, T], [T, F, F]])}
    s = pd.concat([section5.survival_table(keep, new).assign(reinit_seed=1), section5.survival_table(keep, new).assign(reinit_seed=2)])
    table = section5.survival_summary(s, min_expected=0).set_index("layer")
    assert list(table.index) == ["conv", "fc", "all"]
    few = section5.survival_summary(s).set_index("layer")  # 1 to 2 connections expected by chance: no percentage
    assert few[["excess_mean", "excess_min", "excess_max"]].isna().all().all() and few.loc["conv", "kept"] == 2
    per_metric = section5.survival_table(keep, new).set_index(["metric", "layer"])
    excess = [per_metric.loc[(m, "conv"), "excess"] for m in new]
    assert table.loc["conv", "excess_min"] == round(min(excess), 2) and table.loc["conv", "excess_max"] == round(max(excess), 2)
    assert table.loc["conv", "kept"] == 2


def test_survival_against_the_redrawn_connections_of_the_same_size():
    """Kept connections drawn more often the larger their initial value, and a new ticket that keeps the layer's
    larger half by size alone: the kept ones survive far above chance, but no more than redrawn ones of their
    tenth by |initial value|."""
    g = torch.Generator().manual_seed(0)
    init = torch.randn(1000, generator=g)
    rank = init.abs().argsort().argsort().double() / 1000
    keep = torch.rand(1000, generator=g, dtype=torch.double) < rank  # the larger, the likelier kept
    new = rank >= 0.5  # the larger half
    t = section5.survival_table({"a": keep}, {"l1": {"a": new}}, {"a": init}).set_index("layer")
    assert t.loc["a", "excess"] > 40  # chance keeps half; most kept ones are in the larger half
    assert t.loc["a", "excess_sized"] == pytest.approx(0.0) and t.loc["a", "kept_sized"] == t.loc["a", "kept"]
    assert t.loc["all", "excess_sized"] == pytest.approx(0.0)
