"""Specs of binary_cross_entropy(_with_logits), the focal losses and poly-1
(include/losskit/classification.hpp)."""
from . import LossSpec, shape_of_input, shape_without_class_dim

binary_cross_entropy = LossSpec("binary_cross_entropy", ("input", "target"), (True, True), shape_of_input,
                                doc='Binary cross-entropy of probabilities.')
binary_cross_entropy_with_logits = LossSpec("binary_cross_entropy_with_logits", ("input", "target"), (True, True),
                                            shape_of_input,
                                            doc='Binary cross-entropy of logits.')
sigmoid_focal_loss = LossSpec("sigmoid_focal_loss", ("inputs", "targets"), (True, False), shape_of_input,
                              doc='torchvision sigmoid focal loss of logits.')
softmax_focal_loss = LossSpec("softmax_focal_loss", ("input", "target"), (True, False), shape_without_class_dim,
                              doc='Categorical focal loss of logits (per-class alpha as class_alpha).')
poly1_cross_entropy = LossSpec("poly1_cross_entropy", ("input", "target"), (True, False), shape_without_class_dim,
                               doc='Poly-1 cross-entropy of logits.')
sparsemax_loss = LossSpec("sparsemax_loss", ("input", "target"), (True, None), shape_of_input,
                          doc="optax's binary sparsemax loss sparse_plus(label ? -x : x) of logits.")


def _without_last_dim(shapes, options):
    """One loss per row of the last dim."""
    return tuple(shapes[0])[:-1]


multiclass_sparsemax_loss = LossSpec("multiclass_sparsemax_loss", ("input", "target"), (True, False),
                                     _without_last_dim,
                                     doc="optax's multiclass sparsemax loss of scores and class ids (last dim).")
categorical_generalized_cross_entropy = LossSpec(
    "categorical_generalized_cross_entropy", ("input", "target"), (True, False), _without_last_dim,
    doc="Keras 3's generalized cross-entropy (1 - p_y^q) / q of probabilities and class ids (last dim).")
