// losskit/classification.hpp: losses over class scores (logits, log-probabilities).
//
// Every loss comes in four calls, for float and double:
//   loss(input, target, out, opts)                      forward into a caller buffer
//   loss(input, target, opts) -> Tensor                 forward into a returned tensor
//   loss_backward(grad_output, input, target, grad_input, opts)
//   loss_forward_backward(input, target, out, grad_input, opts)
// `out` is 0-d (one element) for Reduction::Mean/Sum and shaped as the per-element losses for
// Reduction::None. `grad_output` is the upstream gradient: 0-d for Mean/Sum, loss-shaped for
// None. The fused call computes the loss and the gradient of the loss with an upstream gradient
// of 1 (of ones for None) in one pass. All validation runs first: on a losskit::Error no output
// has been written.
#pragma once

#include <cstdint>
#include <span>

#include "losskit/declare.hpp"
#include "losskit/dtype.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit {

// ---------------------------------------------------------------------------------------------
// nll_loss: negative log-likelihood of log-probabilities (torch.nn.functional.nll_loss).
//
//   input  (C), (N, C) or (N, C, d1..dK): log-probabilities, class dim 1 (0 for 1-D input).
//   target (), (N) or (N, d1..dK): class ids in [0, C), or ignore_index.
//   loss_i = -w[y_i] * input[i, y_i]   (0 where y_i == ignore_index)
//   Mean: sum_i loss_i / sum_{i not ignored} w[y_i]  (NaN when every target is ignored)
//   d loss_i / d input[i, c] = -w[y_i] * [c == y_i]
// Reference: PyTorch 2.13 aten/src/ATen/native/LossNLL.cpp.
// ---------------------------------------------------------------------------------------------
template <class T>
struct NLLLossOptions {
  std::span<const T> weight{};        ///< per-class weights, length C; empty means all 1
  std::int64_t ignore_index = -100;   ///< targets equal to this contribute nothing
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

void nll_loss(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
              const NLLLossOptions<float>& opts = {});
void nll_loss(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
              const NLLLossOptions<double>& opts = {});
Tensor<float> nll_loss(ConstView<float> input, ConstView<std::int64_t> target, const NLLLossOptions<float>& opts = {});
Tensor<double> nll_loss(ConstView<double> input, ConstView<std::int64_t> target,
                        const NLLLossOptions<double>& opts = {});
void nll_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<std::int64_t> target,
                       TensorView<float> grad_input, const NLLLossOptions<float>& opts = {});
void nll_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<std::int64_t> target,
                       TensorView<double> grad_input, const NLLLossOptions<double>& opts = {});
void nll_loss_forward_backward(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
                               TensorView<float> grad_input, const NLLLossOptions<float>& opts = {});
void nll_loss_forward_backward(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
                               TensorView<double> grad_input, const NLLLossOptions<double>& opts = {});
// 16-bit log-probabilities: float32 weights, loss and grad_output; the gradient in the input's
// dtype or in float32, chosen by grad_input's type.
#define LOSSKIT_DECLARE_NLL_16(T)                                                                                 \
  void nll_loss(ConstView<T> input, ConstView<std::int64_t> target, TensorView<float> out,                       \
                const NLLLossOptions<float>& opts = {});                                                          \
  Tensor<float> nll_loss(ConstView<T> input, ConstView<std::int64_t> target, const NLLLossOptions<float>& opts = {}); \
  void nll_loss_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<std::int64_t> target,       \
                         TensorView<T> grad_input, const NLLLossOptions<float>& opts = {});                       \
  void nll_loss_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<std::int64_t> target,       \
                         TensorView<float> grad_input, const NLLLossOptions<float>& opts = {});                   \
  void nll_loss_forward_backward(ConstView<T> input, ConstView<std::int64_t> target, TensorView<float> out,      \
                                 TensorView<T> grad_input, const NLLLossOptions<float>& opts = {});               \
  void nll_loss_forward_backward(ConstView<T> input, ConstView<std::int64_t> target, TensorView<float> out,      \
                                 TensorView<float> grad_input, const NLLLossOptions<float>& opts = {});
LOSSKIT_DECLARE_NLL_16(bfloat16)
LOSSKIT_DECLARE_NLL_16(float16)
#undef LOSSKIT_DECLARE_NLL_16

