"""Specs of the classification losses (include/losskit/classification.hpp)."""
from . import LossSpec, shape_without_class_dim

nll_loss = LossSpec("nll_loss", ("input", "target"), (True, False), shape_without_class_dim)
cross_entropy = LossSpec("cross_entropy", ("input", "target"), (True, False), shape_without_class_dim)
