"""The importance metrics of docs/paper.md section 2, against hand-computed values and their properties."""

import math
import sys

import pytest
import torch

from lth import importance
from lth.importance import IMPORTANCE

A = torch.tensor([0.5, 1.0, 2.0, 0.5], dtype=torch.float64)


def test_registry_holds_the_papers_metrics_and_controls():
    assert list(IMPORTANCE) == ["magnitude", "l1", "l2", "softmax", "minmax", "lamp", "random"]


def test_hand_computed_values():
    torch.testing.assert_close(importance.magnitude(A), A)
    torch.testing.assert_close(importance.l1(A), A / 4.0)
    torch.testing.assert_close(importance.l2(A), torch.tensor([0.25, 1, 4, 0.25], dtype=torch.float64) / 5.5)
    e = [math.exp(v) for v in A.tolist()]
    torch.testing.assert_close(importance.softmax(A).exp(), torch.tensor(e, dtype=torch.float64) / sum(e))
    torch.testing.assert_close(importance.minmax(A), torch.tensor([0, 1 / 3, 1, 0], dtype=torch.float64))
    # LAMP: a_u^2 / sum of a_v^2 over v >= u in sorted order (ties in order of position).
    torch.testing.assert_close(importance.lamp(A), torch.tensor([0.25 / 5.5, 1 / 5.0, 1.0, 0.25 / 5.25], dtype=torch.float64))


@pytest.mark.parametrize("name", ["l1", "l2", "softmax"])
def test_normalised_metrics_sum_to_one_per_layer(name):
    a = torch.rand(1000, dtype=torch.float64)
    s = IMPORTANCE[name](a)
    total = s.exp().sum() if name == "softmax" else s.sum()
    assert total.item() == pytest.approx(1.0)


def test_softmax_lower_bound_and_near_uniform_for_wide_kaiming_layers():
    a = (torch.randn(512 * 512 * 9, dtype=torch.float64) * math.sqrt(2 / (512 * 9))).abs()
    p = importance.softmax(a).exp()
    n = a.numel()
    assert p.min() > 1 / n * math.exp(-a.max())  # exp(a) >= 1, so p >= 1 / sum(exp(a))
    assert p.max() / p.min() < 1.2  # nearly uniform: the paper's "spiky" pruning comes from here


def test_softmax_is_exact_for_layers_of_millions_of_weights():
    a = torch.rand(4_000_000, dtype=torch.float64) * 5
    s = importance.softmax(a)
    assert torch.isfinite(s).all()
    assert s.exp().sum().item() == pytest.approx(1.0, rel=1e-9)
    assert torch.equal(torch.argsort(s, stable=True), torch.argsort(a, stable=True))  # ranking kept


def test_minmax_gives_every_layer_a_zero_and_a_one():
    for n in (2, 10, 1000):
        s = importance.minmax(torch.rand(n, dtype=torch.float64))
        assert s.min().item() == 0.0 and s.max().item() == 1.0
    assert torch.equal(importance.minmax(torch.ones(3, dtype=torch.float64)), torch.zeros(3, dtype=torch.float64))


def test_metrics_keep_the_within_layer_ranking():
    a = torch.rand(100, dtype=torch.float64)
    for name in ("magnitude", "l1", "l2", "softmax", "minmax", "lamp"):
        assert torch.equal(torch.argsort(IMPORTANCE[name](a), stable=True), torch.argsort(a, stable=True)), name


def test_unknown_metric_is_one_line_naming_the_valid_ones():
    with pytest.raises(ValueError) as e:
        importance.get("magnitud")
    msg = str(e.value)
    assert "\n" not in msg and "'magnitud'" in msg and all(n in msg for n in IMPORTANCE)


# --- Metrics that see their layer (lth.importance.Layer), Zhou et al.'s, and a metric from your own module ---

