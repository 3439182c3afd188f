"""Specs of the embedding losses (include/losskit/embedding.hpp)."""
from . import LossSpec, shape_of_input


def shape_of_target(shapes, options):
    """One loss per label: (N) for (N, D) inputs, () for (D)."""
    return shapes[2]


def shape_without_last_dim(shapes, options):
    """Triplet losses: the distance runs over the last dim."""
    return tuple(shapes[0])[:-1]


hinge_embedding_loss = LossSpec("hinge_embedding_loss", ("input", "target"), (True, None), shape_of_input)
margin_ranking_loss = LossSpec("margin_ranking_loss", ("input1", "input2", "target"), (True, True, True),
                               shape_of_input)
cosine_embedding_loss = LossSpec("cosine_embedding_loss", ("input1", "input2", "target"), (True, True, None),
                                 shape_of_target)
triplet_margin_loss = LossSpec("triplet_margin_loss", ("anchor", "positive", "negative"), (True, True, True),
                               shape_without_last_dim)
triplet_margin_with_distance_loss = LossSpec("triplet_margin_with_distance_loss", ("anchor", "positive", "negative"),
                                             (True, True, True), shape_without_last_dim)
