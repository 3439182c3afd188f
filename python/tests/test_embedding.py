"""losskit.torch embedding losses against torch.nn.functional (PyTorch 1.13): values and
gradients w.r.t. every differentiable input, every option; triplet_margin_with_distance_loss with
the built-in distances and with arbitrary Python callables; losskit.numpy against losskit.torch."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit.numpy as LN
import losskit.torch as LT
from conftest import check_parity, seed_of

REDUCTIONS = ["mean", "sum", "none"]


def signs(shape, gen, dtype, with_zero=False):
    t = torch.randint(0, 3 if with_zero else 2, shape, generator=gen).to(dtype)
    return t - 1 if with_zero else t * 2 - 1


@pytest.mark.parametrize("shape", [(7,), (3, 4), ()], ids=str)
@pytest.mark.parametrize("margin", [1.0, 0.3, -0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_hinge_and_ranking(shape, margin, reduction, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, margin, reduction))
    x, x2 = torch.randn(shape, generator=gen, dtype=dtype), torch.randn(shape, generator=gen, dtype=dtype)
    check_parity(LT.hinge_embedding_loss, F.hinge_embedding_loss, [x, signs(shape, gen, dtype, True)],
                 dict(margin=margin, reduction=reduction), grad_of=[0], layout=layout, upstream=upstream)
    check_parity(LT.margin_ranking_loss, F.margin_ranking_loss, [x, x2, signs(shape, gen, dtype)],
                 dict(margin=margin, reduction=reduction), grad_of=[0, 1], layout=layout, upstream=upstream)


@pytest.mark.parametrize("shape", [(6, 5), (4,), (5, 37)], ids=str)  # (5, 37): float32 SIMD rows
@pytest.mark.parametrize("margin", [0.0, 0.4, -0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding(shape, margin, reduction, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, margin, reduction))
    a, b = torch.randn(shape, generator=gen, dtype=dtype), torch.randn(shape, generator=gen, dtype=dtype)
    y = signs(shape[:-1], gen, dtype, with_zero=True)
    check_parity(LT.cosine_embedding_loss, F.cosine_embedding_loss, [a, b, y], dict(margin=margin, reduction=reduction),
                 grad_of=[0, 1], layout=layout)


@pytest.mark.parametrize("shape", [(6, 5), (4,), (2, 3, 4), (5, 37)], ids=str)
@pytest.mark.parametrize("p,eps", [(2.0, 1e-6), (1.0, 1e-6), (3.0, 0.3), (math.inf, 1e-6)])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin(shape, p, eps, swap, reduction, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, p, eps, swap, reduction))
    a, pos, neg = (torch.randn(shape, generator=gen, dtype=dtype) for _ in range(3))
    check_parity(LT.triplet_margin_loss, F.triplet_margin_loss, [a, pos, neg],
                 dict(margin=0.7, p=p, eps=eps, swap=swap, reduction=reduction), grad_of=[0, 1, 2], layout=layout)


def torch_cosine_distance(x, y):
    return 1.0 - F.cosine_similarity(x, y, dim=-1)


@pytest.mark.parametrize("distance", ["default", "losskit cosine", "callable l1", "callable squared"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("margin", [1.0, 0.25])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("D", [5, 37])
def test_triplet_margin_with_distance(distance, swap, margin, reduction, D, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(distance, swap, margin, reduction, D))
    a, pos, neg = (torch.randn((6, D), generator=gen, dtype=dtype) for _ in range(3))
    ours, theirs = {
        "default": (None, None),
        "losskit cosine": (LT.cosine_distance, torch_cosine_distance),
        "callable l1": ((lambda u, v: (u - v).abs().sum(-1)),) * 2,
        "callable squared": ((lambda u, v: ((u - v) ** 2).sum(-1)),) * 2,
    }[distance]
    check_parity(lambda *t, **kw: LT.triplet_margin_with_distance_loss(*t, distance_function=ours, **kw),
                 lambda *t, **kw: F.triplet_margin_with_distance_loss(*t, distance_function=theirs, **kw),
                 [a, pos, neg], dict(margin=margin, swap=swap, reduction=reduction), grad_of=[0, 1, 2], layout=layout)


@pytest.mark.parametrize("D", [4, 37])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_nan_propagates_as_torch(D, reduction, dtype):
    """A NaN makes its row's loss NaN as in torch (clamp_min, minimum and the max norm keep
    NaN), with torch's gradients (NaN where its chain rule multiplies 0 by NaN, 0 elsewhere)."""
    gen = torch.Generator().manual_seed(seed_of(D, reduction))
    a, pos, neg = (torch.randn((4, D), generator=gen, dtype=dtype) for _ in range(3))
    a[0, 1] = math.nan
    neg[2, D - 1] = math.nan
    kw = dict(reduction=reduction)
    for p in (1.0, 2.0, 3.0, math.inf):
        for swap in (False, True):
            check_parity(LT.triplet_margin_loss, F.triplet_margin_loss, [a, pos, neg], dict(p=p, swap=swap, **kw),
                         grad_of=[0, 1, 2])
    for swap in (False, True):
        check_parity(lambda *t, **k: LT.triplet_margin_with_distance_loss(*t, distance_function=LT.cosine_distance, **k),
                     lambda *t, **k: F.triplet_margin_with_distance_loss(*t, distance_function=torch_cosine_distance, **k),
                     [a, pos, neg], dict(swap=swap, **kw), grad_of=[0, 1, 2])
    y = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=dtype)
    check_parity(LT.cosine_embedding_loss, F.cosine_embedding_loss, [a, neg, y], dict(margin=0.1, **kw), grad_of=[0, 1])
    x1, x2 = a[:, 1].clone(), neg[:, D - 1].clone()
    check_parity(LT.margin_ranking_loss, F.margin_ranking_loss, [x1, x2, y], kw, grad_of=[0, 1])
    check_parity(LT.hinge_embedding_loss, F.hinge_embedding_loss, [x2, y], kw, grad_of=[0])
    check_parity(LT.hinge_embedding_loss, F.hinge_embedding_loss, [x1, -y], kw, grad_of=[0])


