"""Input forms that PyTorch 2.x accepts beyond the options: targets that require grad, targets
that broadcast, 0-d inputs, scalar variances. Each is compared with torch.nn.functional (values
and gradients, every reduction, float32 and float64, each memory layout)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit.numpy as LN
import losskit.torch as LT
from conftest import check_parity, seed_of

REDUCTIONS = ["none", "mean", "sum"]


def gen(*args):
    return torch.Generator().manual_seed(seed_of(*args))


# ---- targets that torch differentiates ---------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 37), (300,)])  # 300 and 222: float32 SIMD blocks
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_target_gradient(dtype, layout, reduction, shape, weighted):
    g = gen("bce", shape, weighted)
    x = torch.rand(shape, generator=g, dtype=dtype) * 0.98 + 0.01
    t = torch.rand(shape, generator=g, dtype=dtype)
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = torch.rand(shape[-1:], generator=g, dtype=dtype)
    check_parity(LT.binary_cross_entropy, F.binary_cross_entropy, [x, t], kw, grad_of=[0, 1], layout=layout)
    check_parity(LT.binary_cross_entropy, F.binary_cross_entropy, [x, t], kw, grad_of=[1], layout=layout)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 37), (300,)])
@pytest.mark.parametrize("extra", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_target_gradient(dtype, layout, reduction, shape, extra):
    g = gen("bcel", shape, extra)
    x = torch.randn(shape, generator=g, dtype=dtype) * 3
    t = torch.rand(shape, generator=g, dtype=dtype)
    kw = dict(reduction=reduction)
    if extra in ("weight", "both"):
        kw["weight"] = torch.rand(shape[-1:], generator=g, dtype=dtype)
    if extra in ("pos_weight", "both"):
        kw["pos_weight"] = torch.rand(shape[-1:], generator=g, dtype=dtype) * 2
    check_parity(LT.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, [x, t], kw,
                 grad_of=[0, 1], layout=layout)


def test_bce_target_gradient_at_the_ends():
    """torch's target gradient is -logit(x), unclamped: +inf at x = 0 and -inf at x = 1."""
    x = torch.tensor([0.0, 1.0, 0.5, 1e-30], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0, 0.3, 0.0], dtype=torch.float64, requires_grad=True)
    ours = torch.autograd.grad(LT.binary_cross_entropy(x, t, reduction="sum"), t)[0]
    theirs = torch.autograd.grad(F.binary_cross_entropy(x, t, reduction="sum"), t)[0]
    torch.testing.assert_close(ours, theirs)
    assert ours[0] == float("inf") and ours[1] == -float("inf")


def test_numpy_bce_returns_the_target_gradient(rng):
    x, t = rng.uniform(0.05, 0.95, size=(5, 4)), rng.uniform(size=(5, 4))
    loss, gx, gt = LN.binary_cross_entropy_with_grad(x, t)
    tx, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t).requires_grad_()
    ref = F.binary_cross_entropy(tx, tt)
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
    for ours, theirs in zip((gx, gt), torch.autograd.grad(ref, [tx, tt])):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-14)
    loss, gx, gt = LN.binary_cross_entropy_with_logits_with_grad(x * 4 - 2, t)
    tx = torch.from_numpy(x * 4 - 2).requires_grad_()
    ref = F.binary_cross_entropy_with_logits(tx, tt)
    for ours, theirs in zip((gx, gt), torch.autograd.grad(ref, [tx, tt])):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-14)


# ---- labels that require grad: accepted, no gradient (as torch) ---------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_labels_that_require_grad_get_none(dtype, reduction):
    g = gen("labels", reduction)
    x1, x2 = torch.randn(6, 5, generator=g, dtype=dtype), torch.randn(6, 5, generator=g, dtype=dtype)
    y = (torch.randint(0, 2, (6,), generator=g) * 2 - 1).to(dtype)
    for fn, args in [("hinge_embedding_loss", (x1[:, 0], y)), ("cosine_embedding_loss", (x1, x2, y))]:
        ours = [a.clone().requires_grad_() for a in args]
        theirs = [a.clone().requires_grad_() for a in args]
        a = getattr(LT, fn)(*ours, reduction=reduction)
        b = getattr(F, fn)(*theirs, reduction=reduction)
        torch.testing.assert_close(a, b)
        up = torch.ones_like(b)
        a.backward(up)
        b.backward(up)
        for o, t in zip(ours, theirs):
            assert (o.grad is None) == (t.grad is None), fn
            if t.grad is not None:
                torch.testing.assert_close(o.grad, t.grad)
        assert ours[-1].grad is None


