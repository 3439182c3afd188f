"""losskit.torch binary_cross_entropy(_with_logits) against torch.nn.functional;
softmax_focal_loss against Keras 3's CategoricalFocalCrossentropy (torch backend),
poly1_cross_entropy against optax's poly_loss_cross_entropy and sigmoid_focal_loss against
optax's sigmoid_focal_loss, sparsemax_loss and multiclass_sparsemax_loss (JAX), the versions of python/requirements-peers.txt; sigmoid_focal_loss
also against torchvision's formula written with torch ops (torchvision does not import beside the
torch 2.13 CPU wheel: PyPI's torchvision 0.28.0 is a CUDA build). Values and gradients."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit.numpy as LN
import losskit.torch as LT
from conftest import check_parity, seed_of
from peers import KERAS_TOL, jax_libs, jax_ref, keras_loss

SHAPES = [(7,), (6, 5), (4, 3, 5), (0, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_binary_cross_entropy(shape, reduction, weighted, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, weighted))
    x = torch.rand(shape, generator=gen, dtype=dtype) * 0.98 + 0.01
    y = torch.rand(shape, generator=gen, dtype=dtype)
    if x.numel() >= 2:  # probabilities of exactly 0 and 1: the -100 clamps
        x.view(-1)[0], y.view(-1)[0] = 0.0, 1.0
        x.view(-1)[1], y.view(-1)[1] = 1.0, 0.0
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = torch.rand(shape[-1:], generator=gen, dtype=dtype) + 0.5
    check_parity(LT.binary_cross_entropy, F.binary_cross_entropy, [x, y], kw, grad_of=[0], layout=layout,
                 upstream=upstream)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted,pos_weighted", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_binary_cross_entropy_with_logits(shape, reduction, weighted, pos_weighted, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, weighted, pos_weighted))
    x = torch.randn(shape, generator=gen, dtype=dtype) * 3
    y = torch.rand(shape, generator=gen, dtype=dtype)
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = torch.rand(shape[-1:], generator=gen, dtype=dtype) + 0.5
    if pos_weighted:
        kw["pos_weight"] = torch.rand(shape[-1:], generator=gen, dtype=dtype) * 3 + 0.2
    check_parity(LT.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, [x, y], kw,
                 grad_of=[0], layout=layout, upstream=upstream)


def test_bce_with_logits_infinite_logits_give_limits():
    x = torch.tensor([float("inf"), -float("inf"), 2.0], requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.5])
    loss = LT.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert torch.isnan(F.binary_cross_entropy_with_logits(x, y, reduction="none")[0])  # pytorch#102894
    assert loss[0].item() == 0 and loss[1].item() == 0
    loss.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_bce_rejects_non_probabilities():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input\[1\] = 1.5 is outside \[0, 1\]"):
        LT.binary_cross_entropy(torch.tensor([0.5, 1.5]), torch.tensor([1.0, 0.0]))


# ---- beyond PyTorch: the references written as their libraries write them ----------------------
def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss (torchvision 0.14), transcribed: torchvision 0.28.0, the
    release for torch 2.13.0, is a CUDA build on PyPI (its _C.so needs libc10_cuda.so) and does not
    import beside the CPU torch; the CPU build's index is not reachable from the test machines."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


@pytest.mark.parametrize("shape", SHAPES[:3], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2), (-1, 2), (0.25, 0.5), (0.75, 0.0)])
@pytest.mark.parametrize("hard", [False, True])
def test_sigmoid_focal_loss(shape, reduction, alpha, gamma, hard, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, alpha, gamma, hard))
    x = torch.randn(shape, generator=gen, dtype=dtype) * 2
    y = (torch.rand(shape, generator=gen) < 0.4).to(dtype) if hard else torch.rand(shape, generator=gen, dtype=dtype)
    check_parity(LT.sigmoid_focal_loss, torchvision_sigmoid_focal_loss, [x, y],
                 dict(alpha=alpha, gamma=gamma, reduction=reduction), grad_of=[0], layout=layout)
    check_parity(LT.sigmoid_focal_loss, optax_sigmoid_focal_loss, [x, y],
                 dict(alpha=alpha, gamma=gamma, reduction=reduction), grad_of=[0], layout=layout)


def _optax_sigmoid_focal(logits, labels, alpha, gamma):
    return jax_libs()[2].losses.sigmoid_focal_loss(logits, labels, alpha=alpha, gamma=gamma)


def optax_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """optax.losses.sigmoid_focal_loss(logits, labels, alpha, gamma) on JAX: element-wise; alpha < 0
    (torchvision: no weighting) is optax's alpha=None."""
    loss = jax_ref(_optax_sigmoid_focal, [inputs], [targets, float(alpha) if alpha >= 0 else None, float(gamma)],
                   elementwise=True)
    return reduce(loss, reduction)