def test_callable_distance_with_parameters_gets_gradients():
    """A learned distance (a torch module) receives its gradient through autograd."""
    torch.manual_seed(0)
    proj = torch.nn.Linear(5, 3).double()
    a, p, n = (torch.randn(4, 5, dtype=torch.float64) for _ in range(3))

    def dist(u, v):
        return (proj(u) - proj(v)).norm(dim=-1)

    LT.triplet_margin_with_distance_loss(a, p, n, distance_function=dist, margin=2.0).backward()
    ours = proj.weight.grad.clone()
    proj.weight.grad = None
    F.triplet_margin_with_distance_loss(a, p, n, distance_function=dist, margin=2.0).backward()
    torch.testing.assert_close(ours, proj.weight.grad)


@pytest.mark.parametrize("distance", [None, "cosine", "callable"])
def test_any_margin_as_torch(distance):
    """PyTorch 2.x's functionals refuse margin <= 0 with a ValueError; positive margins match."""
    a, p, n = (torch.randn(5, 4, dtype=torch.float64) for _ in range(3))
    ours, theirs = {None: (None, None), "cosine": (LT.cosine_distance, torch_cosine_distance),
                    "callable": ((lambda u, v: (u - v).abs().sum(-1)),) * 2}[distance]
    for margin in (0.0, -0.5):
        with pytest.raises(ValueError):
            F.triplet_margin_with_distance_loss(a, p, n, distance_function=theirs, margin=margin)
        with pytest.raises(ValueError, match="margin = .* must be > 0"):
            LT.triplet_margin_with_distance_loss(a, p, n, distance_function=ours, margin=margin)
        if distance is None:
            with pytest.raises(ValueError):
                F.triplet_margin_loss(a, p, n, margin=margin)
            with pytest.raises(ValueError, match="triplet_margin_loss: margin = .* must be > 0"):
                LT.triplet_margin_loss(a, p, n, margin=margin)
    for margin in (1e-3, 2.5):
        check_parity(lambda *t, **kw: LT.triplet_margin_with_distance_loss(*t, distance_function=ours, **kw),
                     lambda *t, **kw: F.triplet_margin_with_distance_loss(*t, distance_function=theirs, **kw),
                     [a, p, n], dict(margin=margin), grad_of=[0, 1, 2])


def test_numpy_matches_torch(rng):
    a, p, n = (rng.normal(size=(5, 4)) for _ in range(3))
    y = np.where(rng.uniform(size=5) < 0.5, -1.0, 1.0)
    ta, tp, tn = (torch.from_numpy(v).requires_grad_() for v in (a, p, n))
    out = LN.triplet_margin_loss_with_grad(a, p, n, margin=0.5, swap=True)
    ref = F.triplet_margin_loss(ta, tp, tn, margin=0.5, swap=True)
    np.testing.assert_allclose(out[0], ref.item(), rtol=1e-12)
    for g, r in zip(out[1:], torch.autograd.grad(ref, [ta, tp, tn])):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-10, atol=1e-14)
    out = LN.triplet_margin_with_distance_loss_with_grad(a, p, n, distance="cosine", reduction="sum")
    ref = F.triplet_margin_with_distance_loss(ta, tp, tn, distance_function=torch_cosine_distance, reduction="sum")
    np.testing.assert_allclose(out[0], ref.item(), rtol=1e-12)
    for g, r in zip(out[1:], torch.autograd.grad(ref, [ta, tp, tn])):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-10, atol=1e-14)
    ty = torch.from_numpy(y)
    value, g1, g2 = LN.cosine_embedding_loss_with_grad(a, p, y, margin=0.1)
    ref = F.cosine_embedding_loss(ta, tp, ty, margin=0.1)
    np.testing.assert_allclose(value, ref.item(), rtol=1e-12)
    for g, r in zip((g1, g2), torch.autograd.grad(ref, [ta, tp])):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-10, atol=1e-14)
    value, g1 = LN.hinge_embedding_loss_with_grad(a[:, 0], y, margin=0.5, reduction="sum")
    np.testing.assert_allclose(value, F.hinge_embedding_loss(ta[:, 0], ty, margin=0.5, reduction="sum").item())
    value, g1, g2, gy = LN.margin_ranking_loss_with_grad(a[:, 0], p[:, 0], y, margin=0.2)
    np.testing.assert_allclose(value, F.margin_ranking_loss(ta[:, 0], tp[:, 0], ty, margin=0.2).item())


def test_label_that_requires_grad_gets_none():
    """As torch: hinge_embedding_loss uses its labels in comparisons only (no gradient)."""
    x, y = torch.randn(4, requires_grad=True), torch.ones(4, requires_grad=True)
    LT.hinge_embedding_loss(x, y).backward()
    assert y.grad is None and x.grad is not None