def _layer_case(seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (6, 5)
    trained, init, rewind = (torch.randn(shape, generator=g) for _ in range(3))
    mask = torch.rand(shape, generator=g) > 0.3
    return trained, init, rewind, mask


@pytest.mark.parametrize("name, direct", [
    ("large_init", lambda w, w0, wk: wk.abs()),
    ("large_init_large_final", lambda w, w0, wk: torch.minimum(wk.abs(), w.abs())),
    ("magnitude_increase", lambda w, w0, wk: w.abs() - wk.abs()),
    ("movement", lambda w, w0, wk: (w - wk).abs()),
])
def test_zhou_et_al_metrics_prune_as_their_formula_computed_directly(name, direct):
    from lth.pruning import prune

    trained, init, rewind, mask = _layer_case()
    new = prune({"fc": trained}, {"fc": mask}, name, fraction=0.4, init={"fc": init}, rewind={"fc": rewind})["fc"]
    scores = direct(trained.double(), init.double(), rewind.double())[mask]
    budget = math.ceil(0.4 * int(mask.sum()))
    expected = mask.clone()
    expected[mask] = torch.ones(int(mask.sum()), dtype=torch.bool).index_fill_(
        0, torch.sort(scores, stable=True).indices[:budget], False)
    assert torch.equal(new, expected) and int(new.sum()) == int(mask.sum()) - budget
    assert name in importance.OPTIONAL and name not in IMPORTANCE  # offered by name, run by no preset by default


def test_a_metric_sees_its_layer_and_reads_only_what_it_needs():
    from lth.pruning import prune

    trained, init, rewind, mask = _layer_case(1)
    seen = {}

    def per_row(a, layer):  # a per-neuron normalisation: needs the shape and the mask, not theta_0
        seen.update(name=layer.name, shape=layer.shape)
        rows = torch.arange(layer.shape[0]).repeat_interleave(layer.shape[1]).reshape(layer.shape)[layer.mask]
        assert torch.equal(layer.weight.abs(), a)
        return a / torch.zeros(layer.shape[0], dtype=a.dtype).index_add_(0, rows, a)[rows]

    prune({"fc": trained}, {"fc": mask}, per_row)  # no init or rewind given: none read
    assert seen == {"name": "fc", "shape": (6, 5)}
    with pytest.raises(ValueError, match="^layer fc: no init weights were given to lth.pruning.prune"):
        prune({"fc": trained}, {"fc": mask}, lambda a, layer: layer.init)


def test_the_paper_metrics_keep_their_one_argument_form():
    assert all(importance.arity(f) == 1 for f in IMPORTANCE.values())
    assert all(importance.arity(f) == 2 for f in importance.OPTIONAL.values())


@pytest.fixture
def own_module(tmp_path, monkeypatch):
    """A module of the user's, ``mymetrics``, on sys.path (as PYTHONPATH puts it)."""
    path = tmp_path / "mymetrics.py"
    path.write_text("def score(a):\n    return a.sqrt()\n\n\ndef three(a, b, c):\n    return a\n\n\nvalue = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield path
    sys.modules.pop("mymetrics", None)


def test_a_metric_from_your_own_module_prunes_and_its_source_names_its_runs(own_module):
    from lth import runs
    from lth.pruning import prune

    trained, _, _, mask = _layer_case(2)
    ours = prune({"fc": trained}, {"fc": mask}, "mymetrics:score")
    assert torch.equal(ours["fc"], prune({"fc": trained}, {"fc": mask}, lambda a: a.sqrt())["fc"])
    config = dict(importance="mymetrics:score")
    before = runs.run_id(config)
    assert "-mymetrics.score-" in before and ":" not in before
    own_module.write_text(own_module.read_text() + "\n\ndef other(a):\n    return a\n")  # another function: same id
    assert runs.run_id(config) == before
    own_module.write_text(own_module.read_text().replace("a.sqrt()", "a.sqrt() + 1"))  # the function edited
    assert runs.run_id(config) != before


@pytest.mark.parametrize("name, says", [
    ("nosuchmodule:score", "module 'nosuchmodule' does not import"),
    ("mymetrics:nothing", "module 'mymetrics' has no function 'nothing'"),
    ("mymetrics:three", "must be a function f(a) or f(a, layer)"),
    ("mymetrics:value", "must be a function f(a) or f(a, layer)"),
])
def test_a_metric_that_cannot_be_used_is_one_line(own_module, name, says):
    from lth import config

    with pytest.raises(importance.MetricError) as e:
        importance.get(name)
    assert says in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(config.ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        config.Config.defaults().replace(importance=name).check()
