// losskit/margin.hpp: margin and hinge losses over scores (PyTorch's soft / multi-margin losses
// the Keras hinges and optax's multi-class perceptron loss).
//
// Same four calls per loss, for float and double, as every loss (see classification.hpp):
// forward into a buffer, forward returning a Tensor, backward with the upstream gradient, and
// the fused forward_backward. All validation runs first: on a losskit::Error no output has been
// written.
#pragma once

#include <cstdint>
#include <span>

#include "losskit/declare.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit {

// ---------------------------------------------------------------------------------------------
// soft_margin_loss: two-class logistic loss (torch.nn.functional.soft_margin_loss).
//
//   input: scores (any shape). target: the same shape, labels (usually -1 or 1).
//   l = log(1 + exp(-y x)),   d l / d x = -y sigmoid(-y x).   Mean is the plain mean.
//   Computed stably: PyTorch (1.13 and 2.13) evaluates log1p(exp(-y x)) literally and gives inf (value)
//   and NaN (gradient) once exp overflows (-y x > 88 in float); losskit gives -y x and -y there.
// Reference: PyTorch 2.13 aten/src/ATen/native/Loss.cpp (soft_margin_loss).
// ---------------------------------------------------------------------------------------------
struct SoftMarginOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

void soft_margin_loss(ConstView<float> input, ConstView<float> target, TensorView<float> out, const SoftMarginOptions& opts = {});
void soft_margin_loss(ConstView<double> input, ConstView<double> target, TensorView<double> out, const SoftMarginOptions& opts = {});
Tensor<float> soft_margin_loss(ConstView<float> input, ConstView<float> target, const SoftMarginOptions& opts = {});
Tensor<double> soft_margin_loss(ConstView<double> input, ConstView<double> target, const SoftMarginOptions& opts = {});
void soft_margin_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
    TensorView<float> grad_input, const SoftMarginOptions& opts = {});
void soft_margin_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
    TensorView<double> grad_input, const SoftMarginOptions& opts = {});
void soft_margin_loss_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
    TensorView<float> grad_input, const SoftMarginOptions& opts = {});
void soft_margin_loss_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
    TensorView<double> grad_input, const SoftMarginOptions& opts = {});

// ---------------------------------------------------------------------------------------------
// multilabel_soft_margin_loss: one-vs-all logistic loss (torch.nn.functional.multilabel_soft_margin_loss).
//
//   input (C) or (N, C) (any rank: the class dim is the last). target: the same shape, labels in [0, 1].
//   l_n = (1/C) sum_c w_c (y_c sp(-x_c) + (1 - y_c) sp(x_c)),  sp(z) = log(1 + exp(z)) (stable)
//   d l_n / d x_c = w_c (sigmoid(x_c) - y_c) / C.
//   None gives one loss per row (the input's shape without its last dim); Mean averages rows.
//   weight: optional, broadcast to the input's shape (usually (C)). A term whose coefficient
//   is 0 counts 0, so infinite logits on the right side give 0, not NaN.
// Reference: PyTorch 2.13 torch/nn/functional.py (multilabel_soft_margin_loss).
// ---------------------------------------------------------------------------------------------
template <class T>
struct MultilabelSoftMarginOptions {
  ConstView<T> weight{};                  ///< optional, broadcastable to the input's shape
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// The four calls, and backward / fused with the target's gradient too: d l_n / d y_c = -w_c x_c / C.
LOSSKIT_DECLARE_PAIR_LOSS(multilabel_soft_margin_loss, MultilabelSoftMarginOptions<float>, float)
LOSSKIT_DECLARE_PAIR_LOSS(multilabel_soft_margin_loss, MultilabelSoftMarginOptions<double>, double)

// ---------------------------------------------------------------------------------------------
// multi_margin_loss: multi-class hinge loss (torch.nn.functional.multi_margin_loss).
//
//   input (C) or (N, C): scores. target () or (1) for 1-D input, (N) for 2-D: class ids in [0, C).
//   l_n = (1/C) sum_{j != y} w[y] * max(0, margin - x_y + x_j)^p,   p in {1, 2}
//   (the weight multiplies after the power). Mean is the plain mean over N (not by weights);
//   an empty batch gives NaN (PyTorch 1.13 and 2.13 return uninitialised memory there).
//   d l_n / d x_j = w[y] p z_j^(p-1) / C for j != y with z_j = margin - x_y + x_j > 0, and
//   d l_n / d x_y = -sum_j of those.
//   weight must have C entries (PyTorch does not check its length).
// Reference: PyTorch 2.13 aten/src/ATen/native/LossMultiMargin.cpp.
// ---------------------------------------------------------------------------------------------
template <class T>
struct MultiMarginOptions {
  int p = 1;                              ///< 1 or 2
  double margin = 1.0;                    ///< any finite value
  std::span<const T> weight{};            ///< per-class weights, length C; empty means all 1
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

void multi_margin_loss(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out, const MultiMarginOptions<float>& opts = {});
void multi_margin_loss(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out, const MultiMarginOptions<double>& opts = {});
Tensor<float> multi_margin_loss(ConstView<float> input, ConstView<std::int64_t> target, const MultiMarginOptions<float>& opts = {});
Tensor<double> multi_margin_loss(ConstView<double> input, ConstView<std::int64_t> target, const MultiMarginOptions<double>& opts = {});
void multi_margin_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<std::int64_t> target,
    TensorView<float> grad_input, const MultiMarginOptions<float>& opts = {});
void multi_margin_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<std::int64_t> target,
    TensorView<double> grad_input, const MultiMarginOptions<double>& opts = {});
