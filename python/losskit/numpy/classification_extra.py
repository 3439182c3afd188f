"""Binary, focal and poly-1 classification losses on NumPy arrays."""
from __future__ import annotations

from .._specs import classification_extra as specs
from ._run import value, value_and_grad


def binary_cross_entropy(input, target, *, weight=None, reduction="mean"):
    """Binary cross-entropy of probabilities (see losskit.torch.binary_cross_entropy)."""
    return value(specs.binary_cross_entropy, (input, target), dict(weight=weight, reduction=reduction))


def binary_cross_entropy_with_grad(input, target, *, weight=None, reduction="mean"):
    """(loss, grad_input, grad_target) of binary_cross_entropy."""
    return value_and_grad(specs.binary_cross_entropy, (input, target), dict(weight=weight, reduction=reduction))


def binary_cross_entropy_with_logits(input, target, *, weight=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy of logits (see losskit.torch.binary_cross_entropy_with_logits)."""
    return value(specs.binary_cross_entropy_with_logits, (input, target), dict(weight=weight, reduction=reduction, pos_weight=pos_weight))


def binary_cross_entropy_with_logits_with_grad(input, target, *, weight=None, reduction="mean", pos_weight=None):
    """(loss, grad_input, grad_target) of binary_cross_entropy_with_logits."""
    return value_and_grad(specs.binary_cross_entropy_with_logits, (input, target), dict(weight=weight, reduction=reduction, pos_weight=pos_weight))


def sigmoid_focal_loss(input, target, *, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision sigmoid focal loss of logits (see losskit.torch.sigmoid_focal_loss)."""
    return value(specs.sigmoid_focal_loss, (input, target), dict(alpha=float(alpha), gamma=float(gamma), reduction=reduction))


def sigmoid_focal_loss_with_grad(input, target, *, alpha=0.25, gamma=2.0, reduction="none"):
    """(loss, grad_input) of sigmoid_focal_loss."""
    return value_and_grad(specs.sigmoid_focal_loss, (input, target), dict(alpha=float(alpha), gamma=float(gamma), reduction=reduction))


def softmax_focal_loss(input, target, *, alpha=0.25, class_alpha=None, gamma=2.0, label_smoothing=0.0, ignore_index=-100, reduction="mean"):
    """Categorical focal loss of logits (see losskit.torch.softmax_focal_loss; per-class alpha as class_alpha)."""
    return value(specs.softmax_focal_loss, (input, target), dict(alpha=float(alpha), class_alpha=class_alpha, gamma=float(gamma), label_smoothing=float(label_smoothing), ignore_index=ignore_index, reduction=reduction))


def softmax_focal_loss_with_grad(input, target, *, alpha=0.25, class_alpha=None, gamma=2.0, label_smoothing=0.0, ignore_index=-100, reduction="mean"):
    """(loss, grad_input) of softmax_focal_loss."""
    return value_and_grad(specs.softmax_focal_loss, (input, target), dict(alpha=float(alpha), class_alpha=class_alpha, gamma=float(gamma), label_smoothing=float(label_smoothing), ignore_index=ignore_index, reduction=reduction))


def poly1_cross_entropy(input, target, *, epsilon=2.0, ignore_index=-100, reduction="none"):
    """Poly-1 cross-entropy of logits (see losskit.torch.poly1_cross_entropy)."""
    return value(specs.poly1_cross_entropy, (input, target), dict(epsilon=float(epsilon), ignore_index=ignore_index, reduction=reduction))


def poly1_cross_entropy_with_grad(input, target, *, epsilon=2.0, ignore_index=-100, reduction="none"):
    """(loss, grad_input) of poly1_cross_entropy."""
    return value_and_grad(specs.poly1_cross_entropy, (input, target), dict(epsilon=float(epsilon), ignore_index=ignore_index, reduction=reduction))
