"""losskit.torch.kl_div against torch.nn.functional.kl_div (values, gradients w.r.t. input and
target); losskit.torch.jsd and tvd against transcriptions of Liger Kernel's kernels;
generalized_kl_divergence against optax on JAX."""
import warnings

import pytest
import torch
import torch.nn.functional as F

import losskit.torch as LT
import losskit.torch.nn as lnn
from conftest import TOL, check_parity, seed_of
from peers import jax_libs, jax_ref, reduce

SHAPES = [(5,), (4, 6), (3, 4, 5), (2, 3, 2, 4), (0, 3)]


def kl_inputs(shape, dtype, log_target, gen, zeros):
    x = torch.log_softmax(torch.randn(shape, generator=gen, dtype=dtype), dim=-1)
    t = torch.softmax(torch.randn(shape, generator=gen, dtype=dtype) * 2, dim=-1)
    if zeros and t.numel():
        t = torch.where(torch.rand(shape, generator=gen) < 0.25, torch.zeros_like(t), t)
    if log_target:
        t = torch.log_softmax(torch.randn(shape, generator=gen, dtype=dtype), dim=-1)
    return x, t


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
# Zero target probabilities with a target gradient are left out here: d/dt of t*log(t) at
# t = 0 is nan in torch and 0 in losskit (test_kl_div_zero_target_gradient_is_finite).
@pytest.mark.parametrize("log_target,zeros,grad_of",
                         [(False, False, [0]), (False, False, [0, 1]), (False, False, [1]),
                          (False, True, [0]), (True, False, [0]), (True, False, [0, 1]), (True, False, [1])])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_kl_div(shape, reduction, log_target, zeros, grad_of, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, log_target, zeros))
    x, t = kl_inputs(shape, dtype, log_target, gen, zeros)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_parity(LT.kl_div, F.kl_div, [x, t], dict(reduction=reduction, log_target=log_target),
                     grad_of=grad_of, layout=layout, upstream=upstream)


def test_kl_div_zero_target_gradient_is_finite():
    x = torch.log_softmax(torch.randn(3, 4, dtype=torch.float64), -1).requires_grad_()
    t = torch.tensor([[0.0, 0.5, 0.5, 0.0]] * 3, dtype=torch.float64, requires_grad=True)
    LT.kl_div(x, t, reduction="batchmean").backward()
    assert torch.isfinite(t.grad).all()
    assert (t.grad[:, 0] == 0).all()
    torch.testing.assert_close(x.grad, -t.detach() / 3)


def test_kl_div_mean_warns_like_torch():
    x = torch.zeros(2, 3)
    with pytest.warns(UserWarning):
        LT.kl_div(x, x.exp() / 3)


# ---- jsd: Liger Kernel's generalized Jensen-Shannon divergence -----------------------------------
# Liger needs triton and a GPU and does not install here: the reference is a float64 transcription
# of Liger Kernel 0.8.5's _jsd_kernel and jsd_forward (liger_kernel/ops/jsd.py) in torch ops.
def liger_jsd_elements(x, y, beta):
    """Liger's per-element loss (before its 1/n scale); x = log q (student), y = log p (teacher)."""
    x, y = x.double(), y.double()
    if beta == 0.0:  # forward KL
        return y.exp() * (y - x)
    if beta == 1.0:  # reverse KL
        return x.exp() * (x - y)
    mx = torch.maximum(x, y)
    log_m = mx + torch.log(beta * torch.exp(y - mx) + (1 - beta) * torch.exp(x - mx))
    return beta * y.exp() * (y - log_m) + (1 - beta) * x.exp() * (x - log_m)


def liger_jsd(input, target, shift_labels=None, beta=0.5, ignore_index=-100):
    """The loss of LigerJSDFunction.forward: the per-element losses summed over the kept rows,
    divided by their number (n_non_ignore; ignored rows are skipped by the kernel)."""
    loss = liger_jsd_elements(input, target, beta)
    if shift_labels is None:
        n = input.shape[0]
    else:
        keep = shift_labels != ignore_index
        n = int(keep.sum())
        loss = torch.where(keep[:, None], loss, torch.zeros_like(loss))
    return (loss.sum() / n if n else loss.sum() * 0).to(input.dtype)


def liger_jsd_dx(input, target, shift_labels=None, beta=0.5, ignore_index=-100):
    """Liger's dX as its kernel writes it (the input's gradient, for an upstream gradient of 1)."""
    x, y = input.double(), target.double()
    q, p = x.exp(), y.exp()
    if beta == 0.0:
        dx = -p
    elif beta == 1.0:
        dx = q * (x - y) + q
    else:
        mx = torch.maximum(x, y)
        log_m = mx + torch.log(beta * torch.exp(y - mx) + (1 - beta) * torch.exp(x - mx))
        dx = (1 - beta) * q * (x - log_m)
    n = input.shape[0]
    if shift_labels is not None:
        keep = shift_labels != ignore_index
        n = int(keep.sum())
        dx = torch.where(keep[:, None], dx, torch.zeros_like(dx))
    return (dx / max(n, 1)).to(input.dtype)


