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
gaussian_nll_loss = LossSpec("gaussian_nll_loss", ("input", "target", "var"), (True, True, True), shape_of_input)