@pytest.mark.parametrize("gamma", [0.25, 0.5, 2.0])
def test_sigmoid_focal_gradient_finite_when_saturated(gamma):
    x = torch.tensor([-1e3, -40.0, 40.0, 1e3, float("inf"), -float("inf")], dtype=torch.float64, requires_grad=True)
    for y in (0.0, 1.0):
        x.grad = None
        LT.sigmoid_focal_loss(x, torch.full_like(x, y), gamma=gamma).sum().backward()
        assert torch.isfinite(x.grad).all(), x.grad


def keras_focal(x, y, alpha, gamma, label_smoothing, reduction="none"):
    """keras.losses.CategoricalFocalCrossentropy(alpha, gamma, from_logits=True, label_smoothing)
    with the classes moved last (Keras' label smoothing counts the classes of the last axis, and
    its list alpha broadcasts along it); per-position losses ('none'), their sum or mean."""
    cd = 0 if x.dim() == 1 else 1
    if isinstance(alpha, torch.Tensor):
        alpha = alpha.tolist()
    return keras_loss("CategoricalFocalCrossentropy", x.movedim(cd, -1), y.movedim(cd, -1), reduction,
                      alpha=alpha, gamma=gamma, from_logits=True, label_smoothing=label_smoothing)


def one_hot(ids, C, cd, dtype, ignore_index=-100):
    kept = ids != ignore_index
    oh = F.one_hot(torch.where(kept, ids, torch.zeros_like(ids)), C).to(dtype) * kept.unsqueeze(-1).to(dtype)
    return oh.movedim(-1, cd), kept


def reduce(loss, reduction, count=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (loss.numel() if count is None else count)


def ref_softmax_focal(input, target, alpha=0.25, gamma=2.0, label_smoothing=0.0, ignore_index=-100,
                      reduction="mean"):
    """Keras' loss; class ids (which Keras lacks) as one-hot rows, ignore_index with PyTorch's
    convention (the position counts 0 and 'mean' divides by the kept positions)."""
    cd = 0 if input.dim() == 1 else 1
    if target.dtype == torch.int64:
        y, kept = one_hot(target, input.shape[cd], cd, input.dtype, ignore_index)
        loss = keras_focal(input, y, alpha, gamma, label_smoothing) * kept.to(input.dtype)
        return reduce(loss, reduction, kept.sum())
    return keras_focal(input, target, alpha, gamma, label_smoothing, reduction)


CLASS_SHAPES = [(5,), (6, 4), (3, 4, 5)]


@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("gamma,label_smoothing,per_class", [(2.0, 0.0, False), (0.5, 0.1, False), (0.0, 0.0, True),
                                                             (2.0, 0.2, True)])
@pytest.mark.parametrize("ids", [True, False])
def test_softmax_focal_loss(shape, reduction, gamma, label_smoothing, per_class, ids, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, gamma, label_smoothing, per_class, ids))
    cd = 0 if len(shape) == 1 else 1
    C = shape[cd]
    x = torch.randn(shape, generator=gen, dtype=dtype) * 2
    if ids:
        t = torch.randint(0, C, shape[:cd] + shape[cd + 1:], generator=gen)
        if t.numel() > 1:
            t.view(-1)[0] = -100
    else:
        t = torch.softmax(torch.randn(shape, generator=gen, dtype=dtype), cd)
    alpha = torch.rand(C, generator=gen, dtype=dtype) + 0.2 if per_class else 0.25
    check_parity(LT.softmax_focal_loss, ref_softmax_focal, [x, t],
                 dict(alpha=alpha, gamma=gamma, label_smoothing=label_smoothing, reduction=reduction),
                 grad_of=[0], layout=layout, tol_dtype=KERAS_TOL)


