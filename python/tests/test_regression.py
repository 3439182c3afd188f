"""losskit.torch regression losses against torch.nn.functional (PyTorch 2.13; the per-element
weights composed of its ops), the losses PyTorch lacks against the libraries that define them
(python/requirements-peers.txt: optax for log_cosh_loss and l2_loss, Keras 3 on torch for
msle_loss and mape_loss; TensorFlow Addons' pinball loss, which cannot be installed beside torch,
as its formula in torch ops); losskit.numpy against losskit.torch."""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit.numpy as LN
import losskit.torch as LT
from conftest import TOL, check_parity, seed_of
from peers import KERAS_TOL, jax_libs, jax_ref, keras_loss, reduce

SHAPES = [(7,), (4, 5), (2, 3, 4), ()]
REDUCTIONS = ["mean", "sum", "none"]


def randn(shape, gen, dtype, sd=1.0):
    return torch.randn(shape, generator=gen, dtype=dtype) * sd


def uniform(shape, gen, dtype, lo, hi):
    return torch.rand(shape, generator=gen, dtype=dtype) * (hi - lo) + lo


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_pointwise(shape, reduction, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction))
    x, y = randn(shape, gen, dtype, 2.0), randn(shape, gen, dtype)
    cases = [(LT.mse_loss, F.mse_loss, {}), (LT.l1_loss, F.l1_loss, {}),
             (LT.huber_loss, F.huber_loss, {}), (LT.huber_loss, F.huber_loss, dict(delta=0.4)),
             (LT.smooth_l1_loss, F.smooth_l1_loss, {}), (LT.smooth_l1_loss, F.smooth_l1_loss, dict(beta=0.0)),
             (LT.smooth_l1_loss, F.smooth_l1_loss, dict(beta=2.5))]
    for lk, ref, kw in cases:
        check_parity(lk, ref, [x, y], dict(reduction=reduction, **kw), grad_of=[0, 1], layout=layout,
                     upstream=upstream)


def weighted_ref(base, by_weights):
    """Newer torch.nn.functional's weighted forms: mse/l1 'mean' = sum(w l) / sum(w), huber's =
    mean(w l)."""
    def ref(input, target, reduction="mean", weight=None, **kw):
        wl = base(input, target, reduction="none", **kw) * weight
        if reduction == "none":
            return wl
        if reduction == "sum":
            return wl.sum()
        return wl.sum() / weight.sum() if by_weights else wl.mean()
    return ref


@pytest.mark.parametrize("shape", SHAPES[:3], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted(shape, reduction, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, "w"))
    x, y = randn(shape, gen, dtype, 2.0), randn(shape, gen, dtype)
    w = uniform(shape, gen, dtype, 0.1, 2.0)
    for lk, base, by_w, kw in [(LT.mse_loss, F.mse_loss, True, {}), (LT.l1_loss, F.l1_loss, True, {}),
                               (LT.huber_loss, F.huber_loss, False, dict(delta=0.7))]:
        check_parity(lk, weighted_ref(base, by_w), [x, y], dict(reduction=reduction, weight=w, **kw),
                     grad_of=[0, 1], layout=layout)