void multi_margin_loss_forward_backward(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
    TensorView<float> grad_input, const MultiMarginOptions<float>& opts = {});
void multi_margin_loss_forward_backward(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
    TensorView<double> grad_input, const MultiMarginOptions<double>& opts = {});

// ---------------------------------------------------------------------------------------------
// multilabel_margin_loss: multi-label hinge loss (torch.nn.functional.multilabel_margin_loss).
//
//   input (C) or (N, C): scores. target: int64, the input's shape, each row a list of class ids
//   padded with -1: the labels of a row are its entries before the first -1. Every entry must
//   lie in [-1, C) (also after the first -1, as in PyTorch).
//   l_n = (1/C) sum_{j in labels} sum_{i not a label} max(0, 1 - (x_j - x_i))
//   (a label listed twice counts twice, as in PyTorch). Mean is the plain mean over N; an empty
//   batch gives NaN.
//   d l_n / d x_i = (1/C) #{j : 1 - x_j + x_i > 0} for non-labels i, minus the same count over
//   non-labels for each listed label j.
// Reference: PyTorch 2.13 aten/src/ATen/native/LossMultiLabelMargin.cpp.
// ---------------------------------------------------------------------------------------------
struct MultilabelMarginOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

void multilabel_margin_loss(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out, const MultilabelMarginOptions& opts = {});
void multilabel_margin_loss(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out, const MultilabelMarginOptions& opts = {});
Tensor<float> multilabel_margin_loss(ConstView<float> input, ConstView<std::int64_t> target, const MultilabelMarginOptions& opts = {});
Tensor<double> multilabel_margin_loss(ConstView<double> input, ConstView<std::int64_t> target, const MultilabelMarginOptions& opts = {});
void multilabel_margin_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<std::int64_t> target,
    TensorView<float> grad_input, const MultilabelMarginOptions& opts = {});
void multilabel_margin_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<std::int64_t> target,
    TensorView<double> grad_input, const MultilabelMarginOptions& opts = {});
void multilabel_margin_loss_forward_backward(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
    TensorView<float> grad_input, const MultilabelMarginOptions& opts = {});
void multilabel_margin_loss_forward_backward(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
    TensorView<double> grad_input, const MultilabelMarginOptions& opts = {});

// ---------------------------------------------------------------------------------------------
// hinge_loss, squared_hinge_loss: Keras' binary hinges (keras.losses.hinge / squared_hinge).
//
//   input: scores (any rank >= 1, the last dim is averaged). target: the same shape, labels in
//   {-1, 1}; when every label of the target is 0 or 1, labels are converted to 2y - 1 first (as
//   Keras does, deciding for the whole tensor).
//   hinge:          l_n = mean_c max(0, 1 - y_c x_c)        d/dx_c = -y_c / C where 1 - y_c x_c > 0
//   squared_hinge:  l_n = mean_c max(0, 1 - y_c x_c)^2      d/dx_c = -2 y_c max(0, 1 - y_c x_c) / C
//   None gives one loss per row (the input's shape without its last dim); Mean averages the
//   rows (Keras' 'sum_over_batch_size'). Subgradient 0 at the kink.
// Reference: Keras 3 keras/src/losses/losses.py (hinge, squared_hinge,
// convert_binary_labels_to_hinge).
// ---------------------------------------------------------------------------------------------
struct HingeOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

void hinge_loss(ConstView<float> input, ConstView<float> target, TensorView<float> out, const HingeOptions& opts = {});
void hinge_loss(ConstView<double> input, ConstView<double> target, TensorView<double> out, const HingeOptions& opts = {});
Tensor<float> hinge_loss(ConstView<float> input, ConstView<float> target, const HingeOptions& opts = {});
Tensor<double> hinge_loss(ConstView<double> input, ConstView<double> target, const HingeOptions& opts = {});
void hinge_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
    TensorView<float> grad_input, const HingeOptions& opts = {});
void hinge_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
    TensorView<double> grad_input, const HingeOptions& opts = {});
void hinge_loss_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
    TensorView<float> grad_input, const HingeOptions& opts = {});
void hinge_loss_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
    TensorView<double> grad_input, const HingeOptions& opts = {});
