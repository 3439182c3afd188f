// losskit/regression.hpp: losses between predictions and real-valued targets.
//
// Every loss comes in four calls, for float and double (see classification.hpp):
//   loss(input, target, out, opts)                                   forward into `out`
//   loss(input, target, opts) -> Tensor                              forward into a new tensor
//   loss_backward(grad_output, input, target, grad_input[, grad_target], opts)
//   loss_forward_backward(input, target, out, grad_input[, grad_target], opts)
// `input` is the prediction and `target` has the same shape. `out` is 0-d for Mean/Sum and
// input-shaped for None; `grad_output` is the upstream gradient (0-d for Mean/Sum, input-shaped
// for None). Gradients are returned w.r.t. the input and, when a `grad_target` is passed (and is
// not an empty view), w.r.t. the target too. All validation runs first: on a losskit::Error
// no output has been written. Reductions: Mean divides the summed loss by the element count
// unless a loss says otherwise; the Mean of an empty tensor is NaN, as in PyTorch.
#pragma once

#include "losskit/declare.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit {

// ---------------------------------------------------------------------------------------------
// mse_loss: squared error (torch.nn.functional.mse_loss, including the `weight` of PyTorch >= 2.6).
//   l = w (x - y)^2          d l/dx = 2 w (x - y)          d l/dy = -2 w (x - y)
//   Mean: sum(l) / sum(w) with a weight (PyTorch's weighted mse: torch.sum(w l) / torch.sum(w)),
//   sum(l) / numel without.
// ---------------------------------------------------------------------------------------------
template <class T>
struct MSELossOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  ConstView<T> weight{};                  ///< optional per-element weight, input-shaped
};

// ---------------------------------------------------------------------------------------------
// l1_loss: absolute error (torch.nn.functional.l1_loss, including the `weight` of PyTorch >= 2.6).
//   l = w |x - y|            d l/dx = w sign(x - y) (0 at x == y, as PyTorch's sgn)
//   Mean: sum(l) / sum(w) with a weight, sum(l) / numel without (as PyTorch).
// ---------------------------------------------------------------------------------------------
template <class T>
struct L1LossOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  ConstView<T> weight{};                  ///< optional per-element weight, input-shaped
};

// ---------------------------------------------------------------------------------------------
// huber_loss (torch.nn.functional.huber_loss, including the `weight` of PyTorch >= 2.6).
//   d = x - y;  l = w * (0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta))
//   d l/dx = w clamp(d, -delta, delta);  huber(delta) == delta * smooth_l1(beta = delta).
//   Mean: sum(l) / numel, with or without a weight (PyTorch's weighted huber uses
//   (w l).mean(), not a division by sum(w)). delta must be > 0.
// ---------------------------------------------------------------------------------------------
template <class T>
struct HuberLossOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  double delta = 1.0;                     ///< > 0: where the loss turns from quadratic to linear
  ConstView<T> weight{};                  ///< optional per-element weight, input-shaped
};

// ---------------------------------------------------------------------------------------------
// smooth_l1_loss (torch.nn.functional.smooth_l1_loss).
//   d = x - y;  l = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta
//   d l/dx = clamp(d / beta, -1, 1). beta == 0 is exactly l1_loss; beta < 0 is an error.
// ---------------------------------------------------------------------------------------------
struct SmoothL1LossOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  double beta = 1.0;                      ///< >= 0
};

