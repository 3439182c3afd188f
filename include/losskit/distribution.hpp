// losskit/distribution.hpp: losses between probability distributions.
//
// Same four calls as every loss (see classification.hpp). The backward and fused calls can also
// return the gradient w.r.t. the target: pass a grad_target view (the calls without one, or with
// an empty view, skip it).
#pragma once

#include <cstdint>

#include "losskit/dtype.hpp"
#include "losskit/declare.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit {

// ---------------------------------------------------------------------------------------------
// kl_div: Kullback-Leibler divergence KL(target || exp(input)) (torch.nn.functional.kl_div).
//
//   input: log-probabilities log q (any shape). target: the same shape, probabilities p
//   (log-probabilities log p when log_target).
//   pointwise   l = p (log p - input)        (0 where p == 0, also when input is -inf)
//   log_target  l = exp(t) (t - input)       (0 where t == -inf, also when input is -inf)
//   Mean divides by the number of elements, BatchMean by input.size(0) (the true KL per sample).
//   d l / d input  = -p                 (log_target: -exp(t))
//   d l / d target = log p + 1 - input  (0 where p == 0; log_target: exp(t)(t - input + 1), 0 where
//                                        t == -inf)
//   A negative p gives NaN, as in PyTorch.
// Reference: PyTorch 2.13 aten/src/ATen/native/Loss.cpp (kl_div), torch/nn/functional.py.
// ---------------------------------------------------------------------------------------------
struct KLDivOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean, Sum or BatchMean
  bool log_target = false;                ///< target holds log-probabilities
};

// The four calls; backward and fused with or without grad_target (an empty view: not wanted).
LOSSKIT_DECLARE_PAIR_LOSS(kl_div, KLDivOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(kl_div, KLDivOptions, double)

// 16-bit inputs (bfloat16 / float16 log-probabilities and targets): computed in float32, the
// loss and grad_output are float32; the gradients are in the inputs' dtype or in float32, as
// chosen by the type of grad_input / grad_target.
#define LOSSKIT_DECLARE_KL_16(T)                                                                                  \
  void kl_div(ConstView<T> input, ConstView<T> target, TensorView<float> out, const KLDivOptions& opts = {});   \
  Tensor<float> kl_div(ConstView<T> input, ConstView<T> target, const KLDivOptions& opts = {});                 \
  void kl_div_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<T> target,                   \
                       TensorView<T> grad_input, TensorView<T> grad_target, const KLDivOptions& opts = {});      \
  void kl_div_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<T> target,                   \
                       TensorView<float> grad_input, TensorView<float> grad_target, const KLDivOptions& opts = {}); \
  void kl_div_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<float> out,                  \
                               TensorView<T> grad_input, TensorView<T> grad_target, const KLDivOptions& opts = {}); \
  void kl_div_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<float> out,                  \
                               TensorView<float> grad_input, TensorView<float> grad_target,                      \
                               const KLDivOptions& opts = {});
LOSSKIT_DECLARE_KL_16(bfloat16)
LOSSKIT_DECLARE_KL_16(float16)
#undef LOSSKIT_DECLARE_KL_16

// ---------------------------------------------------------------------------------------------
// jsd: generalized Jensen-Shannon divergence of Liger Kernel (LigerJSD / liger_jsd), for
// distillation: input = log q (student), target = log p (teacher), both (BT, V) log-probabilities.
//
//   m = beta p + (1 - beta) q
//   0 < beta < 1  l = beta p (log p - log m) + (1 - beta) q (log q - log m)
//                   = beta KL(p || m) + (1 - beta) KL(q || m) summed over the vocabulary
//   beta = 0      l = p (log p - log q)   forward KL(p || q)   (Liger's special case: the formula
//   beta = 1      l = q (log q - log p)   reverse KL(q || p)    above would give 0 at both ends)
//   The result is the sum over the rows that are kept divided by their number (Liger's
//   normalization): a row is dropped when shift_labels (optional, (BT,)) holds ignore_index
//   there; without shift_labels every row is kept. Dropped rows give 0 loss and 0 gradients
//   (their values are never read); with no row kept (empty batch or all dropped) the loss is 0.
//   d l / d input  = (1 - beta) q (log q - log m)   (beta = 0: -p; beta = 1: q (log q - log p + 1))
//   d l / d target = beta p (log p - log m)          (beta = 0: p (log p - log q + 1); beta = 1: -q)
//   (Liger gives the input's gradient only; the target's is the exact derivative of the same value.)
//   A zero probability (log-probability -inf) counts 0 in the value and both gradients (0 log 0 = 0),
//   where Liger's kernel gives NaN (0 * inf); NaN inputs, and +inf against -inf, give NaN.
//   shift_labels is only compared with ignore_index (any other value keeps the row), as in Liger.
//   The output is always a scalar (0-d); the upstream gradient is 0-d too.
// Reference: Liger Kernel 0.8.5 liger_kernel/ops/jsd.py (_jsd_kernel, LigerJSDFunction).
// ---------------------------------------------------------------------------------------------
struct JSDOptions {
  double beta = 0.5;                          ///< in [0, 1]
  std::int64_t ignore_index = -100;           ///< the label of a dropped row
  ConstView<std::int64_t> shift_labels{};     ///< optional, (BT,); empty: every row kept
};

