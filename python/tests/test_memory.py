"""Memory of large outputs: the buffer pool (python/src/bindings/buffers.cpp) and
cross_entropy(inplace_grad=True). Pool: correct values, writable contiguous tensors and arrays,
reuse across steps, and the cache limit. inplace_grad: torch's values and gradients, the logits'
memory reused, and its refusals."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit
import losskit.numpy as LN
import losskit.torch as LT
from losskit import _buffers

N = (_buffers.MIN_BYTES // 4) * 3  # float32 elements: a 3 MiB gradient, above the pool's threshold


@pytest.fixture(autouse=True)
def default_limit():
    yield
    losskit.set_buffer_cache_limit(1 << 30)


def test_large_gradients_come_from_the_pool_and_are_reused():
    x = torch.randn(N, requires_grad=True)
    t = torch.randn(N, requires_grad=True)
    before = losskit.buffer_cache_stats()
    for step in range(3):
        LT.mse_loss(x, t).backward()
        ref_x, ref_t = x.detach().clone().requires_grad_(), t.detach().clone().requires_grad_()
        F.mse_loss(ref_x, ref_t).backward()
        torch.testing.assert_close(x.grad, ref_x.grad)
        torch.testing.assert_close(t.grad, ref_t.grad)
        assert x.grad.is_contiguous() and x.grad.data_ptr() % (2 << 20) == 0
        x.grad = t.grad = None  # as optimizer.zero_grad(): the buffers go back to the pool
    after = losskit.buffer_cache_stats()
    assert after["hits"] - before["hits"] >= 4  # steps 2 and 3 reuse both buffers


def test_gradients_accumulate_in_pool_buffers():
    x = torch.randn(N, requires_grad=True)
    t = torch.randn(N)
    LT.l1_loss(x, t, reduction="sum").backward()
    LT.l1_loss(x, t, reduction="sum").backward()
    torch.testing.assert_close(x.grad, 2 * torch.sign(x.detach() - t))


def test_large_none_loss_and_16_bit():
    x = torch.randn(N // 2, 2)
    t = torch.randn(N // 2, 2)
    torch.testing.assert_close(LT.huber_loss(x, t, reduction="none"), F.huber_loss(x, t, reduction="none"))
    xb = torch.randn(N // 4, 4).bfloat16().requires_grad_()  # a 16-bit gradient of 3 MiB / 2
    y = torch.randint(0, 4, (N // 4,))
    LT.cross_entropy(xb, y, reduction="none").sum().backward()
    ref = xb.detach().clone().requires_grad_()
    F.cross_entropy(ref, y, reduction="none").sum().backward()
    assert xb.grad.dtype == torch.bfloat16 and xb.grad.shape == xb.shape
    torch.testing.assert_close(xb.grad, ref.grad, rtol=2e-2, atol=2e-2)


def test_cache_limit_zero_returns_memory():
    losskit.set_buffer_cache_limit(0)
    assert losskit.buffer_cache_stats()["cached_bytes"] == 0
    x = torch.randn(N, requires_grad=True)
    LT.mse_loss(x, torch.zeros(N)).backward()
    x.grad = None
    assert losskit.buffer_cache_stats()["cached_bytes"] == 0


def test_numpy_large_outputs_are_writable_arrays():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N).astype(np.float32)
    t = rng.standard_normal(N).astype(np.float32)
    loss, gx, gt = LN.mse_loss_with_grad(x, t)
    np.testing.assert_allclose(gx, 2 * (x - t) / N, rtol=1e-5, atol=1e-12)
    assert gx.flags["WRITEABLE"] and gx.flags["C_CONTIGUOUS"] and gx.dtype == np.float32
    gx[:] = 0  # the caller owns it
    none = LN.mse_loss(x.reshape(-1, 3), t.reshape(-1, 3), reduction="none")
    np.testing.assert_allclose(none, ((x - t) ** 2).reshape(-1, 3), rtol=1e-6)


# ---- cross_entropy(inplace_grad=True): the gradient written over the logits ----------------------
def _model_logits(seed=0, n=64, c=40, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, 16, generator=g, dtype=dtype)
    w = torch.randn(c, 16, generator=g, dtype=dtype).requires_grad_()
    y = torch.randint(0, c, (n,), generator=g)
    y[::5] = -100
    return h, w, y


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_inplace_grad_matches_and_reuses_the_logits(reduction, scale):
    h, w, y = _model_logits()
    logits = h @ w.t()
    ptr = logits.data_ptr()
    loss = LT.cross_entropy(logits, y, reduction=reduction, label_smoothing=0.1, inplace_grad=True)
    (loss * scale).backward()
    w_ref = w.detach().clone().requires_grad_()
    logits_ref = h @ w_ref.t()
    ref = F.cross_entropy(logits_ref, y, reduction=reduction, label_smoothing=0.1)
    (ref * scale).backward()
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(w.grad, w_ref.grad)
    # the logits' memory now holds their gradient
    x = (h @ w_ref.detach().t()).requires_grad_()
    (F.cross_entropy(x, y, reduction=reduction, label_smoothing=0.1) * scale).backward()
    assert logits.data_ptr() == ptr
    torch.testing.assert_close(logits.detach(), x.grad)


def test_inplace_grad_16_bit():
    h, w, y = _model_logits(dtype=torch.bfloat16)
    loss = LT.cross_entropy(h @ w.t(), y, inplace_grad=True)
    loss.backward()
    w_ref = w.detach().clone().requires_grad_()
    F.cross_entropy(h @ w_ref.t(), y).backward()
    assert loss.dtype == torch.bfloat16
    torch.testing.assert_close(w.grad, w_ref.grad, rtol=3e-2, atol=3e-2)


def test_inplace_grad_refusals():
    h, w, y = _model_logits()
    leaf = torch.randn(4, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        LT.cross_entropy(leaf, torch.tensor([0, 1, 2, 0]), inplace_grad=True)
    with pytest.raises(ValueError, match="reduction"):
        LT.cross_entropy(h @ w.t(), y, reduction="none", inplace_grad=True)
    # an operation that saved the logits for its backward sees them modified
    logits = h @ w.t()
    other = (logits * logits).sum()
    loss = LT.cross_entropy(logits, y, inplace_grad=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (loss + other).backward()
    # without a gradient to compute, the flag changes nothing
    with torch.no_grad():
        x = torch.randn(5, 4)
        before = x.clone()
        torch.testing.assert_close(LT.cross_entropy(x, torch.tensor([0, 1, 2, 3, 0]), inplace_grad=True),
                                   F.cross_entropy(before, torch.tensor([0, 1, 2, 3, 0])))
        assert torch.equal(x, before)


def test_inplace_grad_under_compile_is_the_plain_loss():
    h, w, y = _model_logits()
    f = torch.compile(lambda h, w: LT.cross_entropy(h @ w.t(), y, inplace_grad=True), fullgraph=True,
                      backend="aot_eager")
    loss = f(h, w)
    loss.backward()
    w_ref = w.detach().clone().requires_grad_()
    F.cross_entropy(h @ w_ref.t(), y).backward()
    torch.testing.assert_close(w.grad, w_ref.grad)
