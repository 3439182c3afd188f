"""Margin losses with torch.nn.functional's signatures, and Keras' hinges in the same style."""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from .._specs import margin as specs, legacy_reduction
from ._function import apply


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)), computed stably; as torch.nn.functional.soft_margin_loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.soft_margin_loss, (input, target), dict(reduction=reduction))


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """One-vs-all logistic loss averaged over the last dim; as
    torch.nn.functional.multilabel_soft_margin_loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.multilabel_soft_margin_loss, (input, target), dict(weight=weight, reduction=reduction))


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Optional[Tensor] = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss of scores (C) or (N, C) at class ids; as
    torch.nn.functional.multi_margin_loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.multi_margin_loss, (input, target),
                 dict(p=int(p), margin=float(margin), weight=weight, reduction=reduction))


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss; `target` lists class ids padded with -1. As
    torch.nn.functional.multilabel_margin_loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.multilabel_margin_loss, (input, target), dict(reduction=reduction))


def hinge_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Keras hinge: mean over the last dim of max(0, 1 - y x), labels {-1, 1} (or {0, 1},
    converted)."""
    return apply(specs.hinge_loss, (input, target), dict(reduction=reduction))


def squared_hinge_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Keras squared_hinge: mean over the last dim of max(0, 1 - y x)^2."""
    return apply(specs.squared_hinge_loss, (input, target), dict(reduction=reduction))


def categorical_hinge_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Keras categorical_hinge: max(0, max_c (1 - y_c) x_c - sum_c y_c x_c + 1) per row."""
    return apply(specs.categorical_hinge_loss, (input, target), dict(reduction=reduction))


def multiclass_perceptron_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """optax.losses.multiclass_perceptron_loss(scores=input, labels=target): max_c x_c - x_y per row
    of the last dim (int64 class ids); reduction='none' is optax's output."""
    return apply(specs.multiclass_perceptron_loss, (input, target), dict(reduction=reduction))
