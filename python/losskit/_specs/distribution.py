"""Specs of the distribution losses (include/losskit/distribution.hpp)."""
from . import LossSpec, shape_of_input

kl_div = LossSpec("kl_div", ("input", "target"), (True, True), shape_of_input,
                  doc='KL(target || exp(input)).')
