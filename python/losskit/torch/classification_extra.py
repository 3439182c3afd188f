"""binary_cross_entropy(_with_logits) with torch.nn.functional's signatures; sigmoid_focal_loss
with torchvision.ops' signature; softmax_focal_loss (Keras CategoricalFocalCrossentropy on
logits) and poly1_cross_entropy (optax poly_loss_cross_entropy) in the same style."""
from __future__ import annotations

from typing import Optional, Union

from torch import Tensor

from .._specs import classification_extra as specs, legacy_reduction
from ._function import apply


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities `input` (in [0, 1]; anything else is an error) and
    `target` of the same shape; `weight` broadcasts to the input's shape. As
    torch.nn.functional.binary_cross_entropy (logs clamped at -100)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.binary_cross_entropy, (input, target), dict(weight=weight, reduction=reduction))


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Optional[Tensor] = None) -> Tensor:
    """Binary cross-entropy of logits; `weight` and `pos_weight` broadcast to the input's shape.
    As torch.nn.functional.binary_cross_entropy_with_logits, but infinite logits give the
    limits (0 loss on the right side, finite gradients) where PyTorch gives NaN."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.binary_cross_entropy_with_logits, (input, target),
                 dict(weight=weight, reduction=reduction, pos_weight=pos_weight))


def sigmoid_focal_loss(inputs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2,
                       reduction: str = "none") -> Tensor:
    """RetinaNet's focal loss of logits `inputs` against labels `targets` (same shape); as
    torchvision.ops.sigmoid_focal_loss, with a gradient that stays finite for every gamma >= 0."""
    return apply(specs.sigmoid_focal_loss, (inputs, targets),
                 dict(alpha=float(alpha), gamma=float(gamma), reduction=reduction))


def softmax_focal_loss(input: Tensor, target: Tensor, alpha: Union[float, Tensor] = 0.25, gamma: float = 2.0,
                       label_smoothing: float = 0.0, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Categorical focal loss of logits `input` (C), (N, C) or (N, C, d1..dK) against class ids or
    probabilities: -sum_c alpha_c t_c (1 - p_c)^gamma log p_c (Keras CategoricalFocalCrossentropy
    with from_logits=True over dim 1; `alpha` a float or a per-class tensor)."""
    if isinstance(alpha, Tensor):
        opts = dict(alpha=0.25, class_alpha=alpha)
    else:
        opts = dict(alpha=float(alpha))
    opts.update(gamma=float(gamma), label_smoothing=float(label_smoothing), ignore_index=ignore_index,
                reduction=reduction)
    return apply(specs.softmax_focal_loss, (input, target), opts)


def poly1_cross_entropy(input: Tensor, target: Tensor, epsilon: float = 2.0, ignore_index: int = -100,
                        reduction: str = "none") -> Tensor:
    """Poly-1 loss: softmax cross-entropy + epsilon * (1 - p_t), of logits `input` (class dim 1)
    against probabilities (optax poly_loss_cross_entropy) or class ids."""
    return apply(specs.poly1_cross_entropy, (input, target),
                 dict(epsilon=float(epsilon), ignore_index=ignore_index, reduction=reduction))



def sparsemax_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """optax.losses.sparsemax_loss(logits=input, labels=target): sparse_plus(-x) where the label is
    nonzero (true), sparse_plus(x) elsewhere; sparse_plus(z) = 0, (z + 1)^2 / 4, z for z <= -1,
    |z| < 1, z >= 1. Labels of any dtype (0 / 1). reduction='none' is optax's element-wise output."""
    if isinstance(target, Tensor) and target.dtype != input.dtype:
        target = target.to(input.dtype)
    return apply(specs.sparsemax_loss, (input, target), dict(reduction=reduction))


def multiclass_sparsemax_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """optax.losses.multiclass_sparsemax_loss(scores=input, labels=target): with p = sparsemax of
    each row of the last dim, sum_c p_c (x_c - x_y) + (1 - |p|^2) / 2; gradient p - onehot(y).
    int64 / int32 class ids in [0, C). reduction='none' is optax's per-row output."""
    return apply(specs.multiclass_sparsemax_loss, (input, target), dict(reduction=reduction))



def categorical_generalized_cross_entropy(input: Tensor, target: Tensor, q: float = 0.5,
                                          reduction: str = "mean") -> Tensor:
    """keras.losses.CategoricalGeneralizedCrossEntropy(q)(y_true=target, y_pred=input): (1 - p^q) / q
    with p the predicted probability of the true class, per row of the last dim; int class ids
    (a trailing dim of 1, Keras' [batch, 1] form, is dropped). q in (0, 1). reduction 'mean' is
    Keras' 'sum_over_batch_size'."""
    if isinstance(target, Tensor) and target.dim() == input.dim() and target.dim() > 0 and target.shape[-1] == 1:
        target = target.squeeze(-1)
    return apply(specs.categorical_generalized_cross_entropy, (input, target), dict(q=q, reduction=reduction))
