"""Specs of the regression losses (include/losskit/regression.hpp)."""
from . import LossSpec, shape_of_input

_PAIR = (("input", "target"), (True, True), shape_of_input)

mse_loss = LossSpec("mse_loss", *_PAIR)
l1_loss = LossSpec("l1_loss", *_PAIR)
huber_loss = LossSpec("huber_loss", *_PAIR)
smooth_l1_loss = LossSpec("smooth_l1_loss", *_PAIR)
poisson_nll_loss = LossSpec("poisson_nll_loss", *_PAIR)
log_cosh_loss = LossSpec("log_cosh_loss", *_PAIR)
l2_loss = LossSpec("l2_loss", *_PAIR)
quantile_loss = LossSpec("quantile_loss", *_PAIR)
msle_loss = LossSpec("msle_loss", *_PAIR)
mape_loss = LossSpec("mape_loss", *_PAIR)


def shape_of_input_and_target(shapes, options):
    """The broadcast shape of input and target (NumPy rules); the input's when they do not
    broadcast (the C++ checks then say why)."""
    x, t = tuple(shapes[0]), tuple(shapes[1])
    n = max(len(x), len(t))
    x, t = (1,) * (n - len(x)) + x, (1,) * (n - len(t)) + t
    if any(a != b and 1 not in (a, b) for a, b in zip(x, t)):
        return tuple(shapes[0])
    return tuple(b if a == 1 else a for a, b in zip(x, t))


gaussian_nll_loss = LossSpec("gaussian_nll_loss", ("input", "target", "var"), (True, True, True),
                             shape_of_input_and_target)
