"""ctc_loss against torch.nn.functional.ctc_loss (torch 2.13): randomized T, N, C, S, both target
forms, every reduction, zero_infinity, blank, lengths as tensors / lists / int32, unbatched inputs,
strided log_probs, special values; float64 finite differences; ctc_infeasible; errors; NumPy and
the module class."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit.numpy as LN
import losskit.torch as LT
from conftest import TOL


def make(T, N, C, S, dtype=torch.float64, blank=0, seed=0, normalized=True, repeats=False):
    """log_probs (T, N, C); padded targets (N, S) without the blank; input/target lengths."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, N, C, generator=g, dtype=dtype) * 2
    if normalized:
        x = x.log_softmax(2)
    labels = torch.tensor([c for c in range(C) if c != blank])
    pick = torch.randint(0, min(2, len(labels)) if repeats else len(labels), (N, S), generator=g)
    tg = labels[pick]
    il = torch.randint(max(1, T // 2), T + 1, (N,), generator=g)
    il[0] = T
    tl = torch.randint(0, S + 1, (N,), generator=g)
    return x, tg, il, tl


def concat(tg, tl):
    return torch.cat([tg[n, :int(tl[n])] for n in range(len(tl))])


def _err(a, ref):
    """Largest error of a against ref where both are finite."""
    ok = torch.isfinite(a) & torch.isfinite(ref)
    return (a[ok].double() - ref[ok]).abs().max().item() if ok.any() else 0.0


F32_TOL = dict(rtol=1e-4, atol=2e-5)


def compare(x, tg, il, tl, upstream="random", tol=None, **kw):
    """losskit against torch, values and gradients. float32: both libraries round differently in
    alpha + beta - loss (a cancellation), so they are also compared with torch in float64, where
    losskit must be within twice torch's own float32 error (plus a few ULP)."""
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    la = LT.ctc_loss(a, tg, il, tl, **kw)
    lb = F.ctc_loss(b, tg, il, tl, **kw)
    assert la.dtype == lb.dtype and la.shape == lb.shape
    tol = tol or (F32_TOL if x.dtype == torch.float32 else TOL[x.dtype])
    torch.testing.assert_close(la, lb, equal_nan=True, **tol)
    g = torch.ones_like(lb) if upstream == "one" else torch.rand(lb.shape, dtype=lb.dtype,
                                                                  generator=torch.Generator().manual_seed(5))
    ga, = torch.autograd.grad(la, a, g)
    gb, = torch.autograd.grad(lb, b, g)
    torch.testing.assert_close(ga, gb, equal_nan=True, **tol)
    if x.dtype == torch.float32:
        c = x.double().requires_grad_()
        lc = F.ctc_loss(c, tg, il, tl, **kw)
        gc, = torch.autograd.grad(lc, c, g.double())
        assert _err(ga, gc) <= 2 * _err(gb, gc) + 1e-6
        assert _err(la, lc.detach()) <= 2 * _err(lb, lc.detach()) + 1e-6 * (1 + lc.detach().abs().nan_to_num(0, 0, 0).max().item())
    return la, ga


SHAPES = [(1, 1, 2, 1), (5, 2, 4, 2), (30, 3, 5, 10), (50, 4, 20, 30), (7, 3, 3, 5), (120, 2, 40, 50),
          (64, 5, 9, 31)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("form", ["padded", "concatenated"])
def test_against_torch(shape, reduction, zero_infinity, form, dtype):
    for k, blank in enumerate([0, shape[2] - 1]):
        x, tg, il, tl = make(*shape, dtype=dtype, blank=blank, seed=k + 3 * len(reduction),
                             repeats=(k == 1))
        if form == "concatenated":
            tg = concat(tg, tl)
        compare(x, tg, il, tl, upstream="one" if k else "random", blank=blank, reduction=reduction,
                zero_infinity=zero_infinity)


@pytest.mark.parametrize("normalized", [True, False])
def test_unnormalized_log_probs(normalized, dtype):
    # PyTorch's gradient formula holds for any input; losskit gives the same values
    x, tg, il, tl = make(20, 3, 6, 8, dtype=dtype, normalized=normalized, seed=4)
    compare(x, tg, il, tl, reduction="sum")


def test_length_forms():
    x, tg, il, tl = make(15, 3, 5, 6, seed=2)
    ref = F.ctc_loss(x, tg, il, tl, reduction="none")
    for il_, tl_ in [(il.tolist(), tl.tolist()), (tuple(il.tolist()), tuple(tl.tolist())),
                     (il.int(), tl.int()), (il[None].expand(2, 3)[1], tl)]:
        torch.testing.assert_close(LT.ctc_loss(x, tg, il_, tl_, reduction="none"), ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(LT.ctc_loss(x, tg.int(), il, tl, reduction="none"), ref, rtol=1e-12, atol=0)
    # float targets: torch converts them to int64, and so does losskit.torch
    torch.testing.assert_close(LT.ctc_loss(x, tg.double(), il, tl, reduction="none"), ref, rtol=1e-12, atol=0)


def test_unbatched():
    x, tg, il, tl = make(12, 1, 5, 4, seed=6)
    x1, t1 = x[:, 0], tg[0, :int(tl[0])]
    for reduction in ["none", "mean", "sum"]:
        compare(x1, t1, torch.tensor(int(il[0])), torch.tensor(int(tl[0])), reduction=reduction)
    assert LT.ctc_loss(x1, t1, torch.tensor(12), torch.tensor(int(tl[0])), reduction="none").shape == ()


@pytest.mark.parametrize("layout", ["permuted", "strided", "expanded_batch"])
def test_strided_log_probs(layout):
    x, tg, il, tl = make(25, 4, 7, 9, dtype=torch.float32, seed=8)
    if layout == "permuted":  # stored (N, T, C) or (C, T, N)
        xs = x.permute(1, 0, 2).contiguous().permute(1, 0, 2)
        xc = x.permute(2, 0, 1).contiguous().permute(1, 2, 0)
        for v in (xs, xc):
            assert torch.equal(v, x)
            compare(v, tg, il, tl, reduction="sum")
    elif layout == "strided":
        big = torch.zeros(50, 4, 14)
        big[::2, :, ::2] = x
        compare(big[::2, :, ::2], tg, il, tl, reduction="mean")
    else:  # one sequence broadcast over the batch (stride 0)
        xe = x[:, :1].expand(25, 4, 7)
        tge = tg[:1].expand(4, 9)
        la, _ = compare(xe, tge, [25] * 4, [int(tl[0])] * 4, reduction="none")
        assert torch.all(la == la[0])


def test_infeasible_and_zero_infinity():
    x, _, _, _ = make(6, 3, 5, 3, seed=9)
    tg = torch.tensor([[1, 1, 1], [1, 2, 3], [2, 2, 4]])
    il = torch.tensor([5, 2, 4])  # needs 5, 3, 4 steps
    tl = torch.tensor([3, 3, 3])
    for reduction in ["none", "sum", "mean"]:
        for zi in [False, True]:
            compare(x, tg, il, tl, reduction=reduction, zero_infinity=zi)
    assert LT.ctc_infeasible(tg, il, tl) == [1]
    assert LT.ctc_infeasible(concat(tg, tl), [4, 2, 4], [3, 3, 3]) == [0, 1]
    assert LT.ctc_loss(x, tg, il, tl, reduction="none")[1] == float("inf")


def test_zero_input_lengths():
    x, tg, _, _ = make(5, 3, 4, 2, seed=10)
    compare(x, tg, [0, 0, 5], [0, 1, 2], reduction="none")
    out = LT.ctc_loss(x, tg, [0, 0, 5], [0, 1, 2], reduction="none")
    assert out[0] == 0 and torch.signbit(out[0])  # -0.0, as torch


@pytest.mark.parametrize("case", ["nan non-target", "nan target", "nan late", "-inf column", "-inf blank t0",
                                  "all -inf", "+inf", "huge"])
def test_special_values(case, dtype):
    x, _, _, _ = make(6, 3, 5, 3, dtype=dtype, seed=1)
    tg = torch.tensor([[1, 2, 2], [3, 3, 3], [4, 1, 2]])
    nan, inf = float("nan"), float("inf")
    if case == "nan non-target":
        x[2, 0, 3] = nan
    elif case == "nan target":
        x[2, 0, 1] = nan
    elif case == "nan late":
        x[1, 0, 2] = nan
    elif case == "-inf column":
        x[3, :, 4] = -inf
    elif case == "-inf blank t0":
        x[0, 0, 0] = -inf
    elif case == "all -inf":
        x[:, 1, :] = -inf
    elif case == "+inf":
        x[2, 2, 1] = inf
    # huge: log-probabilities around -1e3..-1e4; float32 cancellation in alpha + beta - loss then
    # costs a few ULP of the loss in both libraries, so compare at that scale
    tol = None
    if case == "huge":
        x = x * 1000
        tol = dict(rtol=1e-3, atol=5e-3) if dtype == torch.float32 else dict(rtol=1e-7, atol=1e-9)
    for reduction in ["none", "mean", "sum"]:
        for zi in [False, True]:
            for il in ([6, 6, 6], [6, 5, 2], [0, 6, 6]):
                compare(x, tg, il, [3, 3, 2], reduction=reduction, zero_infinity=zi, tol=tol)


def test_finite_differences_through_log_softmax():
    # The gradient is PyTorch's: the gradient w.r.t. the logits once log_softmax is composed in front.
    x, tg, il, tl = make(8, 3, 4, 3, seed=12, normalized=False)
    tl = torch.tensor([3, 2, 0])
    for reduction in ["none", "mean", "sum"]:
        assert torch.autograd.gradcheck(
            lambda z: LT.ctc_loss(z.log_softmax(2), tg, il, tl, reduction=reduction),
            (x.clone().requires_grad_(),))
    # and w.r.t. normalized log_probs the gradient differs from the partial derivative by exp(log_probs)
    lp = x.log_softmax(2).requires_grad_()
    g, = torch.autograd.grad(LT.ctc_loss(lp, tg, il, tl, reduction="sum"), lp)
    rows_sum = g.sum(2)
    for n in range(3):
        torch.testing.assert_close(rows_sum[:int(il[n]), n], torch.zeros(int(il[n]), dtype=g.dtype), atol=1e-12, rtol=0)


def test_large_batch_threads_and_dtype_float32():
    x, tg, il, tl = make(200, 16, 30, 60, dtype=torch.float32, seed=13)
    compare(x, tg, il, tl, reduction="mean", tol=dict(rtol=1e-4, atol=2e-5))
    import losskit
    saved = losskit.get_num_threads()
    try:
        a = []
        for nt in (1, 2):
            losskit.set_num_threads(nt)
            xx = x.clone().requires_grad_()
            loss = LT.ctc_loss(xx, tg, il, tl)
            loss.backward()
            a.append((loss.detach(), xx.grad))
        assert torch.equal(a[0][0], a[1][0]) and torch.equal(a[0][1], a[1][1])
    finally:
        losskit.set_num_threads(saved)


def test_errors():
    x, tg, il, tl = make(6, 3, 5, 3, seed=1)
    # where torch raises, RuntimeError with losskit's message
    for args, kw, msg in [
        ((x, tg, [6, 6, 7], tl), {}, r"input_lengths\[2\] = 7 is longer than log_probs \(6 steps\)"),
        ((x, tg, [6, -1, 6], tl), {}, r"input_lengths\[1\] = -1 is negative"),
        ((x, tg, il, [4, 0, 0]), {}, r"target_lengths\[0\] = 4 is longer than the padded targets"),
        ((x, tg, il, [1, -1, 0]), {}, r"target_lengths\[1\] = -1 is negative"),
        ((x, tg, [6, 6], tl), {}, "input_lengths has 2 values but the batch has 3"),
        ((x, tg.flatten()[:5], il, [2, 2, 2]), {}, "targets is 1-D .* with 5 labels but target_lengths sum to 6"),
        ((x, tg, il, tl), dict(blank=5), r"blank = 5 is outside \[0, 5\)"),
        ((torch.zeros(0, 3, 5), tg, [0, 0, 0], [0, 0, 0]), {}, "log_probs has shape"),
    ]:
        targs = tuple(torch.tensor(a) if isinstance(a, list) else a for a in args)  # torch: both tensors or both lists
        with pytest.raises(RuntimeError):
            F.ctc_loss(*targs, **kw)
        with pytest.raises(RuntimeError, match="^ctc_loss: " + msg):
            LT.ctc_loss(*args, **kw)
    # stricter than torch (which reads out of range or computes with them): ids in [0, C) \ {blank}
    with pytest.raises(IndexError, match=r"^ctc_loss: targets\[0, 1\] = 0 is the blank label"):
        LT.ctc_loss(x, torch.tensor([[1, 0, 2]] * 3), il, [3, 3, 3])
    with pytest.raises(IndexError, match=r"^ctc_loss: targets\[2\] = 9 is outside \[0, 5\)"):
        LT.ctc_loss(x, torch.tensor([1, 2, 9]), il, [1, 1, 1])
    with pytest.raises(RuntimeError, match="^ctc_loss: log_probs has dtype bfloat16"):
        LT.ctc_loss(x.bfloat16(), tg, il, tl)
    # buffers untouched: the C++ entry writes nothing on an error
    from losskit import _losskit
    out = np.full(3, 7.0)
    grad = np.full((6, 3, 5), 7.0)
    with pytest.raises(IndexError):
        _losskit.ctc_loss("forward_backward", (x.numpy(), np.array([[1, 0, 2]] * 3), il.numpy(), np.array([3, 3, 3])),
                          out, None, (grad, None, None, None), reduction="none")
    assert (out == 7).all() and (grad == 7).all()


def test_numpy(rng):
    x, tg, il, tl = make(10, 3, 5, 4, seed=14)
    for reduction in ["none", "mean", "sum"]:
        ref = x.clone().requires_grad_()
        loss = F.ctc_loss(ref, tg, il, tl, reduction=reduction)
        loss.sum().backward()
        value = LN.ctc_loss(x.numpy(), tg.numpy(), il.tolist(), tl.numpy(), reduction=reduction)
        np.testing.assert_allclose(value, loss.detach().numpy(), rtol=1e-12)
        v, g = LN.ctc_loss_with_grad(x.numpy(), tg.numpy().astype(np.int32), il.numpy(), tl.numpy(), reduction=reduction)
        np.testing.assert_allclose(v, value, rtol=1e-12)
        np.testing.assert_allclose(g, ref.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_module():
    x, tg, il, tl = make(10, 3, 5, 4, seed=15)
    m = LT.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert isinstance(m, torch.nn.CTCLoss)
    torch.testing.assert_close(m(x, tg, il, tl), torch.nn.CTCLoss(reduction="sum", zero_infinity=True)(x, tg, il, tl))
