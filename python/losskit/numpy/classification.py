"""Classification losses on NumPy arrays."""
from __future__ import annotations

from .._specs import classification as specs
from ._run import value, value_and_grad


def nll_loss(input, target, *, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (see losskit.torch.nll_loss)."""
    return value(specs.nll_loss, (input, target),
                 dict(weight=weight, ignore_index=ignore_index, reduction=reduction))


def nll_loss_with_grad(input, target, *, weight=None, ignore_index=-100, reduction="mean"):
    """(loss, grad_input) of nll_loss."""
    return value_and_grad(specs.nll_loss, (input, target),
                          dict(weight=weight, ignore_index=ignore_index, reduction=reduction))


def cross_entropy(input, target, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits against class ids or probabilities
    (see losskit.torch.cross_entropy)."""
    return value(specs.cross_entropy, (input, target),
                 dict(weight=weight, ignore_index=ignore_index, reduction=reduction,
                      label_smoothing=label_smoothing))


def cross_entropy_with_grad(input, target, *, weight=None, ignore_index=-100, reduction="mean",
                            label_smoothing=0.0):
    """(loss, grad_input) of cross_entropy; (loss, grad_input, grad_target) for probability targets."""
    return value_and_grad(specs.cross_entropy, (input, target),
                          dict(weight=weight, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing))
