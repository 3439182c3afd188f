"""Margin and hinge losses on NumPy arrays."""
from __future__ import annotations

from .._specs import margin as specs
from ._run import value, value_and_grad


def soft_margin_loss(input, target, *, reduction="mean"):
    """log(1 + exp(-y x)) (see losskit.torch.soft_margin_loss)."""
    return value(specs.soft_margin_loss, (input, target), dict(reduction=reduction))


def soft_margin_loss_with_grad(input, target, *, reduction="mean"):
    """(loss, grad_input) of soft_margin_loss."""
    return value_and_grad(specs.soft_margin_loss, (input, target), dict(reduction=reduction))


def multilabel_soft_margin_loss(input, target, *, weight=None, reduction="mean"):
    """One-vs-all logistic loss (see losskit.torch.multilabel_soft_margin_loss)."""
    return value(specs.multilabel_soft_margin_loss, (input, target), dict(weight=weight, reduction=reduction))


def multilabel_soft_margin_loss_with_grad(input, target, *, weight=None, reduction="mean"):
    """(loss, grad_input, grad_target) of multilabel_soft_margin_loss."""
    return value_and_grad(specs.multilabel_soft_margin_loss, (input, target), dict(weight=weight, reduction=reduction))


def multi_margin_loss(input, target, *, p=1, margin=1.0, weight=None, reduction="mean"):
    """Multi-class hinge loss (see losskit.torch.multi_margin_loss)."""
    return value(specs.multi_margin_loss, (input, target), dict(p=int(p), margin=float(margin), weight=weight, reduction=reduction))


def multi_margin_loss_with_grad(input, target, *, p=1, margin=1.0, weight=None, reduction="mean"):
    """(loss, grad_input) of multi_margin_loss."""
    return value_and_grad(specs.multi_margin_loss, (input, target), dict(p=int(p), margin=float(margin), weight=weight, reduction=reduction))


def multilabel_margin_loss(input, target, *, reduction="mean"):
    """Multi-label hinge loss (see losskit.torch.multilabel_margin_loss)."""
    return value(specs.multilabel_margin_loss, (input, target), dict(reduction=reduction))


def multilabel_margin_loss_with_grad(input, target, *, reduction="mean"):
    """(loss, grad_input) of multilabel_margin_loss."""
    return value_and_grad(specs.multilabel_margin_loss, (input, target), dict(reduction=reduction))


def hinge_loss(input, target, *, reduction="mean"):
    """Keras hinge (see losskit.torch.hinge_loss)."""
    return value(specs.hinge_loss, (input, target), dict(reduction=reduction))


def hinge_loss_with_grad(input, target, *, reduction="mean"):
    """(loss, grad_input) of hinge_loss."""
    return value_and_grad(specs.hinge_loss, (input, target), dict(reduction=reduction))


def squared_hinge_loss(input, target, *, reduction="mean"):
    """Keras squared hinge (see losskit.torch.squared_hinge_loss)."""
    return value(specs.squared_hinge_loss, (input, target), dict(reduction=reduction))


def squared_hinge_loss_with_grad(input, target, *, reduction="mean"):
    """(loss, grad_input) of squared_hinge_loss."""
    return value_and_grad(specs.squared_hinge_loss, (input, target), dict(reduction=reduction))


def categorical_hinge_loss(input, target, *, reduction="mean"):
    """Keras categorical hinge (see losskit.torch.categorical_hinge_loss)."""
    return value(specs.categorical_hinge_loss, (input, target), dict(reduction=reduction))


def categorical_hinge_loss_with_grad(input, target, *, reduction="mean"):
    """(loss, grad_input) of categorical_hinge_loss."""
    return value_and_grad(specs.categorical_hinge_loss, (input, target), dict(reduction=reduction))


def multiclass_perceptron_loss(input, target, *, reduction="mean"):
    """optax's multi-class perceptron loss (see losskit.torch.multiclass_perceptron_loss)."""
    return value(specs.multiclass_perceptron_loss, (input, target), dict(reduction=reduction))


def multiclass_perceptron_loss_with_grad(input, target, *, reduction="mean"):
    """(loss, grad_input) of multiclass_perceptron_loss."""
    return value_and_grad(specs.multiclass_perceptron_loss, (input, target), dict(reduction=reduction))