# ---- gaussian_nll_loss: PyTorch 2.x broadcasting and scalar var ---------------------------------
GAUSSIAN_FORMS = [
    ((5,), (1,), (5,)),            # target broadcast (the form of pytorch issue reports)
    ((5,), (3, 5), (5,)),          # target enlarges the loss shape
    ((4, 3), (4, 1), (4, 3)),      # one target per row
    ((4, 3), (4, 3), (4,)),        # var without the last dim
    ((4, 3), (1, 3), (4, 1)),      # target and var both broadcast
    ((2, 3, 4), (2, 3, 4), (2, 1, 4)),  # var with a middle dim of 1 (new in 2.x)
    ((2, 3, 4), (2, 3, 1), (2, 3)),
    ((), (), ()),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", GAUSSIAN_FORMS, ids=str)
def test_gaussian_nll_broadcasting(dtype, layout, reduction, shapes):
    g = gen("gnll", shapes)
    xs, ts, vs = shapes
    x = torch.randn(xs, generator=g, dtype=dtype)
    t = torch.randn(ts, generator=g, dtype=dtype)
    v = torch.rand(vs, generator=g, dtype=dtype) + 0.05
    check_parity(LT.gaussian_nll_loss, F.gaussian_nll_loss, [x, t, v], dict(reduction=reduction, full=True),
                 grad_of=[0, 1, 2], layout=layout)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_scalar_var(dtype, reduction):
    g = gen("gnll scalar", reduction)
    x, t = torch.randn(4, 3, generator=g, dtype=dtype), torch.randn(4, 3, generator=g, dtype=dtype)
    check_parity(lambda a, b, **kw: LT.gaussian_nll_loss(a, b, 0.7, **kw),
                 lambda a, b, **kw: F.gaussian_nll_loss(a, b, 0.7, **kw), [x, t], dict(reduction=reduction),
                 grad_of=[0, 1])
    with pytest.raises(ValueError):
        F.gaussian_nll_loss(x, t, -1.0)
    with pytest.raises(ValueError, match="var = -1 is negative"):
        LT.gaussian_nll_loss(x, t, -1.0)


@pytest.mark.parametrize("var_shape", [(4, 2), (1, 1), (3,), (4, 3, 1)])
def test_gaussian_nll_var_of_incorrect_size(var_shape):
    x = torch.randn(4, 3)
    with pytest.raises(ValueError):
        F.gaussian_nll_loss(x, x, torch.ones(var_shape))
    with pytest.raises(ValueError, match="var has shape"):
        LT.gaussian_nll_loss(x, x, torch.ones(var_shape))


# ---- 0-d inputs and single rows of the margin losses --------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", [((), ()), ((), (1,)), ((3,), ()), ((3,), (1,)), ((1, 3), ()), ((1, 3), (1,))],
                         ids=str)
