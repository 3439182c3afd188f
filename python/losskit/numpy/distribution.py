"""Distribution losses on NumPy arrays."""
from __future__ import annotations

from .._specs import distribution as specs
from ._run import value, value_and_grad


def kl_div(input, target, *, reduction="mean", log_target=False):
    """KL(target || exp(input)) (see losskit.torch.kl_div)."""
    return value(specs.kl_div, (input, target), dict(reduction=reduction, log_target=log_target))


def kl_div_with_grad(input, target, *, reduction="mean", log_target=False):
    """(loss, grad_input, grad_target) of kl_div."""
    return value_and_grad(specs.kl_div, (input, target), dict(reduction=reduction, log_target=log_target))