def _optax_poly1(logits, labels, epsilon, axis):
    return jax_libs()[2].losses.poly_loss_cross_entropy(logits, labels, epsilon=epsilon, axis=axis)


def ref_poly1(input, target, epsilon=2.0, ignore_index=-100, reduction="none"):
    """optax.losses.poly_loss_cross_entropy(logits, labels, epsilon, axis=class dim) on JAX; class
    ids as one-hot labels (optax gives 0 for the zero row of an ignored position; 'mean' divides
    by the kept positions, PyTorch's convention)."""
    cd = 0 if input.dim() == 1 else 1
    kept = None
    if target.dtype == torch.int64:
        target, kept = one_hot(target, input.shape[cd], cd, input.dtype, ignore_index)
    loss = jax_ref(_optax_poly1, [input], [target.detach(), epsilon], axis=cd)
    return reduce(loss, reduction, None if kept is None else kept.sum())


@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("epsilon", [2.0, -1.0, 0.5])
@pytest.mark.parametrize("ids", [True, False])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_poly1_cross_entropy(shape, reduction, epsilon, ids, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, epsilon, ids))
    cd = 0 if len(shape) == 1 else 1
    C = shape[cd]
    x = torch.randn(shape, generator=gen, dtype=dtype) * 2
    if ids:
        t = torch.randint(0, C, shape[:cd] + shape[cd + 1:], generator=gen)
        if t.numel() > 1:
            t.view(-1)[0] = -100
    else:
        t = torch.rand(shape, generator=gen, dtype=dtype)
    check_parity(LT.poly1_cross_entropy, ref_poly1, [x, t], dict(epsilon=epsilon, reduction=reduction),
                 grad_of=[0], layout=layout, upstream=upstream)


def test_numpy_agrees_with_torch():
    g = np.random.default_rng(5)
    x, y = g.normal(size=(4, 3)), g.uniform(size=(4, 3))
    w = g.uniform(0.5, 1.5, size=3)
    loss, grad, _ = LN.binary_cross_entropy_with_logits_with_grad(x, y, weight=w, pos_weight=w)
    xt = torch.tensor(x, requires_grad=True)
    ref = F.binary_cross_entropy_with_logits(xt, torch.tensor(y), weight=torch.tensor(w), pos_weight=torch.tensor(w))
    ref.backward()
    np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-12)
    ids = g.integers(0, 3, size=4)
    np.testing.assert_allclose(LN.poly1_cross_entropy(x, ids, reduction="none"),
                               LT.poly1_cross_entropy(torch.tensor(x), torch.tensor(ids), reduction="none").numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(LN.softmax_focal_loss(x, ids, class_alpha=w),
                               LT.softmax_focal_loss(torch.tensor(x), torch.tensor(ids), alpha=torch.tensor(w)).numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(LN.sigmoid_focal_loss(x, y), LT.sigmoid_focal_loss(torch.tensor(x), torch.tensor(y)).numpy(),
                               rtol=1e-12)


# ---- optax's sparsemax losses (JAX) ---------------------------------------------------------------
def optax_sparsemax(input, target, reduction="mean"):
    """optax.losses.sparsemax_loss(logits=input, labels=target) on JAX (element-wise, labels as
    given: any nonzero counts as 1)."""
    optax = jax_libs()[2]
    return reduce(jax_ref(optax.losses.sparsemax_loss, [input], [target], elementwise=True), reduction)


def optax_multiclass_sparsemax(input, target, reduction="mean"):
    """optax.losses.multiclass_sparsemax_loss(scores=input, labels=target) on JAX (per-row losses;
    optax vmaps over the rows of a 2-D input). Float32 scores go to JAX as float64: with float64
    enabled, optax 0.2.8's projection_simplex raises on float32 in its custom JVP (tangent dtype
    mismatch); the reference is then more precise than the float32 tolerances compared at."""
    optax = jax_libs()[2]
    rows = jax_ref(optax.losses.multiclass_sparsemax_loss, [input.double()], [target]).to(input.dtype)
    return reduce(rows, reduction)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_sparsemax_loss_against_optax(shape, reduction, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction))
    x = torch.randn(shape, generator=gen, dtype=dtype) * 1.5
    y = (torch.rand(shape, generator=gen) < 0.5).to(dtype)
    if x.numel() >= 4:  # the branch points z = -1 and z = 1
        x.view(-1)[:4] = torch.tensor([-1.0, 1.0, -1.0, 1.0], dtype=dtype)
        y.view(-1)[:4] = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=dtype)
    if reduction == "mean" and x.numel() == 0:
        return
    check_parity(LT.sparsemax_loss, optax_sparsemax, [x, y], dict(reduction=reduction), grad_of=[0], layout=layout,
                 upstream=upstream)
    # Integer labels give the same.
    torch.testing.assert_close(LT.sparsemax_loss(x, y.long(), reduction=reduction),
                               LT.sparsemax_loss(x, y, reduction=reduction))


