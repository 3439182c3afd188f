"""Specs of the embedding losses (include/losskit/embedding.hpp)."""
from . import LossSpec, shape_of_input


def shape_of_target(shapes, options):
    """One loss per label: (N) for (N, D) inputs, () for (D)."""
    return shapes[2]


def shape_without_last_dim(shapes, options):
    """Triplet losses: the distance runs over the last dim."""
    return tuple(shapes[0])[:-1]


hinge_embedding_loss = LossSpec("hinge_embedding_loss", ("input", "target"), (True, None), shape_of_input,
                                doc='[y != 1] max(0, margin - x) + [y != -1] x.')
margin_ranking_loss = LossSpec("margin_ranking_loss", ("input1", "input2", "target"), (True, True, True),
                               shape_of_input,
                               doc='max(0, -target (input1 - input2) + margin).')
cosine_embedding_loss = LossSpec("cosine_embedding_loss", ("input1", "input2", "target"), (True, True, None),
                                 shape_of_target,
                                 doc='1 - cos for target 1, max(0, cos - margin) for target -1.')
triplet_margin_loss = LossSpec("triplet_margin_loss", ("anchor", "positive", "negative"), (True, True, True),
                               shape_without_last_dim,
                               doc='max(0, margin + |a - p + eps|_p - |a - n + eps|_p).')
triplet_margin_with_distance_loss = LossSpec("triplet_margin_with_distance_loss", ("anchor", "positive", "negative"),
                                             (True, True, True), shape_without_last_dim,
                                             doc="Triplet loss with a built-in distance: 'pairwise' (|u - v + eps|_p) or 'cosine' (1 - cos).")
