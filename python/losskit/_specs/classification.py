"""Specs of the classification losses (include/losskit/classification.hpp)."""
from . import LossSpec, shape_without_class_dim

nll_loss = LossSpec("nll_loss", ("input", "target"), (True, False), shape_without_class_dim,
                    doc='Negative log-likelihood of log-probabilities.')
# cross_entropy: the target's gradient exists for probability targets (class ids cannot require grad)
cross_entropy = LossSpec("cross_entropy", ("input", "target"), (True, True), shape_without_class_dim,
                         doc='Softmax cross-entropy of logits against class ids or probabilities.')
