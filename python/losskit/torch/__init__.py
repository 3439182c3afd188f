"""losskit.torch: losskit's losses as torch.nn.functional-style functions.

Each function has the name, arguments and defaults of its torch.nn.functional namesake and
returns a torch tensor that supports .backward(); forward and backward run losskit's C++ kernels
(CPU tensors, any strides, no copies). Losses PyTorch lacks follow the same style.
"""
from .classification import cross_entropy, nll_loss
from .distribution import kl_div
from .segmentation import dice_loss

__all__ = ["cross_entropy", "nll_loss", "kl_div", "dice_loss"]
