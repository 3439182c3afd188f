// losskit/sequence.hpp: losses over sequences.
//
// Same four calls as every loss (see classification.hpp), with the sequence lengths after the
// targets.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit {

// ---------------------------------------------------------------------------------------------
// ctc_loss: Connectionist Temporal Classification, with torch.nn.functional.ctc_loss semantics.
//
//   log_probs      (T, N, C) log-probabilities (any strides), or (T, C) for one unbatched sequence.
//   targets        int64, padded (N, S) with S >= max target length (entries past a sequence's
//                  length are ignored), or the N sequences concatenated in 1-D, exactly
//                  sum(target_lengths) long. Unbatched: 1-D, exactly target_lengths[0] long, or (1, S).
//   input_lengths  N values in [0, T]; target_lengths N values >= 0 (1 value each when unbatched).
//   Ids must lie in [0, C) and differ from `blank`.
//
//   With l' the target with a blank before, between and after its labels (2L + 1 states), the loss
//   of sequence n is  -log sum over the alignments a of l' to T_n steps of prod_t p_t(a_t),
//   computed in log space by the forward (alpha) recursion; Graves et al. 2006.
//   Reductions: None gives the N losses (0-d when unbatched); Sum their sum; Mean the mean over
//   the batch of loss_n / max(L_n, 1) (PyTorch's). A sequence whose target cannot fit its
//   input (T_n < L_n + the number of repeated neighbours) has loss +inf; zero_infinity turns it
//   (and its gradient) into 0. T_n = 0 gives -0.0 for an empty target.
//
//   Gradient: PyTorch's,  d loss_n / d log_probs[t, n, c] = exp(log_probs[t, n, c]) - gamma_t(c)
//   for t < T_n (0 after), where gamma_t(c) = sum over states s with l'_s = c of
//   exp(alpha_t(s) + beta_t(s) + loss_n - log_probs[t, n, c]) is the posterior occupancy of c at t.
//   This is the gradient with respect to the logits when log_probs = log_softmax(logits) (then
//   sum_c exp(log_probs) = 1 and the softmax Jacobian adds nothing), not the partial derivative
//   with respect to log_probs (which is -gamma_t(c)); docs/losses/ctc_loss.md. As in PyTorch, an
//   infinite loss without zero_infinity gives NaN gradients (t < T_n), a non-finite loss NaN
//   gradients, and log_probs = -inf a NaN gradient at that entry.
// Reference: PyTorch aten/src/ATen/native/LossCTC.cpp; Graves et al., ICML 2006.
// ---------------------------------------------------------------------------------------------
struct CtcLossOptions {
  std::int64_t blank = 0;                 ///< the blank label, in [0, C)
  Reduction reduction = Reduction::Mean;  ///< None, Mean (per target length, then batch) or Sum
  bool zero_infinity = false;             ///< infinite losses (and their gradients) become 0
};

void ctc_loss(ConstView<float> log_probs, ConstView<std::int64_t> targets,
              std::span<const std::int64_t> input_lengths, std::span<const std::int64_t> target_lengths,
              TensorView<float> out, const CtcLossOptions& opts = {});
void ctc_loss(ConstView<double> log_probs, ConstView<std::int64_t> targets,
              std::span<const std::int64_t> input_lengths, std::span<const std::int64_t> target_lengths,
              TensorView<double> out, const CtcLossOptions& opts = {});
Tensor<float> ctc_loss(ConstView<float> log_probs, ConstView<std::int64_t> targets,
                       std::span<const std::int64_t> input_lengths, std::span<const std::int64_t> target_lengths,
                       const CtcLossOptions& opts = {});
Tensor<double> ctc_loss(ConstView<double> log_probs, ConstView<std::int64_t> targets,
                        std::span<const std::int64_t> input_lengths, std::span<const std::int64_t> target_lengths,
                        const CtcLossOptions& opts = {});
void ctc_loss_backward(ConstView<float> grad_output, ConstView<float> log_probs, ConstView<std::int64_t> targets,
                       std::span<const std::int64_t> input_lengths, std::span<const std::int64_t> target_lengths,
                       TensorView<float> grad_log_probs, const CtcLossOptions& opts = {});
void ctc_loss_backward(ConstView<double> grad_output, ConstView<double> log_probs, ConstView<std::int64_t> targets,
                       std::span<const std::int64_t> input_lengths, std::span<const std::int64_t> target_lengths,
                       TensorView<double> grad_log_probs, const CtcLossOptions& opts = {});
void ctc_loss_forward_backward(ConstView<float> log_probs, ConstView<std::int64_t> targets,
                               std::span<const std::int64_t> input_lengths,
                               std::span<const std::int64_t> target_lengths, TensorView<float> out,
                               TensorView<float> grad_log_probs, const CtcLossOptions& opts = {});
void ctc_loss_forward_backward(ConstView<double> log_probs, ConstView<std::int64_t> targets,
                               std::span<const std::int64_t> input_lengths,
                               std::span<const std::int64_t> target_lengths, TensorView<double> out,
                               TensorView<double> grad_log_probs, const CtcLossOptions& opts = {});

/// The sequences whose target cannot be aligned to their input: input_lengths[n] < L_n + r_n,
/// where r_n counts neighbouring equal labels (each needs a blank between). Their ctc_loss is
/// +inf (0 with zero_infinity). targets as for ctc_loss (padded (N, S) or concatenated 1-D);
/// the lengths are validated as there. Returns the batch indices in increasing order.
std::vector<std::int64_t> ctc_infeasible(ConstView<std::int64_t> targets, std::span<const std::int64_t> input_lengths,
                                         std::span<const std::int64_t> target_lengths);

}  // namespace losskit
