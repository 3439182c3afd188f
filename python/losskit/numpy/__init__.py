"""losskit.numpy: losskit's losses on NumPy arrays (float32 or float64, any strides).

For each loss `f`: f(...) returns the loss; f_with_grad(...) returns (loss, grad_input[, grad of
other differentiable inputs]) computed in one fused pass, the gradient being that of the summed
output (of the scalar for 'mean'/'sum'). Options are keyword arguments with PyTorch's names.
"""
from .classification import (cross_entropy, cross_entropy_with_grad, nll_loss, nll_loss_with_grad)
from .classification_extra import (binary_cross_entropy, binary_cross_entropy_with_grad, binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_with_grad, sigmoid_focal_loss, sigmoid_focal_loss_with_grad, softmax_focal_loss, softmax_focal_loss_with_grad, poly1_cross_entropy, poly1_cross_entropy_with_grad)
from .distribution import kl_div, kl_div_with_grad
from .embedding import (cosine_embedding_loss, cosine_embedding_loss_with_grad, hinge_embedding_loss,
                        hinge_embedding_loss_with_grad, margin_ranking_loss, margin_ranking_loss_with_grad,
                        triplet_margin_loss, triplet_margin_loss_with_grad, triplet_margin_with_distance_loss,
                        triplet_margin_with_distance_loss_with_grad)
from .regression import (gaussian_nll_loss, gaussian_nll_loss_with_grad, huber_loss, huber_loss_with_grad, l1_loss,
                         l1_loss_with_grad, l2_loss, l2_loss_with_grad, log_cosh_loss, log_cosh_loss_with_grad, mape_loss, mape_loss_with_grad,
                         mse_loss, mse_loss_with_grad, msle_loss, msle_loss_with_grad, poisson_nll_loss,
                         poisson_nll_loss_with_grad, quantile_loss, quantile_loss_with_grad, smooth_l1_loss,
                         smooth_l1_loss_with_grad)
from .margin import (categorical_hinge_loss, categorical_hinge_loss_with_grad, hinge_loss, hinge_loss_with_grad,
                     multiclass_perceptron_loss, multiclass_perceptron_loss_with_grad,
                     multi_margin_loss, multi_margin_loss_with_grad, multilabel_margin_loss,
                     multilabel_margin_loss_with_grad, multilabel_soft_margin_loss,
                     multilabel_soft_margin_loss_with_grad, soft_margin_loss, soft_margin_loss_with_grad,
                     squared_hinge_loss, squared_hinge_loss_with_grad)
from .segmentation import dice_loss, dice_loss_with_grad

# One line per family; each loss f comes with f_with_grad.
_losses = ["cross_entropy", "nll_loss"]
_losses += ["kl_div"]
_losses += ["dice_loss"]
_losses += ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "poisson_nll_loss", "gaussian_nll_loss",
            "log_cosh_loss", "l2_loss", "quantile_loss", "msle_loss", "mape_loss"]
_losses += ["hinge_embedding_loss", "margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss",
            "triplet_margin_with_distance_loss"]
_losses += ["binary_cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss", "softmax_focal_loss",
             "poly1_cross_entropy"]
_losses += ["soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
            "hinge_loss", "squared_hinge_loss", "categorical_hinge_loss", "multiclass_perceptron_loss"]
__all__ = [n + s for n in _losses for s in ("", "_with_grad")]
