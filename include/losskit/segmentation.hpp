// losskit/segmentation.hpp: overlap losses for segmentation (dice_loss, tversky_loss,
// generalized_dice_loss).
//
// Same four calls as every loss (see classification.hpp).
#pragma once

#include <cstdint>
#include <span>

#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit {

// ---------------------------------------------------------------------------------------------
// dice_loss: soft Dice (or Jaccard) loss with MONAI DiceLoss semantics and option names.
//
//   input  (B, C, d1..dK): probabilities, or logits when `sigmoid` or `softmax` is set (the
//          activation is applied inside and the gradient is w.r.t. the logits).
//   target (B, C, d1..dK) one-hot / probabilities, or, with to_onehot_y, (B, 1, d1..dK) class ids
//          stored as floats. The int64 overload takes class ids (B, 1, d1..dK) or (B, d1..dK)
//          and always one-hot encodes them.
//   Sums run over the spatial dims (and the batch when `batch`), per channel c:
//     tp = sum p t, P = sum p (sum p^2 if squared_pred), G = sum t (sum t^2 if squared_pred)
//     soft_label (or squared_pred): tp = (P + G - sum |p - t|^k) / 2, k = 1 (2 if squared_pred)
//     dice     f = 1 - (2 tp + smooth_nr) / (P + G + smooth_dr)
//     jaccard  f = 1 - (2 tp + smooth_nr) / (2 (P + G - tp) + smooth_dr)
//   f is multiplied by weight[c] (after dropping the background), then reduced: Mean over all
//   (B, C) entries, Sum, or None with MONAI's shape (B, C, 1, .., 1) ((C, 1, .., 1) with batch).
//   With one channel (C == 1) softmax, to_onehot_y and include_background = false are ignored,
//   as in MONAI; the int64 overload then takes the ids as a binary mask (0 or 1) of target
//   values. weight is applied only when more than one channel is left (MONAI), but always
//   validated. K >= 1 spatial dims are required. See docs/losses/dice_loss.md.
// Reference: MONAI monai/losses/dice.py (DiceLoss), monai/losses/utils.py (compute_tp_fp_fn).
// ---------------------------------------------------------------------------------------------
template <class T>
struct DiceLossOptions {
  bool include_background = true;  ///< false drops channel 0 of input and target
  bool to_onehot_y = false;        ///< target holds class ids (B, 1, ...) to one-hot encode
  bool sigmoid = false;            ///< apply sigmoid to the input
  bool softmax = false;            ///< apply softmax over the channel dim to the input
  bool squared_pred = false;       ///< squares in the denominator
  bool jaccard = false;            ///< soft IoU instead of Dice
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  double smooth_nr = 1e-5;         ///< added to the numerator
  double smooth_dr = 1e-5;         ///< added to the denominator
  bool batch = false;              ///< sum over the batch too, before the division
  std::span<const T> weight{};     ///< per-class weights (after background removal), >= 0
  bool soft_label = false;         ///< the norm form, exact for soft targets
};

void dice_loss(ConstView<float> input, ConstView<float> target, TensorView<float> out,
               const DiceLossOptions<float>& opts = {});
void dice_loss(ConstView<double> input, ConstView<double> target, TensorView<double> out,
               const DiceLossOptions<double>& opts = {});
Tensor<float> dice_loss(ConstView<float> input, ConstView<float> target, const DiceLossOptions<float>& opts = {});
Tensor<double> dice_loss(ConstView<double> input, ConstView<double> target, const DiceLossOptions<double>& opts = {});
void dice_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
                        TensorView<float> grad_input, const DiceLossOptions<float>& opts = {});
void dice_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<double> target,
                        TensorView<double> grad_input, const DiceLossOptions<double>& opts = {});
void dice_loss_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
                                TensorView<float> grad_input, const DiceLossOptions<float>& opts = {});
void dice_loss_forward_backward(ConstView<double> input, ConstView<double> target, TensorView<double> out,
                                TensorView<double> grad_input, const DiceLossOptions<double>& opts = {});

// Class-id targets (int64), one-hot encoded inside.
void dice_loss(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
               const DiceLossOptions<float>& opts = {});
void dice_loss(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
               const DiceLossOptions<double>& opts = {});
Tensor<float> dice_loss(ConstView<float> input, ConstView<std::int64_t> target,
                        const DiceLossOptions<float>& opts = {});
Tensor<double> dice_loss(ConstView<double> input, ConstView<std::int64_t> target,
                         const DiceLossOptions<double>& opts = {});
void dice_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<std::int64_t> target,
                        TensorView<float> grad_input, const DiceLossOptions<float>& opts = {});
void dice_loss_backward(ConstView<double> grad_output, ConstView<double> input, ConstView<std::int64_t> target,
                        TensorView<double> grad_input, const DiceLossOptions<double>& opts = {});
void dice_loss_forward_backward(ConstView<float> input, ConstView<std::int64_t> target, TensorView<float> out,
                                TensorView<float> grad_input, const DiceLossOptions<float>& opts = {});
void dice_loss_forward_backward(ConstView<double> input, ConstView<std::int64_t> target, TensorView<double> out,
                                TensorView<double> grad_input, const DiceLossOptions<double>& opts = {});