// ---------------------------------------------------------------------------------------------
// cross_entropy: softmax cross-entropy of logits (torch.nn.functional.cross_entropy).
//
//   input  (C), (N, C) or (N, C, d1..dK): logits (not probabilities), class dim 1 (0 for 1-D).
//   target, one of
//     class ids  (), (N) or (N, d1..dK), int64, in [0, C) or ignore_index;
//     probabilities, the same shape as input (soft labels; ignore_index must stay negative).
//   With logp = log_softmax(input) over the class dim and e = label_smoothing:
//     class ids:      loss_i = (1-e) * (-w[y_i] logp[i,y_i]) + (e/C) * (-sum_c w[c] logp[i,c]),
//                     0 where y_i is ignored; Mean divides by sum_{i not ignored} w[y_i].
//     probabilities:  loss_i = -sum_c w[c] t'[i,c] logp[i,c], t' = (1-e) t + e/C;
//                     Mean divides by the number of positions N*d1*..*dK. Terms with t' = 0
//                     count as 0 (so -inf logits of masked classes stay finite).
//   Gradient w.r.t. the logits (class ids): (1-e) w[y](p - onehot(y)) + (e/C)(W p - w), W = sum w.
//   Gradient (probabilities): p * sum_c w[c] t'[c] - w * t'.
// Reference: PyTorch 2.13 aten/src/ATen/native/LossNLL.cpp (cross_entropy_loss_*).
// ---------------------------------------------------------------------------------------------
template <class T>
struct CrossEntropyOptions {
  std::span<const T> weight{};        ///< per-class weights, length C; empty means all 1
  std::int64_t ignore_index = -100;   ///< class-id targets equal to this contribute nothing
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  double label_smoothing = 0.0;       ///< in [0, 1]
  /// forward_backward only: when true, grad_input may be the very same view as input (the
  /// gradient then overwrites the logits, saving a buffer of N*C). Off by default.
  bool inplace_grad = false;
};

// Class-id targets.
void cross_entropy(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
                   const CrossEntropyOptions<float>& opts = {});
void cross_entropy(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
                   const CrossEntropyOptions<double>& opts = {});
Tensor<float> cross_entropy(ConstView<float> input, ConstView<std::int64_t> target,
                            const CrossEntropyOptions<float>& opts = {});
Tensor<double> cross_entropy(ConstView<double> input, ConstView<std::int64_t> target,
                             const CrossEntropyOptions<double>& opts = {});
void cross_entropy_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<std::int64_t> target,
                            TensorView<float> grad_input, const CrossEntropyOptions<float>& opts = {});
void cross_entropy_backward(ConstView<double> grad_output, ConstView<double> input,
                            ConstView<std::int64_t> target, TensorView<double> grad_input,
                            const CrossEntropyOptions<double>& opts = {});
void cross_entropy_forward_backward(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
                                    TensorView<float> grad_input, const CrossEntropyOptions<float>& opts = {});
void cross_entropy_forward_backward(ConstView<double> input, ConstView<std::int64_t> target,
                                    TensorView<double> out, TensorView<double> grad_input,
                                    const CrossEntropyOptions<double>& opts = {});

// Probability targets.
void cross_entropy(ConstView<float> input, ConstView<float> target, TensorView<float> out,
                   const CrossEntropyOptions<float>& opts = {});
void cross_entropy(ConstView<double> input, ConstView<double> target, TensorView<double> out,
                   const CrossEntropyOptions<double>& opts = {});
Tensor<float> cross_entropy(ConstView<float> input, ConstView<float> target,
                            const CrossEntropyOptions<float>& opts = {});
Tensor<double> cross_entropy(ConstView<double> input, ConstView<double> target,
                             const CrossEntropyOptions<double>& opts = {});
void cross_entropy_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
                            TensorView<float> grad_input, const CrossEntropyOptions<float>& opts = {});
void cross_entropy_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
                            TensorView<double> grad_input, const CrossEntropyOptions<double>& opts = {});
void cross_entropy_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
                                    TensorView<float> grad_input, const CrossEntropyOptions<float>& opts = {});
void cross_entropy_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
                                    TensorView<double> grad_input, const CrossEntropyOptions<double>& opts = {});
