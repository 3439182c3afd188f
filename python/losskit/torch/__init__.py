"""losskit.torch: losskit's losses as torch.nn.functional-style functions.

Each function has the name, arguments and defaults of its torch.nn.functional namesake and
returns a torch tensor that supports .backward(); forward and backward run losskit's C++ kernels
(CPU tensors, any strides, no copies). Losses PyTorch lacks follow the same style.
"""
from .classification import cross_entropy, nll_loss
from .classification_extra import (binary_cross_entropy, binary_cross_entropy_with_logits, poly1_cross_entropy,
                                   sigmoid_focal_loss, softmax_focal_loss)
from .distribution import kl_div
from .margin import (categorical_hinge_loss, hinge_loss, multi_margin_loss, multilabel_margin_loss,
                     multilabel_soft_margin_loss, soft_margin_loss, squared_hinge_loss)
from .segmentation import dice_loss

__all__ = ["cross_entropy", "nll_loss", "kl_div", "dice_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "sigmoid_focal_loss", "softmax_focal_loss",
           "poly1_cross_entropy", "soft_margin_loss", "multilabel_soft_margin_loss",
           "multi_margin_loss", "multilabel_margin_loss", "hinge_loss", "squared_hinge_loss",
           "categorical_hinge_loss"]
