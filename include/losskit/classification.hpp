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
// Reference: PyTorch 1.13 aten/src/ATen/native/LossNLL.cpp.
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
// Reference: PyTorch 1.13 aten/src/ATen/native/LossNLL.cpp (cross_entropy_loss_*).
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

}  // namespace losskit