// Probability targets, with the target's gradient too (PyTorch differentiates a probability
// target): d loss_i / d t[i, c] = -(1 - e) w[c] logp[i, c] (times the upstream gradient).
LOSSKIT_DECLARE_TARGET_GRAD(cross_entropy, CrossEntropyOptions<float>, float)
LOSSKIT_DECLARE_TARGET_GRAD(cross_entropy, CrossEntropyOptions<double>, double)

// 16-bit logits (bfloat16 or float16) with class-id targets: computed in float32 (float64 row
// sums), the loss is float32, weights and grad_output are float32; the gradient is written in
// the logits' dtype (rounded to nearest even) or in float32, chosen by grad_input's type.
// inplace_grad works with a gradient in the logits' dtype.
#define LOSSKIT_DECLARE_CE_16(T)                                                                                  \
  void cross_entropy(ConstView<T> input, ConstView<std::int64_t> target, TensorView<float> out,                  \
                     const CrossEntropyOptions<float>& opts = {});                                                \
  Tensor<float> cross_entropy(ConstView<T> input, ConstView<std::int64_t> target,                                \
                              const CrossEntropyOptions<float>& opts = {});                                       \
  void cross_entropy_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<std::int64_t> target,  \
                              TensorView<T> grad_input, const CrossEntropyOptions<float>& opts = {});             \
  void cross_entropy_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<std::int64_t> target,  \
                              TensorView<float> grad_input, const CrossEntropyOptions<float>& opts = {});         \
  void cross_entropy_forward_backward(ConstView<T> input, ConstView<std::int64_t> target, TensorView<float> out, \
                                      TensorView<T> grad_input, const CrossEntropyOptions<float>& opts = {});     \
  void cross_entropy_forward_backward(ConstView<T> input, ConstView<std::int64_t> target, TensorView<float> out, \
                                      TensorView<float> grad_input, const CrossEntropyOptions<float>& opts = {});
LOSSKIT_DECLARE_CE_16(bfloat16)
LOSSKIT_DECLARE_CE_16(float16)
#undef LOSSKIT_DECLARE_CE_16

