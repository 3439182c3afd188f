"""Regression losses on NumPy arrays (see losskit.torch.regression for the formulas)."""
from __future__ import annotations

from .._specs import regression as specs
from ._run import value, value_and_grad


def _pair(spec, doc):
    def loss(input, target, **options):
        return value(spec, (input, target), options)

    def loss_with_grad(input, target, **options):
        return value_and_grad(spec, (input, target), options)

    loss.__name__, loss_with_grad.__name__ = spec.name, spec.name + "_with_grad"
    loss.__doc__ = doc
    loss_with_grad.__doc__ = f"(loss, grad_input, grad_target) of {spec.name}."
    return loss, loss_with_grad


def mse_loss(input, target, *, reduction="mean", weight=None):
    """(input - target)^2; 'mean' with a weight divides by sum(weight) (PyTorch >= 2.6)."""
    return value(specs.mse_loss, (input, target), dict(reduction=reduction, weight=weight))


def mse_loss_with_grad(input, target, *, reduction="mean", weight=None):
    """(loss, grad_input, grad_target) of mse_loss."""
    return value_and_grad(specs.mse_loss, (input, target), dict(reduction=reduction, weight=weight))


def l1_loss(input, target, *, reduction="mean", weight=None):
    """|input - target|; 'mean' with a weight divides by sum(weight) (PyTorch >= 2.6)."""
    return value(specs.l1_loss, (input, target), dict(reduction=reduction, weight=weight))


def l1_loss_with_grad(input, target, *, reduction="mean", weight=None):
    """(loss, grad_input, grad_target) of l1_loss."""
    return value_and_grad(specs.l1_loss, (input, target), dict(reduction=reduction, weight=weight))


def huber_loss(input, target, *, reduction="mean", delta=1.0, weight=None):
    """Huber loss; 'mean' with a weight divides by the element count (PyTorch >= 2.6)."""
    return value(specs.huber_loss, (input, target), dict(reduction=reduction, delta=delta, weight=weight))


def huber_loss_with_grad(input, target, *, reduction="mean", delta=1.0, weight=None):
    """(loss, grad_input, grad_target) of huber_loss."""
    return value_and_grad(specs.huber_loss, (input, target), dict(reduction=reduction, delta=delta, weight=weight))


smooth_l1_loss, smooth_l1_loss_with_grad = _pair(specs.smooth_l1_loss, "Smooth L1 (options: reduction, beta).")
poisson_nll_loss, poisson_nll_loss_with_grad = _pair(
    specs.poisson_nll_loss, "Poisson NLL (options: log_input, full, eps, reduction).")
log_cosh_loss, log_cosh_loss_with_grad = _pair(specs.log_cosh_loss, "log(cosh(input - target)) (option: reduction).")
l2_loss, l2_loss_with_grad = _pair(specs.l2_loss, "0.5 (input - target)^2, optax's l2_loss (option: reduction).")
quantile_loss, quantile_loss_with_grad = _pair(specs.quantile_loss, "Pinball loss (options: tau, reduction).")
msle_loss, msle_loss_with_grad = _pair(specs.msle_loss, "Keras MSLE (options: eps, reduction).")
mape_loss, mape_loss_with_grad = _pair(specs.mape_loss, "Keras MAPE (options: eps, reduction).")


def gaussian_nll_loss(input, target, var, *, full=False, eps=1e-6, reduction="mean"):
    """Gaussian NLL (see losskit.torch.gaussian_nll_loss)."""
    return value(specs.gaussian_nll_loss, (input, target, var), dict(full=full, eps=eps, reduction=reduction))


def gaussian_nll_loss_with_grad(input, target, var, *, full=False, eps=1e-6, reduction="mean"):
    """(loss, grad_input, grad_target, grad_var) of gaussian_nll_loss."""
    return value_and_grad(specs.gaussian_nll_loss, (input, target, var), dict(full=full, eps=eps, reduction=reduction))