@pytest.mark.parametrize("shape", [(6, 5), (3, 9), (1, 1), (0, 4), (8, 40)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_multiclass_sparsemax_loss_against_optax(shape, reduction, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction))
    x = torch.randn(shape, generator=gen, dtype=dtype) * 2
    y = torch.randint(0, shape[1], shape[:1], generator=gen)
    if x.numel() and shape[1] > 2:
        x[0, :2] = x[0, 2]  # ties
    if reduction == "mean" and x.numel() == 0:
        return
    check_parity(LT.multiclass_sparsemax_loss, optax_multiclass_sparsemax, [x, y], dict(reduction=reduction),
                 grad_of=[0], layout=layout, upstream=upstream)
    # The gradient is p - onehot(y), p the sparsemax.
    if x.numel():
        xg = x.clone().requires_grad_()
        LT.multiclass_sparsemax_loss(xg, y, reduction="sum").backward()
        p = xg.grad + F.one_hot(y, shape[1]).to(dtype)
        assert (p >= 0).all()
        torch.testing.assert_close(p.sum(1), torch.ones(shape[0], dtype=dtype))


def test_multiclass_sparsemax_int32_labels_and_errors():
    x = torch.randn(4, 3, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1])
    torch.testing.assert_close(LT.multiclass_sparsemax_loss(x, y.int()), LT.multiclass_sparsemax_loss(x, y))
    with pytest.raises(IndexError, match=r"^multiclass_sparsemax_loss: target\[1\] = 3 is outside \[0, 3\)"):
        LT.multiclass_sparsemax_loss(x, torch.tensor([0, 3, 1, 1]))


# ---- Keras 3's CategoricalGeneralizedCrossEntropy ------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 5), (1, 3), (0, 4), (7, 12)], ids=str)
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_categorical_generalized_cross_entropy_against_keras(shape, q, reduction, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, q, reduction))
    x = torch.softmax(torch.randn(shape, generator=gen, dtype=dtype) * 2, -1)
    y = torch.randint(0, shape[1], shape[:1], generator=gen)
    if reduction != "none" and x.numel() == 0:
        # Keras returns an empty array for an empty batch; losskit the sum 0 (mean: NaN, as 0 / 0).
        v = LT.categorical_generalized_cross_entropy(x, y, q=q, reduction=reduction)
        assert v.shape == () and (v.item() == 0 if reduction == "sum" else torch.isnan(v))
        return

    def keras_gce(input, target, q, reduction):
        return keras_loss("CategoricalGeneralizedCrossEntropy", input, target, reduction, q=q)

    check_parity(LT.categorical_generalized_cross_entropy, keras_gce, [x, y], dict(q=q, reduction=reduction),
                 grad_of=[0], layout=layout, upstream=upstream, tol_dtype=KERAS_TOL)
    # Keras' [batch, 1] labels.
    torch.testing.assert_close(LT.categorical_generalized_cross_entropy(x, y[:, None], q=q, reduction=reduction),
                               LT.categorical_generalized_cross_entropy(x, y, q=q, reduction=reduction))


def test_categorical_generalized_cross_entropy_q_range():
    x = torch.softmax(torch.randn(3, 4), -1)
    with pytest.raises(ValueError, match=r"^categorical_generalized_cross_entropy: q = 1.5 is outside \(0, 1\)"):
        LT.categorical_generalized_cross_entropy(x, torch.tensor([0, 1, 2]), q=1.5)