// ---------------------------------------------------------------------------------------------
// binary_cross_entropy: BCE of probabilities (torch.nn.functional.binary_cross_entropy).
//
//   input: probabilities in [0, 1] (any shape; anything outside [0, 1], NaN included, is an
//   error: for logits use binary_cross_entropy_with_logits). target: the same shape.
//   l = -w * (y * max(log x, -100) + (1 - y) * max(log(1 - x), -100))
//   Each log is clamped at -100, so l(0, 1) = 100. Mean is the plain mean (not by weights).
//   d l / d x = w * (x - y) / max(x * (1 - x), 1e-12)   (1e-12 rounded to float, as PyTorch does)
//   d l / d y = w * (log(1 - x) - log(x))   (PyTorch's -logit(x), unclamped: +inf at x = 0)
//   weight: optional, broadcast to the input's shape (NumPy rules).
// Reference: PyTorch 2.13 aten/src/ATen/native/Loss.cpp (binary_cross_entropy_*).
// ---------------------------------------------------------------------------------------------
template <class T>
struct BCEOptions {
  ConstView<T> weight{};                  ///< optional, broadcastable to the input's shape
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// The four calls, and backward / fused with the target's gradient too (PyTorch differentiates it).
LOSSKIT_DECLARE_PAIR_LOSS(binary_cross_entropy, BCEOptions<float>, float)
LOSSKIT_DECLARE_PAIR_LOSS(binary_cross_entropy, BCEOptions<double>, double)

// ---------------------------------------------------------------------------------------------
// binary_cross_entropy_with_logits (torch.nn.functional.binary_cross_entropy_with_logits).
//
//   input: logits (any shape). target: the same shape (probabilities, usually 0 or 1).
//   With sp(z) = log(1 + exp(z)) computed stably and p the pos_weight:
//   l = w * (p * y * sp(-x) + (1 - y) * sp(x))       = -w (p y log s(x) + (1-y) log s(-x))
//   d l / d x = w * ((p * y + 1 - y) * sigmoid(x) - p * y)
//   d l / d y = w * (p * sp(-x) - sp(x))   (-w x without pos_weight, as PyTorch)
//   weight and pos_weight: optional, broadcast to the input's shape (pos_weight is usually
//   (C), one per class along the last dim). Mean is the plain mean.
//   Infinite logits: a term whose coefficient is 0 counts 0, so x = +inf with y = 1 gives 0 and
//   x = -inf with y = 0 gives 0, with finite gradients 1 - y and -p y (the limits). PyTorch (1.13
//   and 2.13) gives NaN values there (pytorch#102894); elsewhere the results agree.
// Reference: PyTorch 2.13 aten/src/ATen/native/Loss.cpp (binary_cross_entropy_with_logits).
// ---------------------------------------------------------------------------------------------
template <class T>
struct BCEWithLogitsOptions {
  ConstView<T> weight{};                  ///< optional, broadcastable to the input's shape
  ConstView<T> pos_weight{};              ///< optional, broadcastable to the input's shape
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// The four calls, and backward / fused with the target's gradient too (PyTorch differentiates it).
LOSSKIT_DECLARE_PAIR_LOSS(binary_cross_entropy_with_logits, BCEWithLogitsOptions<float>, float)
LOSSKIT_DECLARE_PAIR_LOSS(binary_cross_entropy_with_logits, BCEWithLogitsOptions<double>, double)

// ---------------------------------------------------------------------------------------------
// sigmoid_focal_loss: the focal loss of RetinaNet on logits (torchvision.ops.sigmoid_focal_loss).
//
//   input: logits (any shape). target: the same shape, labels in [0, 1] (soft labels allowed).
//   p = sigmoid(x), ce = bce_with_logits(x, y), 1 - p_t = p (1 - y) + (1 - p) y,
//   l = a_t * ce * (1 - p_t)^gamma,  a_t = alpha y + (1 - alpha)(1 - y) if alpha >= 0, else 1.
//   d l / d x = a_t * ((p - y)(1 - p_t)^gamma + gamma ce (1 - p_t)^(gamma-1) (1 - 2y) p (1 - p))
//   The second term is taken as its limit 0 where p (1 - p) vanishes, so the gradient stays
//   finite for every gamma >= 0 (also 0 < gamma < 1 at saturated p, where torchvision's
//   autograd gives NaN) and at infinite logits. 1 - p_t is computed from sigmoid(-x) without
//   cancellation. Default reduction None, as in torchvision; Mean is the plain mean.
// Reference: torchvision 0.14 torchvision/ops/focal_loss.py.
// ---------------------------------------------------------------------------------------------
struct SigmoidFocalOptions {
  double alpha = 0.25;                    ///< weight of positives (usually in [0, 1]); negative disables a_t
  double gamma = 2.0;                     ///< focusing exponent, >= 0
  Reduction reduction = Reduction::None;  ///< None, Mean or Sum (torchvision's default: None)
};

void sigmoid_focal_loss(ConstView<float> input, ConstView<float> target, TensorView<float> out, const SigmoidFocalOptions& opts = {});
void sigmoid_focal_loss(ConstView<double> input, ConstView<double> target, TensorView<double> out, const SigmoidFocalOptions& opts = {});
Tensor<float> sigmoid_focal_loss(ConstView<float> input, ConstView<float> target, const SigmoidFocalOptions& opts = {});
Tensor<double> sigmoid_focal_loss(ConstView<double> input, ConstView<double> target, const SigmoidFocalOptions& opts = {});
void sigmoid_focal_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
    TensorView<float> grad_input, const SigmoidFocalOptions& opts = {});
void sigmoid_focal_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
    TensorView<double> grad_input, const SigmoidFocalOptions& opts = {});
void sigmoid_focal_loss_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
    TensorView<float> grad_input, const SigmoidFocalOptions& opts = {});
void sigmoid_focal_loss_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
    TensorView<double> grad_input, const SigmoidFocalOptions& opts = {});

