"""losskit.numpy: losskit's losses on NumPy arrays (float32 or float64, any strides).

For each loss `f`: f(...) returns the loss; f_with_grad(...) returns (loss, grad_input[, grad of
other differentiable inputs]) computed in one fused pass, the gradient being that of the summed
output (of the scalar for 'mean'/'sum'). Options are keyword arguments with PyTorch's names.
"""
from .classification import (cross_entropy, cross_entropy_with_grad, nll_loss, nll_loss_with_grad)
from .classification_extra import (binary_cross_entropy, binary_cross_entropy_with_grad, binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_with_grad, sigmoid_focal_loss, sigmoid_focal_loss_with_grad, softmax_focal_loss, softmax_focal_loss_with_grad, poly1_cross_entropy, poly1_cross_entropy_with_grad)
from .distribution import kl_div, kl_div_with_grad
from .margin import (soft_margin_loss, soft_margin_loss_with_grad, multilabel_soft_margin_loss, multilabel_soft_margin_loss_with_grad, multi_margin_loss, multi_margin_loss_with_grad, multilabel_margin_loss, multilabel_margin_loss_with_grad, hinge_loss, hinge_loss_with_grad, squared_hinge_loss, squared_hinge_loss_with_grad, categorical_hinge_loss, categorical_hinge_loss_with_grad)
from .segmentation import dice_loss, dice_loss_with_grad

__all__ = ["cross_entropy", "cross_entropy_with_grad", "nll_loss", "nll_loss_with_grad", "kl_div",
           "kl_div_with_grad", "dice_loss", "dice_loss_with_grad", "binary_cross_entropy",
           "binary_cross_entropy_with_grad", "binary_cross_entropy_with_logits",
           "binary_cross_entropy_with_logits_with_grad", "sigmoid_focal_loss",
           "sigmoid_focal_loss_with_grad", "softmax_focal_loss", "softmax_focal_loss_with_grad",
           "poly1_cross_entropy", "poly1_cross_entropy_with_grad", "soft_margin_loss",
           "soft_margin_loss_with_grad", "multilabel_soft_margin_loss",
           "multilabel_soft_margin_loss_with_grad", "multi_margin_loss",
           "multi_margin_loss_with_grad", "multilabel_margin_loss",
           "multilabel_margin_loss_with_grad", "hinge_loss", "hinge_loss_with_grad",
           "squared_hinge_loss", "squared_hinge_loss_with_grad", "categorical_hinge_loss",
           "categorical_hinge_loss_with_grad"]
