"""The peer libraries of the Python tests: the libraries that define the losses PyTorch lacks,
installed from PyPI by scripts/test.sh (python/requirements-peers.txt) and called as references
(never copied into losskit). Each getter skips the calling test when its library is absent.

- MONAI (monai.losses.DiceLoss) and Keras 3 on its torch backend run on torch tensors: their
  gradients are torch autograd's.
- optax runs on JAX (CPU, float64 enabled): `jax_ref` wraps a JAX function as a torch function
  whose backward is jax.vjp, so the same parity check compares jax's gradients.
TensorFlow Addons (quantile_loss) and torchvision (sigmoid_focal_loss) cannot be installed beside
the torch 2.13 CPU wheel: their tests keep the formulas transcribed in torch ops."""
import contextlib
import functools
import os
import sys
import warnings

import numpy as np
import pytest
import torch


def keras():
    """Keras 3 on the torch backend (skips when Keras is absent or already runs another backend)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported with the {keras.backend.backend()} backend")
    return keras


# Keras on its torch (or JAX) backend computes float64 losses partly in float32: its type promotion
# (keras.src.backend.common.dtypes, BIT64_TO_BIT32_DTYPE, "aligned with JAX's default") maps the
# float64 result of ops.maximum, ops.divide_no_nan... to float32, whatever floatx. Float64 losses
# are therefore compared with Keras at float32 tolerances (check_parity(..., tol_dtype=KERAS_TOL)).
KERAS_TOL = torch.float32


@contextlib.contextmanager
def keras_float(dtype, epsilon=None):
    """Keras with floatx = `dtype` and backend.epsilon() = `epsilon` if given."""
    k = keras()
    old_floatx, old_eps = k.config.floatx(), k.config.epsilon()
    k.config.set_floatx(str(dtype).replace("torch.", ""))
    if epsilon is not None:
        k.config.set_epsilon(epsilon)
    try:
        yield k
    finally:
        k.config.set_floatx(old_floatx)
        k.config.set_epsilon(old_eps)


def keras_loss(cls_name, input, target, reduction, epsilon=None, **kwargs):
    """keras.losses.<cls_name>(reduction=..., dtype=input's)(y_true=target, y_pred=input), in
    Keras' floatx = the input's dtype (backend.epsilon() = epsilon if given), as a tensor of the
    input's dtype (Keras' 'sum_over_batch_size', losskit's 'mean', returns float32 for float64).
    Compare float64 at KERAS_TOL."""
    with keras_float(input.dtype, epsilon) as k:
        red = "sum_over_batch_size" if reduction == "mean" else reduction
        loss = getattr(k.losses, cls_name)(reduction=red, dtype=str(input.dtype).replace("torch.", ""), **kwargs)
        out = loss(target, input)
    assert isinstance(out, torch.Tensor), type(out)
    return out.to(input.dtype)


def monai_dice_loss():
    """monai.losses.DiceLoss (skips when MONAI is absent)."""
    losses = pytest.importorskip("monai.losses")
    return losses.DiceLoss


_jax = None


def jax_libs():
    """(jax, jax.numpy, optax) on the CPU with float64 enabled (skips when absent)."""
    global _jax
    if _jax is None:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        jax_ = pytest.importorskip("jax")
        optax = pytest.importorskip("optax")
        jax_.config.update("jax_enable_x64", True)
        _jax = (jax_, jax_.numpy, optax)
    return _jax


@functools.lru_cache(maxsize=None)
def _jitted(fn, n_diff, static, jit):
    """jax.jit of fn(*arrays, *consts, **static) and of its vjp w.r.t. the first n_diff arguments.
    Cached per (fn, static): JAX compiles each once per shape and dtype (eager JAX would compile
    every primitive per shape, ~10x slower over the suite)."""
    jax_ = jax_libs()[0]
    kw = dict(static)

    def f(*args):
        return fn(*args, **kw)

    def vjp(args, g):
        diff, const = args[:n_diff], args[n_diff:]
        return jax_.vjp(lambda *d: f(*d, *const), *diff)[1](g)

    return (jax_.jit(f), jax_.jit(vjp)) if jit else (f, vjp)


_PAD = 128


def _flat_padded(t):
    """t's values as 1-D, zero-padded to a multiple of _PAD elements."""
    flat = t.detach().reshape(-1)
    return torch.cat([flat, flat.new_zeros(-flat.numel() % _PAD)])


class _JaxFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fwd_bwd, consts, elementwise, *tensors):
        jnp = jax_libs()[1]
        prep = _flat_padded if elementwise else (lambda t: t.detach())
        args = tuple(jnp.asarray(prep(t).numpy()) for t in tensors) + consts
        jax_out = fwd_bwd[0](*args)
        out = torch.from_numpy(np.array(jax_out))
        if elementwise:
            out = out[:tensors[0].numel()].reshape(tensors[0].shape)
        ctx.args, ctx.bwd, ctx.elementwise = args, fwd_bwd[1], elementwise
        ctx.out_dtype, ctx.inputs = jax_out.dtype, [(t.dtype, t.shape) for t in tensors]
        return out.to(tensors[0].dtype)

    @staticmethod
    def backward(ctx, g):
        jnp = jax_libs()[1]
        g = _flat_padded(g) if ctx.elementwise else g.detach().contiguous()
        grads = [torch.from_numpy(np.array(x)) for x in ctx.bwd(ctx.args, jnp.asarray(g.numpy()).astype(ctx.out_dtype))]
        if ctx.elementwise:
            grads = [x[:shape.numel()].reshape(shape) for x, (_, shape) in zip(grads, ctx.inputs)]
        return (None, None, None) + tuple(x.to(d) for x, (d, _) in zip(grads, ctx.inputs))


def jax_ref(fn, tensors, consts=(), jit=True, elementwise=False, **static):
    """fn(*arrays, *consts, **static) computed by JAX (jitted) on the float tensors' values, as a
    torch tensor of the first tensor's dtype whose backward is jax.vjp. consts: int labels and
    the like (tensors become JAX arrays) and Python scalars (weakly typed, not recompiled per
    value), not differentiated; static: hashable keyword arguments fixed at compile time. fn must
    be a stable callable (an optax function, not a lambda made per call) so the compilation is
    reused. With float64 enabled, JAX may compute a float32 call partly in float64
    (jax.nn.one_hot's default dtype): a reference at least as precise. jit=False runs JAX op by
    op: XLA's compiled code can differ at NaN (the gradient of jnp.max over a row with a NaN is
    NaN op by op, 0 / -1 compiled). elementwise: fn maps each element on its own (tensors and
    tensor consts of one shape): JAX gets them flat, zero-padded to a multiple of 128 elements,
    so that one compilation per dtype serves every shape."""
    jnp = jax_libs()[1]
    prep = _flat_padded if elementwise else (lambda t: t)
    consts = tuple(jnp.asarray(prep(c).numpy()) if isinstance(c, torch.Tensor) else c for c in consts)
    return _JaxFunction.apply(_jitted(fn, len(tensors), tuple(sorted(static.items())), jit), consts, elementwise,
                              *tensors)


def reduce(loss, reduction):
    """losskit's reduction of a per-element (optax) or per-row (Keras) loss: 'mean' the plain mean."""
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def quiet(fn):
    """fn with the peers' warnings (MONAI's single-channel notices) silenced."""
    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return call
