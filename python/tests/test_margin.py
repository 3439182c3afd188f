"""losskit.torch margin losses against torch.nn.functional, the Keras hinges against Keras 3 (on
its torch backend) and multiclass_perceptron_loss against optax (on JAX), the versions of
python/requirements-peers.txt: values and gradients."""
import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit.numpy as LN
import losskit.torch as LT
from conftest import TOL, check_parity, seed_of
from peers import KERAS_TOL, jax_libs, jax_ref, keras_loss, reduce

SHAPES = [(7,), (6, 5), (4, 3, 5), (0, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_soft_margin_loss(shape, reduction, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction))
    x = torch.randn(shape, generator=gen, dtype=dtype) * 3
    y = torch.randint(0, 2, shape, generator=gen).to(dtype) * 2 - 1
    check_parity(LT.soft_margin_loss, F.soft_margin_loss, [x, y], dict(reduction=reduction), grad_of=[0],
                 layout=layout, upstream=upstream)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_multilabel_soft_margin_loss(shape, reduction, weighted, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, weighted))
    x = torch.randn(shape, generator=gen, dtype=dtype) * 2
    y = torch.rand(shape, generator=gen, dtype=dtype)
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = torch.rand(shape[-1:], generator=gen, dtype=dtype) + 0.5
    check_parity(LT.multilabel_soft_margin_loss, F.multilabel_soft_margin_loss, [x, y], kw, grad_of=[0],
                 layout=layout, upstream=upstream)


@pytest.mark.parametrize("shape", [(5,), (6, 4), (1, 3)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 1.0, False), (1, 0.5, True), (2, 2.0, True)])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_multi_margin_loss(shape, reduction, p, margin, weighted, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, p, margin, weighted))
    C = shape[-1]
    x = torch.randn(shape, generator=gen, dtype=dtype)
    y = torch.randint(0, C, shape[:-1], generator=gen)
    kw = dict(p=p, margin=margin, reduction=reduction)
    if weighted:
        kw["weight"] = torch.rand(C, generator=gen, dtype=dtype) + 0.5
    check_parity(LT.multi_margin_loss, F.multi_margin_loss, [x, y], kw, grad_of=[0], layout=layout,
                 upstream=upstream)


