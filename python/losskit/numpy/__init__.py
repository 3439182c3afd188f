"""losskit.numpy: losskit's losses on NumPy arrays (float32 or float64, any strides).

For each loss `f`: f(...) returns the loss; f_with_grad(...) returns (loss, grad_input[, grad of
other differentiable inputs]) computed in one fused pass, the gradient being that of the summed
output (of the scalar for 'mean'/'sum'). Options are keyword arguments with PyTorch's names.
"""
from .classification import (cross_entropy, cross_entropy_with_grad, nll_loss, nll_loss_with_grad)
from .distribution import kl_div, kl_div_with_grad
from .segmentation import dice_loss, dice_loss_with_grad

__all__ = ["cross_entropy", "cross_entropy_with_grad", "nll_loss", "nll_loss_with_grad",
           "kl_div", "kl_div_with_grad", "dice_loss", "dice_loss_with_grad"]
