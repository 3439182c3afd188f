"""Regression losses (torch.nn.functional signatures; the `weight` of mse/l1/huber is that of
PyTorch >= 2.6). Losses PyTorch lacks (log_cosh_loss, quantile_loss, msle_loss, mape_loss) take
their defining library's options."""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor

from .._specs import legacy_reduction, regression as specs
from ._function import apply


def mse_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
             reduction: str = "mean", weight: Optional[Tensor] = None) -> Tensor:
    """(input - target)^2, as torch.nn.functional.mse_loss; with a per-element `weight`,
    'mean' is sum(weight * l) / sum(weight) (as PyTorch >= 2.6)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.mse_loss, (input, target), dict(reduction=reduction, weight=weight))


def l1_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
            reduction: str = "mean", weight: Optional[Tensor] = None) -> Tensor:
    """|input - target|, as torch.nn.functional.l1_loss; with a per-element `weight`, 'mean' is
    sum(weight * l) / sum(weight) (as PyTorch >= 2.6)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.l1_loss, (input, target), dict(reduction=reduction, weight=weight))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Optional[Tensor] = None) -> Tensor:
    """Huber loss, as torch.nn.functional.huber_loss; with a per-element `weight`, 'mean' is
    mean(weight * l) (a division by the element count, as PyTorch >= 2.6)."""
    return apply(specs.huber_loss, (input, target), dict(reduction=reduction, delta=delta, weight=weight))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1, as torch.nn.functional.smooth_l1_loss (beta == 0 is l1_loss)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.smooth_l1_loss, (input, target), dict(reduction=reduction, beta=beta))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Optional[bool] = None, eps: float = 1e-8, reduce: Optional[bool] = None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood, as torch.nn.functional.poisson_nll_loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return apply(specs.poisson_nll_loss, (input, target),
                 dict(log_input=log_input, full=full, eps=eps, reduction=reduction))


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Union[Tensor, float], full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Gaussian negative log-likelihood, as torch.nn.functional.gaussian_nll_loss (PyTorch 2.x: var
    a float, shaped like input, without the last dim, or with one dim of extent 1; target
    broadcast against input; var clamped at eps in the forward only)."""
    if isinstance(var, float):  # as torch: a scalar variance for every element
        if var < 0:
            raise ValueError(f"gaussian_nll_loss: var = {var:g} is negative; variances must be >= 0")
        var = torch.full_like(input, var)
    return apply(specs.gaussian_nll_loss, (input, target, var), dict(full=full, eps=eps, reduction=reduction))


def log_cosh_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """log(cosh(input - target)) (optax.losses.log_cosh; reduction='none' is optax's output)."""
    return apply(specs.log_cosh_loss, (input, target), dict(reduction=reduction))


def l2_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """0.5 (input - target)^2 (optax.losses.l2_loss; reduction='none' is optax's output)."""
    return apply(specs.l2_loss, (input, target), dict(reduction=reduction))


def quantile_loss(input: Tensor, target: Tensor, tau: float = 0.5, reduction: str = "mean") -> Tensor:
    """Pinball loss at quantile tau (tfa.losses.pinball_loss(y_true=target, y_pred=input, tau));
    'mean' equals TFA's value."""
    return apply(specs.quantile_loss, (input, target), dict(tau=tau, reduction=reduction))


def msle_loss(input: Tensor, target: Tensor, eps: float = 1e-7, reduction: str = "mean") -> Tensor:
    """(log(max(input, eps) + 1) - log(max(target, eps) + 1))^2
    (keras.losses.mean_squared_logarithmic_error; 'mean' equals Keras's value)."""
    return apply(specs.msle_loss, (input, target), dict(eps=eps, reduction=reduction))


def mape_loss(input: Tensor, target: Tensor, eps: float = 1e-7, reduction: str = "mean") -> Tensor:
    """100 |target - input| / max(|target|, eps) (keras.losses.mean_absolute_percentage_error;
    'mean' equals Keras's value)."""
    return apply(specs.mape_loss, (input, target), dict(eps=eps, reduction=reduction))