@pytest.mark.parametrize("shape", [(5,), (6, 4), (3, 6)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_multilabel_margin_loss(shape, reduction, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction))
    C = shape[-1]
    x = torch.randn(shape, generator=gen, dtype=dtype)
    y = torch.randint(0, C, shape, generator=gen)
    rows = y.view(-1, C)
    for n in range(rows.shape[0]):
        k = int(torch.randint(0, C + 1, (), generator=gen))
        if k < C:
            rows[n, k] = -1  # labels end at the first -1; ids after it are ignored
    check_parity(LT.multilabel_margin_loss, F.multilabel_margin_loss, [x, y], dict(reduction=reduction),
                 grad_of=[0], layout=layout, upstream=upstream)


# ---- Keras hinges: keras.losses on the torch backend -------------------------------------------
def keras_ref(cls_name):
    """keras.losses.<cls_name>(reduction)(y_true=target, y_pred=input): per-row losses ('none'),
    their sum, their mean ('sum_over_batch_size'), as losskit's reductions."""
    def ref(input, target, reduction="mean"):
        return keras_loss(cls_name, input, target, reduction)
    return ref


keras_hinge = keras_ref("Hinge")
keras_squared_hinge = keras_ref("SquaredHinge")
keras_categorical_hinge = keras_ref("CategoricalHinge")


@pytest.mark.parametrize("shape", [(5,), (6, 4), (3, 4, 5), (2, 37)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("labels", ["01", "pm1", "soft"])
def test_keras_hinges(shape, reduction, labels, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, labels))
    x = torch.randn(shape, generator=gen, dtype=dtype) * 1.5
    if labels == "01":
        y = torch.randint(0, 2, shape, generator=gen).to(dtype)
    elif labels == "pm1":
        y = torch.randint(0, 2, shape, generator=gen).to(dtype) * 2 - 1
    else:
        y = torch.rand(shape, generator=gen, dtype=dtype)
    kw = dict(reduction=reduction)
    check_parity(LT.hinge_loss, keras_hinge, [x, y], kw, grad_of=[0], layout=layout, tol_dtype=KERAS_TOL)
    check_parity(LT.squared_hinge_loss, keras_squared_hinge, [x, y], kw, grad_of=[0], layout=layout,
                 tol_dtype=KERAS_TOL)
    C = shape[-1]
    onehot = F.one_hot(torch.randint(0, C, shape[:-1], generator=gen), C).to(dtype)
    check_parity(LT.categorical_hinge_loss, keras_categorical_hinge, [x, onehot if labels != "soft" else y], kw,
                 grad_of=[0], layout=layout, tol_dtype=KERAS_TOL)


def optax_multiclass_perceptron(input, target, reduction="mean", jit=True):
    """optax.losses.multiclass_perceptron_loss(scores=input, labels=target) on JAX (per-row losses),
    reduced as losskit."""
    optax = jax_libs()[2]
    return reduce(jax_ref(optax.losses.multiclass_perceptron_loss, [input], [target], jit=jit), reduction)


optax_eager_multiclass_perceptron = functools.partial(optax_multiclass_perceptron, jit=False)


@pytest.mark.parametrize("shape", [(5,), (6, 4), (3, 4, 5), (2, 37)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multiclass_perceptron(shape, reduction, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, "perceptron"))
    x = torch.randn(shape, generator=gen, dtype=dtype)
    y = torch.randint(0, shape[-1], shape[:-1], generator=gen)
    kw = dict(reduction=reduction)
    check_parity(LT.multiclass_perceptron_loss, optax_multiclass_perceptron, [x, y], kw, grad_of=[0], layout=layout)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (2, 37)], ids=str)
def test_multiclass_perceptron_ties_nan_inf(shape, dtype):
    """Ties for the max share its gradient; a NaN makes its row's loss and gradient NaN; -inf rows;
    +inf at the label. Against optax run op by op (JAX's semantics; compiled, XLA gives a NaN
    row the gradient of a row without the NaN)."""
    gen = torch.Generator().manual_seed(seed_of(shape, "perceptron special"))
    xt = torch.round(torch.randn(shape, generator=gen, dtype=dtype) * 0.6)
    y = torch.randint(0, shape[-1], shape[:-1], generator=gen)
    rows, yr = xt.view(-1, shape[-1]), y.view(-1)
    rows[0, 0] = math.nan
    rows[-1, :] = -math.inf
    if rows.shape[0] > 2:
        rows[1, yr[1]] = math.inf  # inf - inf: NaN in both
    for reduction in ("none", "sum"):
        check_parity(LT.multiclass_perceptron_loss, optax_eager_multiclass_perceptron, [xt, y],
                     dict(reduction=reduction), grad_of=[0])


def test_multiclass_perceptron_inf_score_off_label():
    """optax's sum(scores * one_hot(labels)) has inf * 0 = NaN for an infinite score off the label:
    the loss is NaN (losskit follows optax), the gradient finite."""
    x = torch.tensor([[math.inf, 1.0, 2.0], [0.5, -1.0, 2.0], [0.5, -math.inf, 2.0]], dtype=torch.float64)
    y = torch.tensor([1, 0, 0])
    check_parity(LT.multiclass_perceptron_loss, optax_eager_multiclass_perceptron, [x, y], dict(reduction="none"),
                 grad_of=[0])


def test_multiclass_perceptron_bad_ids():
    x = torch.randn(3, 4)
    with pytest.raises(IndexError, match=r"multiclass_perceptron_loss: target\[1\] = 4 is outside \[0, 4\)"):
        LT.multiclass_perceptron_loss(x, torch.tensor([0, 4, 1]))


@pytest.mark.parametrize("C", [4, 37])
def test_keras_hinges_keep_nan(C, dtype):
    """maximum(NaN, 0) is NaN in Keras (every backend): the row's loss is NaN. The NaN entry's own
    gradient in hinge / squared_hinge is 0 in losskit (TF's maximum, docs/losses/margin.md);
    Keras on torch passes the gradient through torch.maximum there (hinge -y/C, squared_hinge
    NaN). Every other value and gradient is Keras'."""
    gen = torch.Generator().manual_seed(seed_of(C))
    x = torch.randn((4, C), generator=gen, dtype=dtype)
    x[0, 1] = math.nan
    x[2, C - 1] = math.nan
    y = torch.randint(0, 2, (4, C), generator=gen).to(dtype)
    onehot = F.one_hot(torch.randint(0, C, (4,), generator=gen), C).to(dtype)
    nan = x.isnan()
    for reduction in ("none", "mean"):
        kw = dict(reduction=reduction)
        for lk, ref in [(LT.hinge_loss, keras_hinge), (LT.squared_hinge_loss, keras_squared_hinge)]:
            xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
            a, b = lk(xa, y, **kw), ref(xb, y, **kw)
            torch.testing.assert_close(a, b, **TOL[KERAS_TOL], equal_nan=True)
            (ga,), (gb,) = torch.autograd.grad(a.sum(), [xa]), torch.autograd.grad(b.sum(), [xb])
            assert (ga[nan] == 0).all()
            torch.testing.assert_close(ga[~nan], gb[~nan], **TOL[KERAS_TOL])
        check_parity(LT.categorical_hinge_loss, keras_categorical_hinge, [x, onehot], kw, grad_of=[0],
                     tol_dtype=KERAS_TOL)


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_weight_only_on_active_terms(p, dtype):
    """PyTorch weighs each active hinge term: a row without one is 0 whatever its class weight
    (even inf or NaN)."""
    x = torch.tensor([[3.0, -1.0, -2.0], [0.0, 0.5, 0.2], [-4.0, 1.0, 5.0]], dtype=dtype)
    y = torch.tensor([0, 1, 2])
    w = torch.tensor([math.inf, math.nan, 2.0], dtype=dtype)
    for reduction in ("none", "sum"):
        check_parity(LT.multi_margin_loss, F.multi_margin_loss, [x, y], dict(p=p, weight=w, reduction=reduction),
                     grad_of=[0])


def test_numpy_agrees_with_torch():
    g = np.random.default_rng(7)
    x, y = g.normal(size=(5, 4)), g.integers(0, 4, size=5)
    loss, grad = LN.multi_margin_loss_with_grad(x, y, p=2, margin=0.5, weight=np.arange(1.0, 5.0))
    xt = torch.tensor(x, requires_grad=True)
    ref = F.multi_margin_loss(xt, torch.tensor(y), p=2, margin=0.5, weight=torch.arange(1.0, 5.0, dtype=torch.float64))
    ref.backward()
    np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-12)
    lab = g.integers(0, 2, size=(5, 4)).astype(np.float64)
    np.testing.assert_allclose(LN.hinge_loss(x, lab, reduction="none"),
                               LT.hinge_loss(torch.tensor(x), torch.tensor(lab), reduction="none").numpy(), rtol=1e-12)
    np.testing.assert_allclose(LN.multilabel_soft_margin_loss(x, lab),
                               F.multilabel_soft_margin_loss(torch.tensor(x), torch.tensor(lab)).numpy(), rtol=1e-12)