LOSSKIT_DECLARE_PAIR_LOSS(jsd, JSDOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(jsd, JSDOptions, double)

// ---------------------------------------------------------------------------------------------
// tvd: total variation distance of Liger Kernel (LigerTVDLoss / liger_tvd) between two (BT, V)
// rows of probabilities: input p and target q.
//
//   l = |p - q| / 2 per element; summed over the vocabulary it is the distance of the two rows.
//   Rows whose shift_labels (optional, (BT,)) entry equals ignore_index are dropped: 0 loss (also
//   in the None output) and 0 gradients, their values never read. Reductions over the kept rows:
//   None       per-element losses, (BT, V)
//   Sum        the sum
//   Mean       the sum / (kept rows * V)
//   BatchMean  the sum / kept rows (the mean distance per row; the default, as LigerTVDLoss)
//   With no row kept Mean and BatchMean give 0 (Liger divides by zero in Python there).
//   d l / d input  = sign(p - q) / 2, 0 where p == q (Liger's gradient)
//   d l / d target = -sign(p - q) / 2 (Liger gives the input's gradient only)
//   NaN gives NaN in the value and the gradients (Liger's kernel writes -1/2 as the gradient of a
//   NaN, its comparisons being false). shift_labels is only compared with ignore_index.
// Reference: Liger Kernel 0.8.5 liger_kernel/ops/tvd.py (_tv_distance_kernel, LigerTVDLossFunction).
// ---------------------------------------------------------------------------------------------
struct TVDOptions {
  Reduction reduction = Reduction::BatchMean;  ///< None, Mean, Sum or BatchMean
  std::int64_t ignore_index = -100;            ///< the label of a dropped row
  ConstView<std::int64_t> shift_labels{};      ///< optional, (BT,); empty: every row kept
};

LOSSKIT_DECLARE_PAIR_LOSS(tvd, TVDOptions, float)
LOSSKIT_DECLARE_PAIR_LOSS(tvd, TVDOptions, double)

// ---------------------------------------------------------------------------------------------
// generalized_kl_divergence: optax's generalized Kullback-Leibler divergence
// (optax.losses.generalized_kl_divergence; convex_kl_divergence is its deprecated alias), the
// Bregman divergence of f(t) = t log t - t, for unnormalized distributions.
//
//   input: log-predictions x (any rank >= 1, the distribution along the last dim). target: t, the
//   same shape (nonnegative; optax expects it strictly positive).
//   per row  l = sum_c t_c (log t_c - x_c) + sum_c (exp(x_c) - t_c)   (log t_c read as 0 where
//            t_c == 0, as optax's jnp.where; so t = 0 against x = -inf gives 0 * inf = NaN there,
//            and a negative t gives NaN, as in optax)
//   where (optional, the input's shape): only the entries where it is nonzero count (optax's
//   jnp.sum(where=...)); the others give 0 loss and 0 gradient and are never read.
//   d l / d x_c = exp(x_c) - t_c (JAX's gradient). The target's gradient is not computed.
//   optax returns the per-row losses (Reduction::None); Mean averages the rows, Sum adds them.
// Reference: optax 0.2.8 optax/losses/_classification.py (generalized_kl_divergence, kl_divergence).
// ---------------------------------------------------------------------------------------------
template <class T>
struct GeneralizedKLOptions {
  Reduction reduction = Reduction::Mean;  ///< None (optax's output), Mean or Sum
  ConstView<T> where{};                   ///< optional mask shaped like the input; empty: every entry
};

void generalized_kl_divergence(ConstView<float> input, ConstView<float> target, TensorView<float> out,
                               const GeneralizedKLOptions<float>& opts = {});
void generalized_kl_divergence(ConstView<double> input, ConstView<double> target, TensorView<double> out,
                               const GeneralizedKLOptions<double>& opts = {});
Tensor<float> generalized_kl_divergence(ConstView<float> input, ConstView<float> target,
                                        const GeneralizedKLOptions<float>& opts = {});
Tensor<double> generalized_kl_divergence(ConstView<double> input, ConstView<double> target,
                                         const GeneralizedKLOptions<double>& opts = {});
void generalized_kl_divergence_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
                                        TensorView<float> grad_input, const GeneralizedKLOptions<float>& opts = {});
void generalized_kl_divergence_backward(ConstView<double> grad_output, ConstView<double> input,
                                        ConstView<double> target, TensorView<double> grad_input,
                                        const GeneralizedKLOptions<double>& opts = {});
void generalized_kl_divergence_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
                                                TensorView<float> grad_input,
                                                const GeneralizedKLOptions<float>& opts = {});
void generalized_kl_divergence_forward_backward(ConstView<double> input, ConstView<double> target,
                                                TensorView<double> out, TensorView<double> grad_input,
                                                const GeneralizedKLOptions<double>& opts = {});

}  // namespace losskit
