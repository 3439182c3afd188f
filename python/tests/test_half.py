"""bfloat16 / float16 inputs where the C++ API has 16-bit overloads (cross_entropy and nll_loss
with class ids): computed in float32, loss returned in the input's dtype (as torch), gradient
written in the input's dtype. Compared with torch on the float32 upcast of the same values."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit.numpy as LN
import losskit.torch as LT
from losskit import _losskit
from conftest import seed_of, with_layout

pytestmark = pytest.mark.skipif(not _losskit.HAS_HALF, reason="built without include/losskit/dtype.hpp")

HALF = [torch.bfloat16, torch.float16]
# One rounding of the float32 result to the 16-bit type (bf16: 8 bits of mantissa, fp16: 11).
TOL = {torch.bfloat16: dict(rtol=8e-3, atol=1e-5), torch.float16: dict(rtol=1e-3, atol=1e-6)}


@pytest.mark.parametrize("half", HALF, ids=["bf16", "fp16"])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["contiguous", "strided", "permuted"])
def test_half_matches_float32_reference(half, fn, reduction, weighted, layout):
    gen = torch.Generator().manual_seed(seed_of(fn, reduction, weighted))
    x = (torch.randn(6, 5, 3, generator=gen) * 3).to(half)
    if fn == "nll_loss":
        x = torch.log_softmax(x.float(), 1).to(half)
    y = torch.randint(0, 5, (6, 3), generator=gen)
    y[0, 0] = 2
    kw = dict(reduction=reduction, ignore_index=2)
    if fn == "cross_entropy":
        kw["label_smoothing"] = 0.1
    w = (torch.rand(5, generator=gen) + 0.5).to(half).float() if weighted else None  # exact in 16 bits
    xl = with_layout(x, layout).requires_grad_()
    a = getattr(LT, fn)(xl, y, weight=None if w is None else w.to(half), **kw)
    assert a.dtype == half
    xr = x.float().requires_grad_()
    b = getattr(F, fn)(xr, y, weight=w, **kw)
    torch.testing.assert_close(a.float(), b.to(half).float(), **TOL[half])
    g = torch.rand(b.shape, generator=gen) + 0.5
    ga, = torch.autograd.grad(a, xl, g.to(half))
    gb, = torch.autograd.grad(b, xr, g.to(half).float())
    assert ga.dtype == half
    torch.testing.assert_close(ga.float(), gb.to(half).float(), **TOL[half])


def test_half_probability_targets_are_refused():
    x = torch.randn(4, 3).to(torch.bfloat16)
    with pytest.raises(RuntimeError, match="^cross_entropy: input has dtype bfloat16, which cross_entropy does "
                                           "not support with probability targets"):
        LT.cross_entropy(x, torch.rand(4, 3).to(torch.bfloat16))


def test_numpy_float16():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4)).astype(np.float16)
    y = rng.integers(0, 4, size=5)
    loss, grad = LN.cross_entropy_with_grad(x, y)
    assert loss.dtype == np.float32 and grad.dtype == np.float16
    xr = torch.from_numpy(x.astype(np.float32)).requires_grad_()
    ref = F.cross_entropy(xr, torch.from_numpy(y))
    ref.backward()
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-6)
    np.testing.assert_allclose(grad.astype(np.float32), xr.grad.numpy().astype(np.float16).astype(np.float32),
                               rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("half", HALF, ids=["bf16", "fp16"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_half(half, reduction, log_target):
    """kl_div's 16-bit C++ overloads from Python: float32 arithmetic, the loss and both
    gradients in the inputs' dtype, as torch on the float32 values rounded once."""
    gen = torch.Generator().manual_seed(seed_of("kl", reduction, log_target))
    x = torch.log_softmax(torch.randn(6, 7, generator=gen), 1).to(half)
    t = torch.softmax(torch.randn(6, 7, generator=gen), 1)
    t = (torch.log(t) if log_target else t).to(half)
    xa, ta = x.clone().requires_grad_(), t.clone().requires_grad_()
    a = LT.kl_div(xa, ta, reduction=reduction, log_target=log_target)
    assert a.dtype == half
    xr, tr = x.float().requires_grad_(), t.float().requires_grad_()
    b = F.kl_div(xr, tr, reduction=reduction, log_target=log_target)
    torch.testing.assert_close(a.float(), b.to(half).float(), **TOL[half])
    g = torch.rand(b.shape, generator=gen) + 0.5
    ga = torch.autograd.grad(a, [xa, ta], g.to(half))
    gb = torch.autograd.grad(b, [xr, tr], g.to(half).float())
    for u, v in zip(ga, gb):
        assert u.dtype == half
        torch.testing.assert_close(u.float(), v.to(half).float(), **TOL[half])