// ---------------------------------------------------------------------------------------------
// poisson_nll_loss: Poisson negative log-likelihood (torch.nn.functional.poisson_nll_loss).
//   log_input:  l = exp(x) - y x                  dl/dx = exp(x) - y        dl/dy = -x
//   otherwise:  l = x - y log(x + eps)            dl/dx = 1 - y / (x + eps)  dl/dy = -log(x + eps)
//   full adds the Stirling term y log y - y + 0.5 log(2 pi y) where y > 1 (0 elsewhere), whose
//   target gradient is log y + 1/(2y) where y > 1 and 0 elsewhere (PyTorch's autograd gives NaN
//   at y == 0 there; losskit gives 0). A zero count contributes y x = 0 even at x = -inf (and
//   y log(x + eps) = 0 at x + eps = 0), where PyTorch's 0 * inf gives NaN.
// ---------------------------------------------------------------------------------------------
struct PoissonNLLLossOptions {
  bool log_input = true;                  ///< the input is log(rate) (else the rate itself)
  bool full = false;                      ///< add the Stirling approximation term
  double eps = 1e-8;                      ///< added inside the log when !log_input
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// ---------------------------------------------------------------------------------------------
// log_cosh: log(cosh(x - y)) (optax.losses.log_cosh(predictions, targets)), computed stably as
//   |d| + log1p(exp(-2|d|)) - log 2, exact at |d| = 500 and beyond.  dl/dx = tanh(d).
//   optax returns the element-wise losses (Reduction::None); Mean is their plain mean.
// ---------------------------------------------------------------------------------------------
struct LogCoshLossOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// ---------------------------------------------------------------------------------------------
// l2_loss: half the squared error (optax.losses.l2_loss(predictions, targets)).
//   l = 0.5 (x - y)^2;  dl/dx = x - y,  dl/dy = y - x.
//   optax returns the element-wise losses (Reduction::None); Mean is their plain mean, Sum their
//   sum (optax's l2_loss(...).sum()). Reference: optax/losses/_regression.py.
// ---------------------------------------------------------------------------------------------
struct L2LossOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// ---------------------------------------------------------------------------------------------
// quantile_loss: pinball loss at quantile tau (TensorFlow Addons tfa.losses.pinball_loss,
// Keras-style: y_true = target, y_pred = input).
//   e = y - x;  l = tau e if e >= 0 else (tau - 1) e   (== max(tau e, (tau - 1) e))
//   dl/dx = -tau if e >= 0 else 1 - tau   (at e == 0 the tau branch, as TF's maximum)
//   TFA averages over the last axis per sample, then over the batch: that is this Mean (every
//   sample has the same last-axis length). None returns element-wise losses.
// ---------------------------------------------------------------------------------------------
struct QuantileLossOptions {
  double tau = 0.5;                       ///< the quantile, in [0, 1]
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// ---------------------------------------------------------------------------------------------
// msle_loss: mean squared logarithmic error (keras.losses.mean_squared_logarithmic_error).
//   l = (log(max(x, eps) + 1) - log(max(y, eps) + 1))^2
//   dl/dx = 2 (lx - ly) / (max(x, eps) + 1) where x >= eps, else 0 (the clamp stops it).
//   Keras averages over the last axis per sample then over the batch: that is this Mean.
//   None returns element-wise losses (Keras's per-sample value is their mean over the last axis).
// ---------------------------------------------------------------------------------------------
struct MSLELossOptions {
  double eps = 1e-7;                      ///< keras.config.epsilon()
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// ---------------------------------------------------------------------------------------------
// mape_loss: mean absolute percentage error (keras.losses.mean_absolute_percentage_error).
//   l = 100 |y - x| / max(|y|, eps)      dl/dx = 100 sign(x - y) / max(|y|, eps)
//   Same reduction convention as msle_loss (Mean == Keras's value).
// ---------------------------------------------------------------------------------------------
struct MAPELossOptions {
  double eps = 1e-7;                      ///< keras.config.epsilon()
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

LOSSKIT_DECLARE_PAIR_LOSS(mse_loss, MSELossOptions<float>, float)
LOSSKIT_DECLARE_PAIR_LOSS(mse_loss, MSELossOptions<double>, double)
LOSSKIT_DECLARE_PAIR_LOSS(l1_loss, L1LossOptions<float>, float)
LOSSKIT_DECLARE_PAIR_LOSS(l1_loss, L1LossOptions<double>, double)
LOSSKIT_DECLARE_PAIR_LOSS(huber_loss, HuberLossOptions<float>, float)
LOSSKIT_DECLARE_PAIR_LOSS(huber_loss, HuberLossOptions<double>, double)
LOSSKIT_DECLARE_PAIR_LOSS(smooth_l1_loss, SmoothL1LossOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(smooth_l1_loss, SmoothL1LossOptions, double)
LOSSKIT_DECLARE_PAIR_LOSS(poisson_nll_loss, PoissonNLLLossOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(poisson_nll_loss, PoissonNLLLossOptions, double)
LOSSKIT_DECLARE_PAIR_LOSS(log_cosh_loss, LogCoshLossOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(log_cosh_loss, LogCoshLossOptions, double)
LOSSKIT_DECLARE_PAIR_LOSS(l2_loss, L2LossOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(l2_loss, L2LossOptions, double)
LOSSKIT_DECLARE_PAIR_LOSS(quantile_loss, QuantileLossOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(quantile_loss, QuantileLossOptions, double)
LOSSKIT_DECLARE_PAIR_LOSS(msle_loss, MSLELossOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(msle_loss, MSLELossOptions, double)
LOSSKIT_DECLARE_PAIR_LOSS(mape_loss, MAPELossOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(mape_loss, MAPELossOptions, double)

// ---------------------------------------------------------------------------------------------
// gaussian_nll_loss: Gaussian negative log-likelihood (torch.nn.functional.gaussian_nll_loss).
//   var (PyTorch 2.x's forms): the input's shape (heteroscedastic); that shape without its last
//   dim (one variance per row, broadcast along it); or the input's ndim with exactly one dim
//   that differs, where var has extent 1 (e.g. (N, 1, H, W) for (N, C, H, W)). Anything else is
//   a Value error ("var is of incorrect size" in PyTorch). target broadcasts against the input
//   (NumPy rules: (5) against (1), (N, D) against (N, 1), ...); the loss takes the broadcast shape.
//   v = max(var, eps);  l = 0.5 (log v + (x - y)^2 / v)  (+ 0.5 log(2 pi) when full)
//   dl/dx = (x - y) / v,  dl/dy = -(x - y) / v,  dl/dvar = 0.5 (1/v - (x - y)^2 / v^2), each
//   summed over the dims along which its operand was broadcast. As in PyTorch, the clamp is
//   not differentiated: the var gradient flows through it as if it were not there.
//   Any var < 0 is an error. Loss shape (None): the broadcast shape of input and target.
// grad_target and grad_var may be empty views (not wanted).
// ---------------------------------------------------------------------------------------------
struct GaussianNLLLossOptions {
  bool full = false;                      ///< add 0.5 log(2 pi)
  double eps = 1e-6;                      ///< lower clamp of var
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

#define LOSSKIT_DECLARE_GAUSSIAN_NLL(T)                                                                      \
  void gaussian_nll_loss(ConstView<T> input, ConstView<T> target, ConstView<T> var, TensorView<T> out,      \
                         const GaussianNLLLossOptions& opts = {});                                          \
  Tensor<T> gaussian_nll_loss(ConstView<T> input, ConstView<T> target, ConstView<T> var,                   \
                              const GaussianNLLLossOptions& opts = {});                                     \
  void gaussian_nll_loss_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,         \
                                  ConstView<T> var, TensorView<T> grad_input, TensorView<T> grad_target,    \
                                  TensorView<T> grad_var, const GaussianNLLLossOptions& opts = {});         \
  void gaussian_nll_loss_forward_backward(ConstView<T> input, ConstView<T> target, ConstView<T> var,       \
                                          TensorView<T> out, TensorView<T> grad_input,                      \
                                          TensorView<T> grad_target, TensorView<T> grad_var,                \
                                          const GaussianNLLLossOptions& opts = {});
LOSSKIT_DECLARE_GAUSSIAN_NLL(float)
LOSSKIT_DECLARE_GAUSSIAN_NLL(double)
#undef LOSSKIT_DECLARE_GAUSSIAN_NLL

}  // namespace losskit

#undef LOSSKIT_DECLARE_PAIR_LOSS
