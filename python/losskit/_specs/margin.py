"""Specs of the margin and hinge losses (include/losskit/margin.hpp)."""
from . import LossSpec, shape_of_input


def shape_without_last_dim(shapes, options):
    """Losses over the last dim (multilabel and Keras hinges): (..., C) -> (...)."""
    return tuple(shapes[0])[:-1]


def shape_of_target(shapes, options):
    """multi_margin_loss: one loss per class id, shaped as the target ((), (1) or (N))."""
    return tuple(shapes[1])


soft_margin_loss = LossSpec("soft_margin_loss", ("input", "target"), (True, False), shape_of_input,
                            doc='log(1 + exp(-y x)).')
multilabel_soft_margin_loss = LossSpec("multilabel_soft_margin_loss", ("input", "target"), (True, True),
                                       shape_without_last_dim,
                                       doc='One-vs-all logistic loss.')
multi_margin_loss = LossSpec("multi_margin_loss", ("input", "target"), (True, False), shape_of_target,
                             doc='Multi-class hinge loss.')
multilabel_margin_loss = LossSpec("multilabel_margin_loss", ("input", "target"), (True, False),
                                  shape_without_last_dim,
                                  doc='Multi-label hinge loss.')
hinge_loss = LossSpec("hinge_loss", ("input", "target"), (True, False), shape_without_last_dim,
                      doc='Keras hinge.')
squared_hinge_loss = LossSpec("squared_hinge_loss", ("input", "target"), (True, False), shape_without_last_dim,
                              doc='Keras squared hinge.')
categorical_hinge_loss = LossSpec("categorical_hinge_loss", ("input", "target"), (True, False),
                                  shape_without_last_dim,
                                  doc='Keras categorical hinge.')
multiclass_perceptron_loss = LossSpec("multiclass_perceptron_loss", ("input", "target"), (True, False),
                                      shape_without_last_dim,
                                      doc="optax's multi-class perceptron loss.")