def jsd_inputs(bt, v, dtype, gen, labeled, ignore_index=-100):
    x = torch.log_softmax(torch.randn(bt, v, generator=gen, dtype=dtype) * 2, dim=-1)
    y = torch.log_softmax(torch.randn(bt, v, generator=gen, dtype=dtype) * 2, dim=-1)
    labels = None
    if labeled:
        labels = torch.randint(0, max(v, 1), (bt,), generator=gen)
        labels[torch.rand(bt, generator=gen) < 0.3] = ignore_index
    return x, y, labels


@pytest.mark.parametrize("bt,v", [(1, 1), (4, 7), (6, 33), (3, 300), (0, 5)], ids=str)
@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("labeled,ignore_index", [(False, -100), (True, -100), (True, 2)])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_jsd_against_liger_transcription(bt, v, beta, labeled, ignore_index, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(bt, v, beta, labeled, ignore_index))
    x, y, labels = jsd_inputs(bt, v, dtype, gen, labeled, ignore_index)
    kw = dict(beta=beta, ignore_index=ignore_index)
    check_parity(LT.jsd, liger_jsd, [x, y, labels], kw, grad_of=[0, 1], layout=layout, upstream=upstream)
    # The input's gradient is Liger's dX.
    xg = x.clone().requires_grad_()
    LT.jsd(xg, y, labels, **kw).backward()
    torch.testing.assert_close(xg.grad, liger_jsd_dx(x, y, labels, **kw), **TOL[dtype])


def test_jsd_module_takes_shift_labels_per_call():
    gen = torch.Generator().manual_seed(5)
    x, y, labels = jsd_inputs(6, 9, torch.float64, gen, True)
    m = lnn.JSDLoss(beta=0.3)
    assert (m.beta, m.ignore_index) == (0.3, -100)
    torch.testing.assert_close(m(x, y, labels), liger_jsd(x, y, labels, beta=0.3))
    torch.testing.assert_close(m(x, y, shift_labels=labels), liger_jsd(x, y, labels, beta=0.3))
    torch.testing.assert_close(m(x, y), liger_jsd(x, y, beta=0.3))
    with pytest.raises(TypeError, match="unexpected"):
        lnn.JSDLoss(shift_labels=labels)


def test_jsd_masked_vocabulary_and_ignored_rows():
    # -inf log-probabilities (masked vocabulary) count 0 with 0 gradients, where Liger's kernel
    # gives NaN (0 * (-inf - -inf)); an ignored row is never read, NaN included.
    x = torch.log_softmax(torch.randn(3, 5, dtype=torch.float64), -1)
    y = torch.log_softmax(torch.randn(3, 5, dtype=torch.float64), -1)
    x[:, 0] = y[:, 0] = -float("inf")
    x[2] = float("nan")
    labels = torch.tensor([1, 4, -100])
    for beta in (0.0, 0.5, 1.0):
        xg, yg = x.clone().requires_grad_(), y.clone().requires_grad_()
        loss = LT.jsd(xg, yg, labels, beta=beta)
        loss.backward()
        keep = slice(1, 5)
        torch.testing.assert_close(loss, liger_jsd(x[:2, keep], y[:2, keep], beta=beta))
        assert (xg.grad[:, 0] == 0).all() and (yg.grad[:, 0] == 0).all()
        assert (xg.grad[2] == 0).all() and (yg.grad[2] == 0).all()
        assert torch.isfinite(xg.grad).all() and torch.isfinite(yg.grad).all()
    assert torch.isnan(LT.jsd(x, y, beta=0.5))  # the NaN row kept
    all_ignored = torch.full((3,), -100)
    assert LT.jsd(x, y, all_ignored).item() == 0.0


def test_jsd_float32_large_vocabulary():
    gen = torch.Generator().manual_seed(11)
    x, y, labels = jsd_inputs(8, 32000, torch.float32, gen, True)
    for beta in (0.0, 0.5, 1.0):
        check_parity(LT.jsd, liger_jsd, [x, y, labels], dict(beta=beta), grad_of=[0, 1], upstream="one")


