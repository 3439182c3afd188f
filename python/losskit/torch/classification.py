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
                  label_smoothing: float = 0.0, *, inplace_grad: bool = False) -> Tensor:
    """Softmax cross-entropy of logits `input` (C), (N, C) or (N, C, d1..dK) against class ids
    (int64 or int32, shaped as input without dim 1) or probabilities (shaped as input);
    as torch.nn.functional.cross_entropy.

    inplace_grad=True (losskit's own, keyword-only; reduction 'mean' or 'sum', class-id
    targets): the gradient is written over the logits during the forward, as Liger Kernel does,
    so no logits-sized gradient buffer is allocated. The logits must be an intermediate result
    (not a leaf) that nothing else reads afterwards; their version counter is bumped, so an
    operation that saved them for its backward raises there. Under torch.compile the flag is
    ignored (the same values, a separate gradient buffer)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    options = dict(weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
    if inplace_grad:
        options["inplace_grad"] = True
    return apply(specs.cross_entropy, (input, target), options)
