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



def _rows_of_last_dim(shapes, options):
    """One loss per row of the last dim: the input's shape without it."""
    return tuple(shapes[0])[:-1]


generalized_kl_divergence = LossSpec(
    "generalized_kl_divergence", ("input", "target"), (True, False), _rows_of_last_dim,
    doc="optax's generalized KL divergence sum(t (log t - x) + exp(x) - t) over the last dim, x log-predictions.")
