// losskit/distribution.hpp: losses between probability distributions.
//
// Same four calls as every loss (see classification.hpp). kl_div's backward and fused calls
// can also return the gradient w.r.t. the target: pass a grad_target view (the calls without
// one, or with an empty view, skip it).
#pragma once

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

}  // namespace losskit
