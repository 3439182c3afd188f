"""Classification losses (torch.nn.functional signatures)."""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from .._specs import classification as specs, legacy_reduction
from ._function import apply


def nll_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities `input` (C), (N, C) or (N, C, d1..dK) at
    class ids `target` (), (N) or (N, d1..dK); as torch.nn.functional.nll_loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.nll_loss, (input, target),
                 dict(weight=weight, ignore_index=ignore_index, reduction=reduction))


def cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits `input` (C), (N, C) or (N, C, d1..dK) against class ids
    (int64 or int32, shaped as input without dim 1) or probabilities (shaped as input);
    as torch.nn.functional.cross_entropy."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.cross_entropy, (input, target),
                 dict(weight=weight, ignore_index=ignore_index, reduction=reduction,
                      label_smoothing=label_smoothing))