@pytest.mark.parametrize("args,kwargs,exc,message", [
    ((torch.zeros(3, 4), torch.zeros(3, 4)), dict(beta=1.5), ValueError, "jsd: beta = 1.5 is outside [0, 1]"),
    ((torch.zeros(3, 4), torch.zeros(3, 4)), dict(beta=float("nan")), ValueError, "jsd: beta = nan is outside"),
    ((torch.zeros(12), torch.zeros(12)), {}, RuntimeError, "jsd: input must be 2-D (BT, V), got shape [12]"),
    ((torch.zeros(3, 4), torch.zeros(4, 3)), {}, RuntimeError, "jsd: input and target must have the same shape"),
    ((torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(4, dtype=torch.long)), {}, RuntimeError,
     "jsd: shift_labels has shape [4], expected [3]"),
    ((torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(3)), {}, RuntimeError,
     "jsd: shift_labels has dtype float32, expected int64 or int32"),
    ((torch.zeros(3, 4), torch.zeros(3, 4, dtype=torch.float64)), {}, RuntimeError,
     "jsd: target has dtype float64, expected float32"),
])
def test_jsd_errors(args, kwargs, exc, message):
    with pytest.raises(exc) as info:
        LT.jsd(*args, **kwargs)
    assert str(info.value).startswith(message), str(info.value)
    # The same from NumPy, and nothing written into the buffers of the C++ entry.
    import numpy as np
    from losskit import _losskit
    out = np.full((), 7.0, dtype=np.float32)
    grad = np.full(tuple(args[0].shape), 7.0, dtype=np.float32)
    arrays = tuple(a.numpy() for a in args[:2])
    labels = args[2].numpy() if len(args) > 2 else None
    with pytest.raises(exc):
        _losskit.jsd("forward_backward", arrays, out, None, (grad, None), shift_labels=labels, **kwargs)
    assert (out == 7).all() and (grad == 7).all()


# ---- tvd: Liger Kernel's total variation distance -------------------------------------------------
# The reference: a float64 transcription of Liger Kernel 0.8.5's _tv_distance_kernel and
# tv_distance_forward_triton (liger_kernel/ops/tvd.py) in torch ops (Liger needs triton and a GPU).
def liger_tvd(input, target, shift_labels=None, reduction="batchmean", ignore_index=-100):
    loss = 0.5 * (input.double() - target.double()).abs()
    bt, v = input.shape
    n = bt
    if shift_labels is not None:
        keep = shift_labels != ignore_index
        n = int(keep.sum())
        loss = torch.where(keep[:, None], loss, torch.zeros_like(loss))
    if reduction == "none":
        out = loss
    elif reduction == "sum":
        out = loss.sum()
    else:
        denom = n if reduction == "batchmean" else n * v
        out = loss.sum() / denom if denom else loss.sum() * 0  # Liger: ZeroDivisionError
    return out.to(input.dtype)


def liger_tvd_grad(input, target, shift_labels=None, reduction="batchmean", ignore_index=-100):
    """Liger's gradient as its kernel writes it: 0.5 sign(p - q) times the reduction's scale."""
    bt, v = input.shape
    n = bt if shift_labels is None else int((shift_labels != ignore_index).sum())
    scale = {"batchmean": 1 / max(n, 1), "mean": 1 / max(n * v, 1)}.get(reduction, 1.0)
    p, q = input.double(), target.double()
    half = torch.full_like(p, 0.5 * scale)
    g = torch.where(p == q, torch.zeros_like(p), torch.where(p > q, half, -half))
    if shift_labels is not None:
        g = torch.where((shift_labels != ignore_index)[:, None], g, torch.zeros_like(g))
    return g.to(input.dtype)


@pytest.mark.parametrize("bt,v", [(1, 1), (4, 7), (6, 33), (3, 300), (0, 5)], ids=str)
@pytest.mark.parametrize("reduction", ["batchmean", "mean", "sum", "none"])
@pytest.mark.parametrize("labeled,ignore_index", [(False, -100), (True, -100), (True, 2)])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_tvd_against_liger_transcription(bt, v, reduction, labeled, ignore_index, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(bt, v, reduction, labeled, ignore_index))
    p = torch.softmax(torch.randn(bt, v, generator=gen, dtype=dtype), -1)
    q = torch.softmax(torch.randn(bt, v, generator=gen, dtype=dtype), -1)
    labels = None
    if labeled:
        labels = torch.randint(0, max(v, 1), (bt,), generator=gen)
        labels[torch.rand(bt, generator=gen) < 0.3] = ignore_index
    kw = dict(reduction=reduction, ignore_index=ignore_index)
    check_parity(LT.tvd, liger_tvd, [p, q, labels], kw, grad_of=[0, 1], layout=layout, upstream=upstream)
    # The input's gradient is Liger's.
    pg = p.clone().requires_grad_()
    LT.tvd(pg, q, labels, **kw).sum().backward()
    torch.testing.assert_close(pg.grad, liger_tvd_grad(p, q, labels, **kw), **TOL[dtype])