// ---------------------------------------------------------------------------------------------
// tversky_loss: MONAI TverskyLoss (same inputs, activations, target forms, background and batch
// options as dice_loss, through the same engine).
//   Per (batch item, channel), or per channel with `batch`, over the spatial dims:
//     tp = sum p t, fp = sum p (1 - t), fn = sum (1 - p) t   (soft_label: the norm forms of
//     compute_tp_fp_fn, tp = (|p|_1 + |t|_1 - |p - t|_1) / 2, fp = |p|_1 - tp, fn = |t|_1 - tp)
//     f = 1 - (tp + smooth_nr) / (tp + alpha fp + beta fn + smooth_dr)
//   Reductions: Mean over every (B, C) entry, Sum, or None with MONAI's shape (B, C) ((C) with
//   batch). alpha = beta = 0.5 is the Dice loss; alpha = beta = 1 the Jaccard (IoU) loss.
//   MONAI's ignore_index and other_act are not offered. See docs/losses/dice_loss.md.
// Reference: MONAI monai/losses/tversky.py (TverskyLoss); Salehi et al. 2017.
// ---------------------------------------------------------------------------------------------
struct TverskyLossOptions {
  bool include_background = true;  ///< false drops channel 0 of input and target
  bool to_onehot_y = false;        ///< target holds class ids (B, 1, ...) to one-hot encode
  bool sigmoid = false;            ///< apply sigmoid to the input
  bool softmax = false;            ///< apply softmax over the channel dim to the input
  double alpha = 0.5;              ///< weight of the false positives
  double beta = 0.5;               ///< weight of the false negatives
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  double smooth_nr = 1e-5;         ///< added to the numerator
  double smooth_dr = 1e-5;         ///< added to the denominator
  bool batch = false;              ///< sum over the batch too, before the division
  bool soft_label = false;         ///< the norm form, exact for soft targets
};

#define LOSSKIT_DECLARE_TVERSKY(T, TT)                                                                        \
  void tversky_loss(ConstView<T> input, ConstView<TT> target, TensorView<T> out, const TverskyLossOptions& opts = {}); \
  Tensor<T> tversky_loss(ConstView<T> input, ConstView<TT> target, const TverskyLossOptions& opts = {});      \
  void tversky_loss_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<TT> target,              \
                             TensorView<T> grad_input, const TverskyLossOptions& opts = {});                  \
  void tversky_loss_forward_backward(ConstView<T> input, ConstView<TT> target, TensorView<T> out,             \
                                     TensorView<T> grad_input, const TverskyLossOptions& opts = {});
LOSSKIT_DECLARE_TVERSKY(float, float)
LOSSKIT_DECLARE_TVERSKY(double, double)
LOSSKIT_DECLARE_TVERSKY(float, std::int64_t)  // class ids, one-hot encoded inside
LOSSKIT_DECLARE_TVERSKY(double, std::int64_t)
#undef LOSSKIT_DECLARE_TVERSKY

// ---------------------------------------------------------------------------------------------
// generalized_dice_loss: MONAI GeneralizedDiceLoss (Sudre et al. 2017), on the dice engine.
//   Per batch item (or once with `batch`), over the channels c and spatial dims:
//     w_c = 1 / G_c^2 (square), 1 / G_c (simple) or 1 (uniform), G_c = sum t (in float32, as
//     MONAI); an infinite weight (an empty class) becomes the item's largest finite one;
//     f = 1 - (2 sum_c w_c tp_c + smooth_nr) / (sum_c w_c (P_c + G_c) + smooth_dr).
//   The weights depend on the target only (no gradient). Reductions: Mean over the items, Sum,
//   None with MONAI's shape (B, 1, 1, .., 1) ((1, 1, .., 1) with batch: ndim - 1 dims).
// Reference: MONAI monai/losses/dice.py (GeneralizedDiceLoss).
// ---------------------------------------------------------------------------------------------
enum class GdlWeight { Square, Simple, Uniform };
struct GeneralizedDiceLossOptions {
  bool include_background = true;  ///< false drops channel 0 of input and target
  bool to_onehot_y = false;        ///< target holds class ids (B, 1, ...) to one-hot encode
  bool sigmoid = false;            ///< apply sigmoid to the input
  bool softmax = false;            ///< apply softmax over the channel dim to the input
  GdlWeight w_type = GdlWeight::Square;  ///< the class weights' function of the target volume
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  double smooth_nr = 1e-5;         ///< added to the numerator
  double smooth_dr = 1e-5;         ///< added to the denominator
  bool batch = false;              ///< sum over the batch too, before the division
  bool soft_label = false;         ///< the norm form of tp, exact for soft targets
};

#define LOSSKIT_DECLARE_GDL(T, TT)                                                                            \
  void generalized_dice_loss(ConstView<T> input, ConstView<TT> target, TensorView<T> out,                     \
                             const GeneralizedDiceLossOptions& opts = {});                                   \
  Tensor<T> generalized_dice_loss(ConstView<T> input, ConstView<TT> target,                                  \
                                  const GeneralizedDiceLossOptions& opts = {});                              \
  void generalized_dice_loss_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<TT> target,    \
                                      TensorView<T> grad_input, const GeneralizedDiceLossOptions& opts = {}); \
  void generalized_dice_loss_forward_backward(ConstView<T> input, ConstView<TT> target, TensorView<T> out,   \
                                              TensorView<T> grad_input, const GeneralizedDiceLossOptions& opts = {});
LOSSKIT_DECLARE_GDL(float, float)
LOSSKIT_DECLARE_GDL(double, double)
LOSSKIT_DECLARE_GDL(float, std::int64_t)  // class ids, one-hot encoded inside
LOSSKIT_DECLARE_GDL(double, std::int64_t)
#undef LOSSKIT_DECLARE_GDL

}  // namespace losskit
