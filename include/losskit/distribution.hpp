// losskit/distribution.hpp: losses between probability distributions.
//
// Same four calls as every loss (see classification.hpp). kl_div's backward and fused calls
// can also return the gradient w.r.t. the target: pass a grad_target view, or an empty view
// (TensorView<T>{}) to skip it.
#pragma once

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
// Reference: PyTorch 1.13 aten/src/ATen/native/Loss.cpp (kl_div), torch/nn/functional.py.
// ---------------------------------------------------------------------------------------------
struct KLDivOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean, Sum or BatchMean
  bool log_target = false;                ///< target holds log-probabilities
};

void kl_div(ConstView<float> input, ConstView<float> target, TensorView<float> out, const KLDivOptions& opts = {});
void kl_div(ConstView<double> input, ConstView<double> target, TensorView<double> out, const KLDivOptions& opts = {});
Tensor<float> kl_div(ConstView<float> input, ConstView<float> target, const KLDivOptions& opts = {});
Tensor<double> kl_div(ConstView<double> input, ConstView<double> target, const KLDivOptions& opts = {});
/// grad_target may be an empty view (not wanted).
void kl_div_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
                     TensorView<float> grad_input, TensorView<float> grad_target, const KLDivOptions& opts = {});
void kl_div_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
                     TensorView<double> grad_input, TensorView<double> grad_target, const KLDivOptions& opts = {});
void kl_div_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
                             TensorView<float> grad_input, TensorView<float> grad_target,
                             const KLDivOptions& opts = {});
void kl_div_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
                             TensorView<double> grad_input, TensorView<double> grad_target,
                             const KLDivOptions& opts = {});

}  // namespace losskit