void squared_hinge_loss(ConstView<float> input, ConstView<float> target, TensorView<float> out, const HingeOptions& opts = {});
void squared_hinge_loss(ConstView<double> input, ConstView<double> target, TensorView<double> out, const HingeOptions& opts = {});
Tensor<float> squared_hinge_loss(ConstView<float> input, ConstView<float> target, const HingeOptions& opts = {});
Tensor<double> squared_hinge_loss(ConstView<double> input, ConstView<double> target, const HingeOptions& opts = {});
void squared_hinge_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
    TensorView<float> grad_input, const HingeOptions& opts = {});
void squared_hinge_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
    TensorView<double> grad_input, const HingeOptions& opts = {});
void squared_hinge_loss_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
    TensorView<float> grad_input, const HingeOptions& opts = {});
void squared_hinge_loss_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
    TensorView<double> grad_input, const HingeOptions& opts = {});

// ---------------------------------------------------------------------------------------------
// categorical_hinge_loss: Keras' multi-class hinge (keras.losses.categorical_hinge).
//
//   input: scores (any rank >= 1, the class dim is the last). target: the same shape, one-hot
//   (or any) labels, not converted.
//   pos = sum_c y_c x_c, neg = max_c (1 - y_c) x_c, l_n = max(0, neg - pos + 1)
//   d l_n / d x_c = (1 - y_c)[c == k] - y_c where the hinge is active, k the first argmax of neg.
//   None gives one loss per row; Mean averages the rows.
// Reference: Keras 3 keras/src/losses/losses.py (categorical_hinge).
// ---------------------------------------------------------------------------------------------
void categorical_hinge_loss(ConstView<float> input, ConstView<float> target, TensorView<float> out, const HingeOptions& opts = {});
void categorical_hinge_loss(ConstView<double> input, ConstView<double> target, TensorView<double> out, const HingeOptions& opts = {});
Tensor<float> categorical_hinge_loss(ConstView<float> input, ConstView<float> target, const HingeOptions& opts = {});
Tensor<double> categorical_hinge_loss(ConstView<double> input, ConstView<double> target, const HingeOptions& opts = {});
void categorical_hinge_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
    TensorView<float> grad_input, const HingeOptions& opts = {});
void categorical_hinge_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
    TensorView<double> grad_input, const HingeOptions& opts = {});
void categorical_hinge_loss_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
    TensorView<float> grad_input, const HingeOptions& opts = {});
void categorical_hinge_loss_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
    TensorView<double> grad_input, const HingeOptions& opts = {});

// ---------------------------------------------------------------------------------------------
// multiclass_perceptron_loss: optax's multi-class perceptron loss
// (optax.losses.multiclass_perceptron_loss(scores, labels)).
//
//   input: scores (any rank >= 1, the class dim is the last). target: int64 class ids, the
//   input's shape without its last dim, each in [0, C) (optax's one_hot gives a zero row for an
//   id out of range; losskit rejects it).
//   l = max_c x_c - x_y;  d l / d x_c = [x_c == max] / (number of entries equal to the max)
//   - [c == y]  (JAX's gradient of jnp.max: ties share it evenly). A NaN score makes the row's
//   loss and its whole gradient NaN (as JAX: no entry equals a NaN max). An infinite score off
//   the label makes the loss NaN (optax's sum(scores * one_hot) has inf * 0), not the gradient.
//   optax returns the per-row losses (Reduction::None); Mean averages the rows, Sum adds them.
// Reference: optax/losses/_classification.py (multiclass_perceptron_loss).
// ---------------------------------------------------------------------------------------------
struct MulticlassPerceptronOptions {
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

void multiclass_perceptron_loss(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
    const MulticlassPerceptronOptions& opts = {});
void multiclass_perceptron_loss(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
    const MulticlassPerceptronOptions& opts = {});
Tensor<float> multiclass_perceptron_loss(ConstView<float> input, ConstView<std::int64_t> target,
    const MulticlassPerceptronOptions& opts = {});
Tensor<double> multiclass_perceptron_loss(ConstView<double> input, ConstView<std::int64_t> target,
    const MulticlassPerceptronOptions& opts = {});
void multiclass_perceptron_loss_backward(ConstView<float> grad_output, ConstView<float> input,
    ConstView<std::int64_t> target, TensorView<float> grad_input, const MulticlassPerceptronOptions& opts = {});
void multiclass_perceptron_loss_backward(ConstView<double> grad_output, ConstView<double> input,
    ConstView<std::int64_t> target, TensorView<double> grad_input, const MulticlassPerceptronOptions& opts = {});
void multiclass_perceptron_loss_forward_backward(ConstView<float> input, ConstView<std::int64_t> target,
    TensorView<float> out, TensorView<float> grad_input, const MulticlassPerceptronOptions& opts = {});
void multiclass_perceptron_loss_forward_backward(ConstView<double> input, ConstView<std::int64_t> target,
    TensorView<double> out, TensorView<double> grad_input, const MulticlassPerceptronOptions& opts = {});

}  // namespace losskit