// ---------------------------------------------------------------------------------------------
// softmax_focal_loss: the multi-class (categorical) focal loss on logits.
//
//   input  (C), (N, C) or (N, C, d1..dK): logits, class dim 1 (0 for 1-D), as cross_entropy.
//   target class ids (), (N), (N, d1..dK) in [0, C) or ignore_index, or probabilities of the
//   input's shape (one-hot or soft).
//   With p = softmax(x) over the class dim and t' = (1 - e) t + e / C (e = label_smoothing),
//   l_i = -sum_c a_c t'_c (1 - p_c)^gamma log p_c,   a_c = class_alpha[c] if given, else alpha.
//   Terms with t'_c = 0 count 0 (so -inf logits of masked classes stay finite).
//   d l / d x_k = h_k - p_k sum_c h_c,
//   h_c = -a_c t'_c ((1 - p_c)^gamma - gamma (1 - p_c)^(gamma-1) p_c log p_c)
//   (the second part of h taken as its limit 0 at p_c = 1 and p_c = 0, so the gradient is
//   finite for every gamma >= 0). 1 - p_c is computed as -expm1(log p_c), without cancellation.
//   Mean divides by the number of positions (kept positions for class ids), as Keras'
//   'sum_over_batch_size'.
// Reference: Keras 3 keras.losses.CategoricalFocalCrossentropy(from_logits=True, axis=1),
// i.e. keras/src/losses/losses.py categorical_focal_crossentropy, except that Keras clips p to
// [1e-7, 1 - 1e-7] (which zeroes its gradient at saturation) and losskit works in log space.
// ---------------------------------------------------------------------------------------------
template <class T>
struct SoftmaxFocalOptions {
  double alpha = 0.25;                    ///< weight of every class (Keras' scalar alpha)
  std::span<const T> class_alpha{};       ///< per-class alpha, length C (Keras' list alpha); overrides alpha
  double gamma = 2.0;                     ///< focusing exponent, >= 0
  double label_smoothing = 0.0;           ///< in [0, 1]
  std::int64_t ignore_index = -100;       ///< class-id targets equal to this contribute nothing
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// Class-id targets.
void softmax_focal_loss(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out, const SoftmaxFocalOptions<float>& opts = {});
void softmax_focal_loss(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out, const SoftmaxFocalOptions<double>& opts = {});
Tensor<float> softmax_focal_loss(ConstView<float> input, ConstView<std::int64_t> target, const SoftmaxFocalOptions<float>& opts = {});
Tensor<double> softmax_focal_loss(ConstView<double> input, ConstView<std::int64_t> target, const SoftmaxFocalOptions<double>& opts = {});
void softmax_focal_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<std::int64_t> target,
    TensorView<float> grad_input, const SoftmaxFocalOptions<float>& opts = {});
void softmax_focal_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<std::int64_t> target,
    TensorView<double> grad_input, const SoftmaxFocalOptions<double>& opts = {});
void softmax_focal_loss_forward_backward(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
    TensorView<float> grad_input, const SoftmaxFocalOptions<float>& opts = {});
void softmax_focal_loss_forward_backward(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
    TensorView<double> grad_input, const SoftmaxFocalOptions<double>& opts = {});
// Probability targets.
void softmax_focal_loss(ConstView<float> input, ConstView<float> target, TensorView<float> out, const SoftmaxFocalOptions<float>& opts = {});
void softmax_focal_loss(ConstView<double> input, ConstView<double> target, TensorView<double> out, const SoftmaxFocalOptions<double>& opts = {});
Tensor<float> softmax_focal_loss(ConstView<float> input, ConstView<float> target, const SoftmaxFocalOptions<float>& opts = {});
Tensor<double> softmax_focal_loss(ConstView<double> input, ConstView<double> target, const SoftmaxFocalOptions<double>& opts = {});
void softmax_focal_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
    TensorView<float> grad_input, const SoftmaxFocalOptions<float>& opts = {});
void softmax_focal_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
    TensorView<double> grad_input, const SoftmaxFocalOptions<double>& opts = {});
void softmax_focal_loss_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
    TensorView<float> grad_input, const SoftmaxFocalOptions<float>& opts = {});
void softmax_focal_loss_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
    TensorView<double> grad_input, const SoftmaxFocalOptions<double>& opts = {});

// ---------------------------------------------------------------------------------------------
// poly1_cross_entropy: Poly-1 loss, softmax cross-entropy plus epsilon * (1 - p_t).
//
//   input  (C), (N, C) or (N, C, d1..dK): logits, class dim 1 (0 for 1-D).
//   target probabilities of the input's shape, or class ids (), (N), (N, d1..dK) in [0, C) or
//   ignore_index (the one-hot case).
//   With p = softmax(x), logp = log_softmax(x):
//   l_i = -sum_c t_c logp_c + epsilon * sum_c t_c (1 - p_c)      (class ids: -logp_y + eps (1 - p_y))
//   d l / d x_k = p_k (sum_c t_c + eps S) - t_k - eps t_k p_k,  S = sum_c t_c p_c.
//   Default reduction None (optax returns one loss per example); Mean divides by the number of
//   positions (kept positions for class ids).
// Reference: optax optax/losses/_classification.py poly_loss_cross_entropy (epsilon = 2.0),
// Leng et al. 2022, "PolyLoss" (arXiv:2204.12511).
// ---------------------------------------------------------------------------------------------
struct Poly1Options {
  double epsilon = 2.0;                   ///< weight of the (1 - p_t) term, any finite value
  std::int64_t ignore_index = -100;       ///< class-id targets equal to this contribute nothing
  Reduction reduction = Reduction::None;  ///< None, Mean or Sum (optax: None)
};

