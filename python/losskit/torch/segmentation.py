"""Segmentation losses (PyTorch has none: the defining library's option names)."""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from .._specs import segmentation as specs
from ._function import apply


def dice_loss(input: Tensor, target: Tensor, include_background: bool = True, to_onehot_y: bool = False,
              sigmoid: bool = False, softmax: bool = False, squared_pred: bool = False, jaccard: bool = False,
              reduction: str = "mean", smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, batch: bool = False,
              weight: Optional[Tensor] = None, soft_label: bool = False) -> Tensor:
    """Soft Dice (or Jaccard) loss with the options and defaults of MONAI's DiceLoss
    (monai.losses.DiceLoss(...)(input, target); `other_act` is not offered).

    input (B, C, d1..dK): probabilities, or logits with sigmoid / softmax (gradient w.r.t. the
    logits). target (B, C, d1..dK) one-hot or soft; float class ids (B, 1, d1..dK) with
    to_onehot_y; or an int64/int32 tensor of class ids (B, 1, d1..dK) or (B, d1..dK), always
    one-hot encoded. reduction 'none' gives (B, C', 1, .., 1) ((C', 1, .., 1) with batch)."""
    return apply(specs.dice_loss, (input, target),
                 dict(include_background=include_background, to_onehot_y=to_onehot_y, sigmoid=sigmoid,
                      softmax=softmax, squared_pred=squared_pred, jaccard=jaccard, reduction=reduction,
                      smooth_nr=smooth_nr, smooth_dr=smooth_dr, batch=batch, weight=weight,
                      soft_label=soft_label))


def tversky_loss(input: Tensor, target: Tensor, include_background: bool = True, to_onehot_y: bool = False,
                 sigmoid: bool = False, softmax: bool = False, alpha: float = 0.5, beta: float = 0.5,
                 reduction: str = "mean", smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, batch: bool = False,
                 soft_label: bool = False) -> Tensor:
    """Tversky loss with the options and defaults of MONAI's TverskyLoss
    (monai.losses.TverskyLoss(...)(input, target); `other_act` and `ignore_index` are not offered).

    1 - (tp + smooth_nr) / (tp + alpha fp + beta fn + smooth_dr) per (batch item, channel) (per
    channel with batch), sums over the spatial dims. Inputs as dice_loss: probabilities or logits
    with sigmoid / softmax, targets one-hot / soft / class ids. reduction 'none' gives (B, C')
    ((C') with batch)."""
    return apply(specs.tversky_loss, (input, target),
                 dict(include_background=include_background, to_onehot_y=to_onehot_y, sigmoid=sigmoid,
                      softmax=softmax, alpha=alpha, beta=beta, reduction=reduction, smooth_nr=smooth_nr,
                      smooth_dr=smooth_dr, batch=batch, soft_label=soft_label))


def generalized_dice_loss(input: Tensor, target: Tensor, include_background: bool = True, to_onehot_y: bool = False,
                          sigmoid: bool = False, softmax: bool = False, w_type: str = "square", reduction: str = "mean",
                          smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, batch: bool = False,
                          soft_label: bool = False) -> Tensor:
    """Generalized Dice loss with the options and defaults of MONAI's GeneralizedDiceLoss
    (`other_act` is not offered): per batch item (once with batch), 1 - (2 sum_c w_c tp_c + smooth_nr)
    / (sum_c w_c (P_c + G_c) + smooth_dr), w_c = 1 / G_c^2 ('square'), 1 / G_c ('simple') or 1
    ('uniform') of the target volume G_c (empty classes take the largest weight). Inputs as
    dice_loss. reduction 'none' gives (B, 1, 1, .., 1)."""
    return apply(specs.generalized_dice_loss, (input, target),
                 dict(include_background=include_background, to_onehot_y=to_onehot_y, sigmoid=sigmoid,
                      softmax=softmax, w_type=w_type, reduction=reduction, smooth_nr=smooth_nr,
                      smooth_dr=smooth_dr, batch=batch, soft_label=soft_label))