@pytest.mark.parametrize("log_input,full,eps", [(True, False, 1e-8), (True, True, 1e-8), (False, False, 1e-8),
                                                 (False, True, 0.3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll(log_input, full, eps, reduction, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(log_input, full, reduction))
    x = randn((4, 5), gen, dtype) if log_input else uniform((4, 5), gen, dtype, 0.1, 3.0)
    y = uniform((4, 5), gen, dtype, 0.05, 5.0)  # > 0: torch's target gradient of full is NaN at 0
    check_parity(LT.poisson_nll_loss, F.poisson_nll_loss, [x, y],
                 dict(log_input=log_input, full=full, eps=eps, reduction=reduction), grad_of=[0, 1], layout=layout)


@pytest.mark.parametrize("shape,var_shape", [((4, 3), (4, 3)), ((4, 3), (4, 1)), ((4, 3), (4,)), ((2, 3, 5), (2, 3)),
                                             ((5,), ())], ids=str)
@pytest.mark.parametrize("full,eps", [(False, 1e-6), (True, 0.5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll(shape, var_shape, full, eps, reduction, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, var_shape, full, reduction))
    x, y = randn(shape, gen, dtype), randn(shape, gen, dtype)
    var = uniform(var_shape, gen, dtype, 0.05, 2.0)  # some below eps = 0.5: clamped
    check_parity(LT.gaussian_nll_loss, F.gaussian_nll_loss, [x, y, var], dict(full=full, eps=eps, reduction=reduction),
                 grad_of=[0, 1, 2], layout=layout)


# ---- losses PyTorch lacks: the defining libraries ----------------------------------------------
def optax_ref(name):
    """optax.losses.<name>(predictions=input, targets=target) on JAX, reduced as losskit: optax
    returns the element-wise losses (losskit's 'none'); 'mean' is their plain mean."""
    def ref(input, target, reduction="mean"):
        optax = jax_libs()[2]
        return reduce(jax_ref(getattr(optax.losses, name), [input, target], elementwise=True), reduction)
    return ref


def keras_ref(cls_name):
    """keras.losses.<cls_name>(reduction)(y_true=target, y_pred=input), epsilon = eps."""
    def ref(input, target, eps=1e-7, reduction="mean"):
        return keras_loss(cls_name, input, target, reduction, epsilon=eps)
    return ref


def as_keras(lk_fn):
    """losskit's loss in Keras' terms: Keras returns the per-sample means over the last axis
    ('none'), sums those ('sum'), averages them ('sum_over_batch_size' = losskit's 'mean');
    losskit's 'none' is element-wise and its 'sum' the plain sum (docs/losses/regression.md)."""
    def call(input, target, reduction="mean", **kw):
        if reduction == "none":
            return lk_fn(input, target, reduction="none", **kw).mean(-1)
        if reduction == "sum":
            return lk_fn(input, target, reduction="sum", **kw) / input.shape[-1]
        return lk_fn(input, target, reduction=reduction, **kw)
    return call


def pinball_ref(input, target, tau=0.5, reduction="mean"):
    """tfa.losses.pinball_loss(y_true=target, y_pred=input, tau), transcribed: TensorFlow Addons
    needs TensorFlow (and is end-of-life), which is not installed beside torch."""
    d = target - input
    return reduce(torch.maximum(tau * d, (tau - 1) * d), reduction)


BEYOND_SHAPES = [(7,), (4, 6), (2, 3, 4), (3, 37)]  # (3, 37): the float32 vector kernel, with tails


@pytest.mark.parametrize("shape", BEYOND_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_optax_losses(shape, reduction, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, "optax"))
    x, y = randn(shape, gen, dtype, 2.0), randn(shape, gen, dtype)
    for lk, name in [(LT.log_cosh_loss, "log_cosh"), (LT.l2_loss, "l2_loss")]:
        check_parity(lk, optax_ref(name), [x, y], dict(reduction=reduction), grad_of=[0, 1], layout=layout,
                     upstream="random" if reduction == "none" else "one")


@pytest.mark.parametrize("shape", BEYOND_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [1e-7, 0.3])  # Keras' epsilon() and a larger one that clamps
def test_keras_losses(shape, reduction, eps, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, eps, "keras"))
    kw = dict(eps=eps, reduction=reduction)
    xp, yp = uniform(shape, gen, dtype, 0.01, 5.0), uniform(shape, gen, dtype, 0.01, 5.0)
    check_parity(as_keras(LT.msle_loss), keras_ref("MeanSquaredLogarithmicError"), [xp, yp], kw, grad_of=[0, 1],
                 layout=layout, tol_dtype=KERAS_TOL)
    x, y = randn(shape, gen, dtype, 2.0), randn(shape, gen, dtype)
    y = y + torch.sign(y) * 0.2 if eps < 0.1 else y  # eps = 0.3: some |y| below it
    check_parity(as_keras(LT.mape_loss), keras_ref("MeanAbsolutePercentageError"), [x, y], kw, grad_of=[0, 1],
                 layout=layout, tol_dtype=KERAS_TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_quantile_loss(reduction, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(reduction, "beyond"))
    x, y = randn((4, 6), gen, dtype, 2.0), randn((4, 6), gen, dtype)
    for tau in (0.1, 0.5, 0.9):
        check_parity(LT.quantile_loss, pinball_ref, [x, y], dict(tau=tau, reduction=reduction), grad_of=[0, 1],
                     layout=layout)


@pytest.mark.parametrize("n", [7, 37])  # 37: the float32 SIMD kinds, with tails
def test_nan_as_reference(n, dtype):
    """A NaN input or target gives a NaN loss there, as the defining libraries (msle's clamp
    keeps NaN, as the maximum of Keras' backends), with the references' gradients."""
    gen = torch.Generator().manual_seed(seed_of(n))
    x, y = uniform((3, n), gen, dtype, 0.01, 5.0), uniform((3, n), gen, dtype, 0.01, 5.0)
    x[0, 1] = math.nan
    y[1, n - 2] = math.nan
    x[2, 3] = -1.0  # below eps: clamped, no gradient
    for reduction in ("none", "sum"):
        kw = dict(reduction=reduction)
        check_parity(as_keras(LT.mape_loss), keras_ref("MeanAbsolutePercentageError"), [x, y], kw, grad_of=[0, 1],
                     tol_dtype=KERAS_TOL)
        check_parity(LT.log_cosh_loss, optax_ref("log_cosh"), [x, y], kw, grad_of=[0, 1])
        check_parity(LT.l2_loss, optax_ref("l2_loss"), [x, y], kw, grad_of=[0, 1])
        # msle: the gradient of a NaN operand of the clamp itself is 0 in losskit, as TF's maximum
        # (docs/losses/regression.md); Keras on torch (torch.maximum) gives NaN there. Every other
        # value and gradient is Keras'.
        xa, ya = x.clone().requires_grad_(), y.clone().requires_grad_()
        xb, yb = x.clone().requires_grad_(), y.clone().requires_grad_()
        a = as_keras(LT.msle_loss)(xa, ya, **kw)
        b = keras_ref("MeanSquaredLogarithmicError")(xb, yb, **kw)
        torch.testing.assert_close(a, b, **TOL[KERAS_TOL], equal_nan=True)
        for ga, gb, own in zip(torch.autograd.grad(a.sum(), [xa, ya]), torch.autograd.grad(b.sum(), [xb, yb]),
                               [x.isnan(), y.isnan()]):
            assert (ga[own] == 0).all() and gb[own].isnan().all()
            torch.testing.assert_close(ga[~own], gb[~own], **TOL[KERAS_TOL], equal_nan=True)
        # quantile_loss: the value only (TF's maximum, the reference's, sends a NaN's gradient
        # to its second operand; torch.maximum to both).
        torch.testing.assert_close(LT.quantile_loss(x, y, tau=0.3, **kw), pinball_ref(x, y, tau=0.3, **kw),
                                   equal_nan=True)


def test_log_cosh_is_stable():
    x = torch.tensor([500.0, -200.0, 1e30], requires_grad=True)
    l = LT.log_cosh_loss(x, torch.zeros(3), reduction="none")
    torch.testing.assert_close(l, x.detach().abs() - math.log(2.0))
    l.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([1.0, -1.0, 1.0]))


def test_numpy_matches_torch(rng):
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    w, v = rng.uniform(0.1, 2, size=(5, 4)), rng.uniform(0.1, 2, size=(5,))
    tx, ty = torch.from_numpy(x).requires_grad_(), torch.from_numpy(y).requires_grad_()
    for name, kw in [("mse_loss", dict(weight=w)), ("l1_loss", {}), ("huber_loss", dict(delta=0.5, weight=w)),
                     ("smooth_l1_loss", dict(beta=0.3)), ("poisson_nll_loss", dict(full=True)),
                     ("log_cosh_loss", {}), ("l2_loss", {}), ("quantile_loss", dict(tau=0.2)), ("mape_loss", {})]:
        tkw = {k: torch.from_numpy(a) if isinstance(a, np.ndarray) else a for k, a in kw.items()}
        value, gx, gy = getattr(LN, name + "_with_grad")(x, y, reduction="sum", **kw)
        ref = getattr(LT, name)(tx, ty, reduction="sum", **tkw)
        rgx, rgy = torch.autograd.grad(ref, [tx, ty])
        np.testing.assert_allclose(value, ref.item(), rtol=1e-12)
        np.testing.assert_allclose(gx, rgx.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gy, rgy.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(getattr(LN, name)(x, y, reduction="none", **kw),
                                   getattr(LT, name)(tx, ty, reduction="none", **tkw).detach().numpy(), rtol=1e-12)
    out = LN.gaussian_nll_loss_with_grad(x, y, v, reduction="mean")
    tv = torch.from_numpy(v).requires_grad_()
    ref = F.gaussian_nll_loss(tx, ty, tv)
    for a, b in zip(out[1:], torch.autograd.grad(ref, [tx, ty, tv])):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10)


@pytest.mark.parametrize("fn,args,kwargs,exc,message", [
    ("smooth_l1_loss", (torch.randn(3), torch.randn(3)), dict(beta=-1.0), RuntimeError, "beta = -1 must be >= 0"),
    ("huber_loss", (torch.randn(3), torch.randn(3)), dict(delta=0.0), RuntimeError, "delta = 0 must be > 0"),
    ("gaussian_nll_loss", (torch.randn(4, 3), torch.randn(4, 3), -torch.ones(4, 3)), {}, ValueError,
     "var[0, 0] = -1 is negative"),
    ("gaussian_nll_loss", (torch.randn(4, 3), torch.randn(4, 3), torch.ones(3)), {}, ValueError, "var has shape [3]"),
    ("mse_loss", (torch.randn(3), torch.randn(3)), dict(weight=torch.ones(4)), ValueError,
     "input and weight must have the same shape"),
    ("quantile_loss", (torch.randn(3), torch.randn(3)), dict(tau=2.0), None, "tau = 2 is outside [0, 1]"),
])
def test_errors(fn, args, kwargs, exc, message):
    """losskit's message; the exception type of torch where torch checks the same thing."""
    with pytest.raises(Exception) as info:
        getattr(LT, fn)(*args, **kwargs)
    assert str(info.value).startswith(f"{fn}: {message}"), str(info.value)
    if exc is not None and fn != "mse_loss":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(exc):
                getattr(F, fn)(*args, **kwargs)