// Class-id targets.
void poly1_cross_entropy(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out, const Poly1Options& opts = {});
void poly1_cross_entropy(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out, const Poly1Options& opts = {});
Tensor<float> poly1_cross_entropy(ConstView<float> input, ConstView<std::int64_t> target, const Poly1Options& opts = {});
Tensor<double> poly1_cross_entropy(ConstView<double> input, ConstView<std::int64_t> target, const Poly1Options& opts = {});
void poly1_cross_entropy_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<std::int64_t> target,
    TensorView<float> grad_input, const Poly1Options& opts = {});
void poly1_cross_entropy_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<std::int64_t> target,
    TensorView<double> grad_input, const Poly1Options& opts = {});
void poly1_cross_entropy_forward_backward(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
    TensorView<float> grad_input, const Poly1Options& opts = {});
void poly1_cross_entropy_forward_backward(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
    TensorView<double> grad_input, const Poly1Options& opts = {});
// Probability targets.
void poly1_cross_entropy(ConstView<float> input, ConstView<float> target, TensorView<float> out, const Poly1Options& opts = {});
void poly1_cross_entropy(ConstView<double> input, ConstView<double> target, TensorView<double> out, const Poly1Options& opts = {});
Tensor<float> poly1_cross_entropy(ConstView<float> input, ConstView<float> target, const Poly1Options& opts = {});
Tensor<double> poly1_cross_entropy(ConstView<double> input, ConstView<double> target, const Poly1Options& opts = {});
void poly1_cross_entropy_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
    TensorView<float> grad_input, const Poly1Options& opts = {});
void poly1_cross_entropy_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
    TensorView<double> grad_input, const Poly1Options& opts = {});
void poly1_cross_entropy_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
    TensorView<float> grad_input, const Poly1Options& opts = {});
void poly1_cross_entropy_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
    TensorView<double> grad_input, const Poly1Options& opts = {});

// ---------------------------------------------------------------------------------------------
// sparsemax_loss: optax's binary sparsemax loss (optax.losses.sparsemax_loss(logits, labels)).
//   z = -x where the label is nonzero (true), else x;  l = sparse_plus(z) =
//   0 (z <= -1), (z + 1)^2 / 4 (-1 < z < 1), z (z >= 1).  d l / d x = sparse_plus'(z) dz/dx with
//   sparse_plus' = 0, (z + 1) / 2, 1 on the same branches (JAX's gradient). The target holds the
//   labels in the input's dtype (0 or 1; any nonzero, NaN included, counts as 1, as jnp.where);
//   it has no gradient (d/d target is 0).
//   optax returns the element-wise losses (Reduction::None); Mean averages them, Sum adds them.
// multiclass_sparsemax_loss: optax's multiclass sparsemax loss
// (optax.losses.multiclass_sparsemax_loss(scores, labels)), one loss per row of the last dim.
//   input (N, C) scores (any rank >= 1, the classes along the last dim); target int64 class ids of
//   the input's shape without its last dim, each in [0, C) (losskit rejects others; JAX would clamp).
//   p = sparsemax(x) (the Euclidean projection of x onto the simplex, optax's sort-based
//   projection_simplex); l = sum_c p_c (x_c - x_y) + (1 - |p|^2) / 2 (the Fenchel-Young loss of
//   the Gini entropy);  d l / d x = p - onehot(y) (JAX's gradient). A NaN score makes the row's
//   loss and gradient NaN. Reduction::None is optax's per-row output.
// Reference: optax 0.2.8 optax/losses/_classification.py, jax.nn.sparse_plus,
// optax/projections (projection_simplex).
// ---------------------------------------------------------------------------------------------
struct SparsemaxLossOptions {
  Reduction reduction = Reduction::Mean;  ///< None (optax's output), Mean or Sum
};