def test_tvd_module_and_defaults():
    p = torch.softmax(torch.randn(5, 6, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(5, 6, dtype=torch.float64), -1)
    labels = torch.tensor([0, -100, 3, 4, -100])
    m = lnn.TVDLoss()
    assert (m.reduction, m.ignore_index) == ("batchmean", -100)  # LigerTVDLoss's defaults
    torch.testing.assert_close(m(p, q, labels), liger_tvd(p, q, labels))
    torch.testing.assert_close(lnn.TVDLoss(reduction="none")(p, q, shift_labels=labels),
                               liger_tvd(p, q, labels, reduction="none"))
    # Ties have gradient 0; an ignored row is never read; no kept row gives 0.
    p[0, :2] = q[0, :2]
    p[1] = float("nan")
    pg = p.clone().requires_grad_()
    loss = LT.tvd(pg, q, labels)
    loss.backward()
    assert torch.isfinite(loss) and (pg.grad[0, :2] == 0).all() and (pg.grad[1] == 0).all()
    assert LT.tvd(p, q, torch.full((5,), -100), reduction="mean").item() == 0.0
    assert torch.isnan(LT.tvd(p, q))


@pytest.mark.parametrize("args,kwargs,exc,message", [
    ((torch.zeros(3, 4), torch.zeros(3, 4)), dict(reduction="avg"), ValueError, "tvd: reduction = 'avg'"),
    ((torch.zeros(12), torch.zeros(12)), {}, RuntimeError, "tvd: input must be 2-D (BT, V), got shape [12]"),
    ((torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(2, dtype=torch.long)), {}, RuntimeError,
     "tvd: shift_labels has shape [2], expected [3]"),
])
def test_tvd_errors(args, kwargs, exc, message):
    with pytest.raises(exc) as info:
        LT.tvd(*args, **kwargs)
    assert str(info.value).startswith(message), str(info.value)


# ---- generalized_kl_divergence: optax, on JAX ----------------------------------------------------
def _optax_gkl(x, t):
    return jax_libs()[2].losses.generalized_kl_divergence(x, t)


def _optax_gkl_where(x, t, where):
    return jax_libs()[2].losses.generalized_kl_divergence(x, t, where=where)


def optax_generalized_kl(input, target, where=None, reduction="mean"):
    """optax.losses.generalized_kl_divergence(log_predictions=input, targets=target, where=where):
    per-row losses (JAX's gradient w.r.t. the input), reduced as losskit."""
    if where is None:
        rows = jax_ref(_optax_gkl, [input], [target])
    else:
        rows = jax_ref(_optax_gkl_where, [input], [target, where.expand(input.shape)])
    return reduce(rows, reduction)


@pytest.mark.parametrize("shape", [(5,), (4, 6), (3, 4, 5), (0, 3)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_generalized_kl_against_optax(shape, reduction, masked, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, masked))
    x = torch.randn(shape, generator=gen, dtype=dtype) - 1
    t = torch.rand(shape, generator=gen, dtype=dtype) * 2  # unnormalized
    if t.numel():
        t.view(-1)[0] = 0.0  # a zero target: t log t read as 0
    kw = dict(reduction=reduction)
    if masked:
        kw["where"] = torch.rand(shape[-1:], generator=gen) > 0.3  # broadcast along the rows
    if reduction == "mean" and x.numel() == 0:
        return  # optax's rows are empty: the mean of nothing (NaN in both; torch warns)
    check_parity(LT.generalized_kl_divergence, optax_generalized_kl, [x, t], kw, grad_of=[0], layout=layout,
                 upstream=upstream)


def test_generalized_kl_special_values_and_target_gradient():
    # optax's NaN at t = 0 against x = -inf (0 * inf), and at a negative target.
    x = torch.tensor([[0.0, -float("inf")], [-1.0, 0.5]], dtype=torch.float64)
    t = torch.tensor([[0.5, 0.0], [-0.5, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(LT.generalized_kl_divergence(x, t, reduction="none"),
                               optax_generalized_kl(x, t, reduction="none"), equal_nan=True)
    with pytest.raises(RuntimeError, match="gradient w.r.t. target is not implemented"):
        LT.generalized_kl_divergence(x, t.clone().requires_grad_())
    m = lnn.GeneralizedKLDivergenceLoss(reduction="sum")
    torch.testing.assert_close(m(x[1:], t[1:].abs()), optax_generalized_kl(x[1:], t[1:].abs(), reduction="sum"))
