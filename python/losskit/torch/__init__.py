"""losskit.torch: losskit's losses as torch.nn.functional-style functions.

Each function has the name, arguments and defaults of its torch.nn.functional namesake and
returns a torch tensor that supports .backward(); forward and backward run losskit's C++ kernels
(CPU tensors, any strides, no copies). Losses PyTorch lacks follow the same style.
"""
from .classification import cross_entropy, nll_loss
from .classification_extra import (binary_cross_entropy, binary_cross_entropy_with_logits,
                                   categorical_generalized_cross_entropy, multiclass_sparsemax_loss, poly1_cross_entropy, sigmoid_focal_loss,
                                   softmax_focal_loss, sparsemax_loss)
from .distribution import generalized_kl_divergence, jsd, kl_div, tvd
from .embedding import (cosine_distance, cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss,
                        triplet_margin_loss, triplet_margin_with_distance_loss)
from .regression import (gaussian_nll_loss, huber_loss, l1_loss, l2_loss, log_cosh_loss, mape_loss, mse_loss, msle_loss,
                         poisson_nll_loss, quantile_loss, smooth_l1_loss)
from .margin import (categorical_hinge_loss, hinge_loss, multi_margin_loss, multiclass_perceptron_loss,
                     multilabel_margin_loss,
                     multilabel_soft_margin_loss, soft_margin_loss, squared_hinge_loss)
from .segmentation import dice_loss, generalized_dice_loss, tversky_loss
from .sequence import ctc_infeasible, ctc_loss
from .detection import (box_iou, complete_box_iou, complete_box_iou_loss, distance_box_iou, distance_box_iou_loss,
                        generalized_box_iou, generalized_box_iou_loss)

# One line per family.
__all__ = ["cross_entropy", "nll_loss"]
__all__ += ["kl_div", "jsd", "tvd", "generalized_kl_divergence"]
__all__ += ["dice_loss", "tversky_loss", "generalized_dice_loss"]
__all__ += ["ctc_loss", "ctc_infeasible"]
__all__ += ["generalized_box_iou_loss", "distance_box_iou_loss", "complete_box_iou_loss"]
__all__ += ["box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou"]  # (N, M) matrices
__all__ += ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "poisson_nll_loss", "gaussian_nll_loss",
            "log_cosh_loss", "l2_loss", "quantile_loss", "msle_loss", "mape_loss"]
__all__ += ["hinge_embedding_loss", "margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss",
            "triplet_margin_with_distance_loss", "cosine_distance"]
__all__ += ["binary_cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss", "softmax_focal_loss",
            "poly1_cross_entropy", "sparsemax_loss", "multiclass_sparsemax_loss",
            "categorical_generalized_cross_entropy"]
__all__ += ["soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
            "hinge_loss", "squared_hinge_loss", "categorical_hinge_loss", "multiclass_perceptron_loss"]

from . import nn  # noqa: E402  (module classes; imported last, it reads the functions above)
