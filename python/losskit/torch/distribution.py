"""Distribution losses (torch.nn.functional signatures)."""
from __future__ import annotations

import warnings

from typing import Optional

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



def jsd(input: Tensor, target: Tensor, shift_labels: Optional[Tensor] = None, beta: float = 0.5,
        ignore_index: int = -100) -> Tensor:
    """Generalized Jensen-Shannon divergence as Liger Kernel's liger_jsd / LigerJSD: `input` is the
    student's log q, `target` the teacher's log p, both (BT, V). With m = beta p + (1 - beta) q,
    the loss is beta KL(p || m) + (1 - beta) KL(q || m) summed over the vocabulary; beta = 0 is
    KL(p || q) and beta = 1 is KL(q || p) (Liger's special cases). Rows whose shift_labels (BT,)
    equal ignore_index are dropped; the result is the sum over kept rows divided by their number
    (0 when none is kept). Gradients for input and target."""
    return apply(specs.jsd, (input, target), dict(shift_labels=shift_labels, beta=beta, ignore_index=ignore_index))



def tvd(input: Tensor, target: Tensor, shift_labels: Optional[Tensor] = None, reduction: str = "batchmean",
        ignore_index: int = -100) -> Tensor:
    """Total variation distance as Liger Kernel's LigerTVDLoss: |input - target| / 2 per element
    of two (BT, V) rows of probabilities. Rows whose shift_labels (BT,) equal ignore_index are
    dropped (0 loss and gradients); 'batchmean' (LigerTVDLoss's default) divides the sum by the
    number of kept rows, 'mean' by kept rows * V, 'sum' and 'none' as usual (0 when no row is kept).
    Liger's functional liger_tvd defaults to 'mean'. Gradients for input and target."""
    return apply(specs.tvd, (input, target), dict(shift_labels=shift_labels, reduction=reduction,
                                                  ignore_index=ignore_index))



def generalized_kl_divergence(input: Tensor, target: Tensor, where: Optional[Tensor] = None,
                              reduction: str = "mean") -> Tensor:
    """optax.losses.generalized_kl_divergence(log_predictions=input, targets=target, where=where)
    (convex_kl_divergence is optax's deprecated alias): per row of the last dim,
    sum t (log t - input) + exp(input) - t, for unnormalized distributions (log t read as 0 where
    t == 0, as optax). `where` (bool or 0/1, broadcast to the input) keeps the entries where it is
    true. reduction='none' is optax's per-row output; 'mean' averages the rows, 'sum' adds them.
    The input's gradient only (the target's raises)."""
    if where is not None and isinstance(where, Tensor):
        where = where.to(input.dtype).expand(input.shape)
    return apply(specs.generalized_kl_divergence, (input, target), dict(reduction=reduction, where=where))
