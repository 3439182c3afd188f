"""Distribution losses (torch.nn.functional signatures)."""
from __future__ import annotations

import warnings

from torch import Tensor

from .._specs import distribution as specs, legacy_reduction
from ._function import apply


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) with `input` log-probabilities (target probabilities, or
    log-probabilities when log_target); as torch.nn.functional.kl_div. A target that requires
    grad gets its gradient too."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides by the number of elements, not the batch "
                      "size; reduction='batchmean' gives the KL divergence per sample (as in PyTorch)",
                      UserWarning, stacklevel=2)
    return apply(specs.kl_div, (input, target), dict(reduction=reduction, log_target=log_target))
