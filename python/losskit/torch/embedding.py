"""Embedding losses (torch.nn.functional signatures)."""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from .._specs import embedding as specs, legacy_reduction
from ._function import apply


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: Optional[bool] = None,
                         reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """As torch.nn.functional.hinge_embedding_loss (target +-1, no gradient)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.hinge_embedding_loss, (input, target), dict(margin=margin, reduction=reduction))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin), as torch.nn.functional.margin_ranking_loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.margin_ranking_loss, (input1, input2, target), dict(margin=float(margin), reduction=reduction))


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                          reduction: str = "mean") -> Tensor:
    """As torch.nn.functional.cosine_embedding_loss ((N, D) inputs with (N) labels, or (D) with a
    0-d label)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.cosine_embedding_loss, (input1, input2, target), dict(margin=float(margin), reduction=reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: Optional[bool] = None,
                        reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """As torch.nn.functional.triplet_margin_loss (distance |u - v + eps|_p over the last dim)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.triplet_margin_loss, (anchor, positive, negative),
                 dict(margin=float(margin), p=float(p), eps=eps, swap=swap, reduction=reduction))


def cosine_distance(x1: Tensor, x2: Tensor) -> Tensor:
    """1 - cosine_similarity(x1, x2) over the last dim (eps = 1e-8). Passed as
    distance_function to triplet_margin_with_distance_loss, it runs in losskit's C++."""
    return 1.0 - torch.nn.functional.cosine_similarity(x1, x2, dim=-1)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Optional[Callable[[Tensor, Tensor], Tensor]] = None,
                                      margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """As torch.nn.functional.triplet_margin_with_distance_loss. None (the pairwise distance
    |u - v + 1e-6|_2) and losskit.torch.cosine_distance run entirely in losskit's C++; any other
    callable computes the distances with torch (its gradient taken by autograd)
    and the hinge and reduction with losskit (margin_ranking_loss of the two distances)."""
    builtin = {None: "pairwise", cosine_distance: "cosine"}
    if distance_function in builtin:
        return apply(specs.triplet_margin_with_distance_loss, (anchor, positive, negative),
                     dict(distance=builtin[distance_function], margin=float(margin), swap=swap, reduction=reduction))
    if margin <= 0:  # as torch 2.x's functional (the C++ loss checks it for the built-in distances)
        raise ValueError(f"triplet_margin_with_distance_loss: margin = {margin:g} must be > 0")
    if not (anchor.dim() == positive.dim() == negative.dim()):
        raise RuntimeError(f"triplet_margin_with_distance_loss: anchor, positive and negative must have the same "
                           f"number of dims, got {anchor.dim()}, {positive.dim()} and {negative.dim()}")
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:
        dist_neg = torch.minimum(dist_neg, distance_function(positive, negative))
    # max(0, margin + d(a, p) - d(a, n)) == margin_ranking_loss(d(a, n), d(a, p), 1, margin).
    ones = torch.ones_like(dist_pos).detach()
    return margin_ranking_loss(dist_neg, dist_pos, ones, margin=float(margin), reduction=reduction)
