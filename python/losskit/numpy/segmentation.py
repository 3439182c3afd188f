"""Segmentation losses on NumPy arrays."""
from __future__ import annotations

from .._specs import segmentation as specs
from ._run import value, value_and_grad


def _options(include_background, to_onehot_y, sigmoid, softmax, squared_pred, jaccard, reduction, smooth_nr,
             smooth_dr, batch, weight, soft_label):
    return dict(include_background=include_background, to_onehot_y=to_onehot_y, sigmoid=sigmoid,
                softmax=softmax, squared_pred=squared_pred, jaccard=jaccard, reduction=reduction,
                smooth_nr=smooth_nr, smooth_dr=smooth_dr, batch=batch, weight=weight, soft_label=soft_label)


def dice_loss(input, target, *, include_background=True, to_onehot_y=False, sigmoid=False, softmax=False,
              squared_pred=False, jaccard=False, reduction="mean", smooth_nr=1e-5, smooth_dr=1e-5, batch=False,
              weight=None, soft_label=False):
    """Soft Dice loss, MONAI DiceLoss options (see losskit.torch.dice_loss)."""
    return value(specs.dice_loss, (input, target),
                 _options(include_background, to_onehot_y, sigmoid, softmax, squared_pred, jaccard, reduction,
                          smooth_nr, smooth_dr, batch, weight, soft_label))


def dice_loss_with_grad(input, target, *, include_background=True, to_onehot_y=False, sigmoid=False,
                        softmax=False, squared_pred=False, jaccard=False, reduction="mean", smooth_nr=1e-5,
                        smooth_dr=1e-5, batch=False, weight=None, soft_label=False):
    """(loss, grad_input) of dice_loss."""
    return value_and_grad(specs.dice_loss, (input, target),
                          _options(include_background, to_onehot_y, sigmoid, softmax, squared_pred, jaccard,
                                   reduction, smooth_nr, smooth_dr, batch, weight, soft_label))
