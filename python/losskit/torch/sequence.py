"""Sequence losses with torch.nn.functional's signatures."""
from __future__ import annotations

from typing import List, Sequence, Union

import torch
from torch import Tensor

from .. import _losskit
from .._specs import sequence as specs
from ._function import apply

_Lengths = Union[Tensor, Sequence[int], int]


def _lengths(v: _Lengths) -> Tensor:
    """Sequence lengths as an integer tensor (torch takes tensors or tuples of ints)."""
    if isinstance(v, Tensor):
        return v if not v.is_floating_point() else v.long()
    return torch.tensor(v, dtype=torch.int64)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: _Lengths, target_lengths: _Lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist Temporal Classification loss, as torch.nn.functional.ctc_loss.

    log_probs (T, N, C) or unbatched (T, C): log-probabilities (e.g. log_softmax over C).
    targets: padded (N, S) or the N sequences concatenated (1-D, sum(target_lengths) long), int64 or
    int32; ids in [0, C) other than blank. input_lengths, target_lengths: N lengths (tensors or
    sequences of ints). reduction 'none' gives the N losses, 'sum' their sum, 'mean' the batch mean
    of loss / max(target_length, 1). zero_infinity turns infeasible sequences' +inf (and their NaN
    gradients) into 0; ctc_infeasible() lists them.

    The gradient is PyTorch's, exp(log_probs) - posterior occupancy: the gradient w.r.t. the logits
    when log_probs = log_softmax(logits) (see docs/losses/ctc_loss.md)."""
    if isinstance(targets, Tensor) and targets.is_floating_point():
        targets = targets.long()  # as torch, which converts the targets to int64
    return apply(specs.ctc_loss, (log_probs, targets, _lengths(input_lengths), _lengths(target_lengths)),
                 dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity))


def ctc_infeasible(targets: Tensor, input_lengths: _Lengths, target_lengths: _Lengths) -> List[int]:
    """The batch indices of the sequences whose target cannot be aligned to their input
    (input_length < target_length + the number of repeated neighbouring labels): ctc_loss gives
    them +inf (0 with zero_infinity)."""
    return _losskit.ctc_infeasible(targets, _lengths(input_lengths), _lengths(target_lengths))
