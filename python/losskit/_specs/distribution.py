"""Specs of the distribution losses (include/losskit/distribution.hpp)."""
from . import LossSpec, shape_of_input

kl_div = LossSpec("kl_div", ("input", "target"), (True, True), shape_of_input,
                  doc='KL(target || exp(input)).')


def _scalar(shapes, options):
    """Liger's distillation losses reduce to one value."""
    return ()


jsd = LossSpec("jsd", ("input", "target"), (True, True), _scalar,
               doc="Liger Kernel's generalized Jensen-Shannon divergence of log-probabilities (student input, "
                   "teacher target), per kept row.")

tvd = LossSpec("tvd", ("input", "target"), (True, True), shape_of_input,
               doc="Liger Kernel's total variation distance |p - q| / 2 of two rows of probabilities, per kept row.")
