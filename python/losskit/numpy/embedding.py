"""Embedding losses on NumPy arrays (see losskit.torch.embedding)."""
from __future__ import annotations

from .._specs import embedding as specs
from ._run import value, value_and_grad


def hinge_embedding_loss(input, target, *, margin=1.0, reduction="mean"):
    """[y != 1] max(0, margin - x) + [y != -1] x."""
    return value(specs.hinge_embedding_loss, (input, target), dict(margin=margin, reduction=reduction))


def hinge_embedding_loss_with_grad(input, target, *, margin=1.0, reduction="mean"):
    """(loss, grad_input) of hinge_embedding_loss."""
    return value_and_grad(specs.hinge_embedding_loss, (input, target), dict(margin=margin, reduction=reduction))


def margin_ranking_loss(input1, input2, target, *, margin=0.0, reduction="mean"):
    """max(0, -target (input1 - input2) + margin)."""
    return value(specs.margin_ranking_loss, (input1, input2, target), dict(margin=margin, reduction=reduction))


def margin_ranking_loss_with_grad(input1, input2, target, *, margin=0.0, reduction="mean"):
    """(loss, grad_input1, grad_input2, grad_target) of margin_ranking_loss."""
    return value_and_grad(specs.margin_ranking_loss, (input1, input2, target), dict(margin=margin, reduction=reduction))


def cosine_embedding_loss(input1, input2, target, *, margin=0.0, reduction="mean"):
    """1 - cos for target 1, max(0, cos - margin) for target -1."""
    return value(specs.cosine_embedding_loss, (input1, input2, target), dict(margin=margin, reduction=reduction))


def cosine_embedding_loss_with_grad(input1, input2, target, *, margin=0.0, reduction="mean"):
    """(loss, grad_input1, grad_input2) of cosine_embedding_loss."""
    return value_and_grad(specs.cosine_embedding_loss, (input1, input2, target),
                          dict(margin=margin, reduction=reduction))


def triplet_margin_loss(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    """max(0, margin + |a - p + eps|_p - |a - n + eps|_p)."""
    return value(specs.triplet_margin_loss, (anchor, positive, negative),
                 dict(margin=margin, p=p, eps=eps, swap=swap, reduction=reduction))


def triplet_margin_loss_with_grad(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False,
                                  reduction="mean"):
    """(loss, grad_anchor, grad_positive, grad_negative) of triplet_margin_loss."""
    return value_and_grad(specs.triplet_margin_loss, (anchor, positive, negative),
                          dict(margin=margin, p=p, eps=eps, swap=swap, reduction=reduction))


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance="pairwise", margin=1.0, swap=False,
                                      reduction="mean", p=2.0, eps=1e-6, cosine_eps=1e-8):
    """Triplet loss with a built-in distance: 'pairwise' (|u - v + eps|_p) or 'cosine' (1 - cos)."""
    return value(specs.triplet_margin_with_distance_loss, (anchor, positive, negative),
                 dict(distance=distance, margin=margin, swap=swap, reduction=reduction, p=p, eps=eps,
                      cosine_eps=cosine_eps))


def triplet_margin_with_distance_loss_with_grad(anchor, positive, negative, *, distance="pairwise", margin=1.0,
                                                swap=False, reduction="mean", p=2.0, eps=1e-6, cosine_eps=1e-8):
    """(loss, grad_anchor, grad_positive, grad_negative) of triplet_margin_with_distance_loss."""
    return value_and_grad(specs.triplet_margin_with_distance_loss, (anchor, positive, negative),
                          dict(distance=distance, margin=margin, swap=swap, reduction=reduction, p=p, eps=eps,
                               cosine_eps=cosine_eps))