LOSSKIT_DECLARE_PAIR_LOSS(sparsemax_loss, SparsemaxLossOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(sparsemax_loss, SparsemaxLossOptions, double)

void multiclass_sparsemax_loss(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
    const SparsemaxLossOptions& opts = {});
void multiclass_sparsemax_loss(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
    const SparsemaxLossOptions& opts = {});
Tensor<float> multiclass_sparsemax_loss(ConstView<float> input, ConstView<std::int64_t> target,
    const SparsemaxLossOptions& opts = {});
Tensor<double> multiclass_sparsemax_loss(ConstView<double> input, ConstView<std::int64_t> target,
    const SparsemaxLossOptions& opts = {});
void multiclass_sparsemax_loss_backward(ConstView<float> grad_output, ConstView<float> input,
    ConstView<std::int64_t> target, TensorView<float> grad_input, const SparsemaxLossOptions& opts = {});
void multiclass_sparsemax_loss_backward(ConstView<double> grad_output, ConstView<double> input,
    ConstView<std::int64_t> target, TensorView<double> grad_input, const SparsemaxLossOptions& opts = {});
void multiclass_sparsemax_loss_forward_backward(ConstView<float> input, ConstView<std::int64_t> target,
    TensorView<float> out, TensorView<float> grad_input, const SparsemaxLossOptions& opts = {});
void multiclass_sparsemax_loss_forward_backward(ConstView<double> input, ConstView<std::int64_t> target,
    TensorView<double> out, TensorView<double> grad_input, const SparsemaxLossOptions& opts = {});


// ---------------------------------------------------------------------------------------------
// categorical_generalized_cross_entropy: Keras 3's CategoricalGeneralizedCrossEntropy
// (keras.losses.categorical_generalized_cross_entropy(y_true, y_pred, q)), the noise-robust
// generalized cross-entropy of Zhang & Sabuncu 2018.
//   input: predicted probabilities (any rank >= 1, the classes along the last dim). target: int64
//   class ids of the input's shape without its last dim, each in [0, C) (Keras' one_hot gives a
//   zero row, p = 0, for an id out of range; losskit rejects it).
//   p = x_y (Keras: sum_c x_c onehot_c, so an inf or NaN probability off the label makes p NaN);
//   l = (1 - p^q) / q, q in (0, 1) (anything else is an error, as Keras' constructor);
//   d l / d x_c = -p^(q - 1) at c = y and 0 elsewhere, times onehot as autograd does (p = 0: -inf
//   at the label, NaN = 0 * inf off it, as Keras on torch).
//   Reduction::None is Keras' per-sample output; Mean is 'sum_over_batch_size', Sum 'sum'.
// Reference: Keras 3.15 keras/src/losses/losses.py (CategoricalGeneralizedCrossEntropy).
// ---------------------------------------------------------------------------------------------
struct GCEOptions {
  double q = 0.5;                         ///< in (0, 1)
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

void categorical_generalized_cross_entropy(ConstView<float> input, ConstView<std::int64_t> target,
    TensorView<float> out, const GCEOptions& opts = {});
void categorical_generalized_cross_entropy(ConstView<double> input, ConstView<std::int64_t> target,
    TensorView<double> out, const GCEOptions& opts = {});
Tensor<float> categorical_generalized_cross_entropy(ConstView<float> input, ConstView<std::int64_t> target,
    const GCEOptions& opts = {});
Tensor<double> categorical_generalized_cross_entropy(ConstView<double> input, ConstView<std::int64_t> target,
    const GCEOptions& opts = {});
void categorical_generalized_cross_entropy_backward(ConstView<float> grad_output, ConstView<float> input,
    ConstView<std::int64_t> target, TensorView<float> grad_input, const GCEOptions& opts = {});
void categorical_generalized_cross_entropy_backward(ConstView<double> grad_output, ConstView<double> input,
    ConstView<std::int64_t> target, TensorView<double> grad_input, const GCEOptions& opts = {});
void categorical_generalized_cross_entropy_forward_backward(ConstView<float> input, ConstView<std::int64_t> target,
    TensorView<float> out, TensorView<float> grad_input, const GCEOptions& opts = {});
void categorical_generalized_cross_entropy_forward_backward(ConstView<double> input, ConstView<std::int64_t> target,
    TensorView<double> out, TensorView<double> grad_input, const GCEOptions& opts = {});

}  // namespace losskit