def test_multi_margin_single_row_forms(dtype, reduction, shapes):
    g = gen("mm", shapes)
    xs, ts = shapes
    x = torch.randn(xs, generator=g, dtype=dtype)
    c = x.shape[-1] if x.dim() else 1
    t = torch.randint(0, c, ts, generator=g)
    check_parity(LT.multi_margin_loss, F.multi_margin_loss, [x, t], dict(reduction=reduction), grad_of=[0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", [((), ()), ((), (1,)), ((1,), ())], ids=str)
@pytest.mark.parametrize("label", [0, -1])
def test_multilabel_margin_zero_d(dtype, reduction, shapes, label):
    xs, ts = shapes
    x = torch.randn(xs, generator=gen("mlm", shapes), dtype=dtype)
    t = torch.full(ts, label, dtype=torch.long)
    check_parity(LT.multilabel_margin_loss, F.multilabel_margin_loss, [x, t], dict(reduction=reduction),
                 grad_of=[0])


def test_margin_zero_d_bad_class_id():
    x = torch.tensor(0.3)
    for fn, bad in [("multi_margin_loss", 1), ("multilabel_margin_loss", 1)]:
        with pytest.raises(RuntimeError):
            getattr(F, fn)(x, torch.tensor(bad))
        with pytest.raises((IndexError, RuntimeError), match="outside"):
            getattr(LT, fn)(x, torch.tensor(bad))


# ---- cross_entropy: the probability target's gradient ------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (4, 7), (3, 5, 2, 3), (6, 300)])  # 300: float32 SIMD rows
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.2}, {"weight": True}])
def test_cross_entropy_probability_target_gradient(dtype, layout, reduction, shape, options):
    g = gen("ce probs", shape, sorted(options))
    cd = 0 if len(shape) == 1 else 1
    x = torch.randn(shape, generator=g, dtype=dtype) * 2
    t = torch.softmax(torch.randn(shape, generator=g, dtype=dtype), dim=cd)
    kw = dict(options, reduction=reduction)
    if kw.pop("weight", None):
        kw["weight"] = torch.rand(shape[cd], generator=g, dtype=dtype) + 0.5
    check_parity(LT.cross_entropy, F.cross_entropy, [x, t], kw, grad_of=[0, 1], layout=layout)
    check_parity(LT.cross_entropy, F.cross_entropy, [x, t], kw, grad_of=[1], layout=layout)


def test_cross_entropy_target_gradient_with_masked_logits():
    """A -inf logit (a masked class) gives torch's +inf target gradient there."""
    x = torch.tensor([[0.5, -float("inf"), 1.0]], dtype=torch.float64)
    t = torch.tensor([[0.5, 0.0, 0.5]], dtype=torch.float64)
    ours, theirs = t.clone().requires_grad_(), t.clone().requires_grad_()
    ga = torch.autograd.grad(LT.cross_entropy(x, ours), ours)[0]
    gb = torch.autograd.grad(F.cross_entropy(x, theirs), theirs)[0]
    torch.testing.assert_close(ga, gb)
    assert ga[0, 1] == float("inf")


def test_numpy_cross_entropy_probability_target_gradient(rng):
    x, t = rng.normal(size=(5, 4)), rng.dirichlet(np.ones(4), size=5)
    loss, gx, gt = LN.cross_entropy_with_grad(x, t, label_smoothing=0.1)
    tx, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t).requires_grad_()
    ref = F.cross_entropy(tx, tt, label_smoothing=0.1)
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
    for ours, theirs in zip((gx, gt), torch.autograd.grad(ref, [tx, tt])):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-14)
    assert len(LN.cross_entropy_with_grad(x, np.arange(5) % 4)) == 2  # class ids: no target gradient


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6,), (4, 5), (2, 3, 37)])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_target_gradient(dtype, layout, reduction, shape, weighted):
    g = gen("mlsm", shape, weighted)
    x = torch.randn(shape, generator=g, dtype=dtype) * 3
    t = torch.rand(shape, generator=g, dtype=dtype)
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = torch.rand(shape[-1:], generator=g, dtype=dtype) + 0.5
    check_parity(LT.multilabel_soft_margin_loss, F.multilabel_soft_margin_loss, [x, t], kw, grad_of=[0, 1],
                 layout=layout)
    check_parity(LT.multilabel_soft_margin_loss, F.multilabel_soft_margin_loss, [x, t], kw, grad_of=[1],
                 layout=layout)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(), (7,), (300,), (3, 4)])  # 300: the float32 SIMD sweep (without the target)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_target_gradient(dtype, layout, reduction, shape, margin):
    g = gen("ranking", shape, margin)
    x1, x2 = torch.randn(shape, generator=g, dtype=dtype), torch.randn(shape, generator=g, dtype=dtype)
    y = (torch.rand(shape, generator=g, dtype=dtype) - 0.3) * 2  # any real labels (torch takes them)
    kw = dict(margin=margin, reduction=reduction)
    check_parity(LT.margin_ranking_loss, F.margin_ranking_loss, [x1, x2, y], kw, grad_of=[0, 1, 2], layout=layout)
    check_parity(LT.margin_ranking_loss, F.margin_ranking_loss, [x1, x2, y], kw, grad_of=[2], layout=layout)
    check_parity(LT.margin_ranking_loss, F.margin_ranking_loss, [x1, x2, y], kw, grad_of=[0, 1], layout=layout)
