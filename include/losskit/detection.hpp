// losskit/detection.hpp: bounding-box regression losses and box similarity matrices
// (torchvision.ops semantics).
//
// Same four calls as every loss (see classification.hpp); both box sets have a gradient.
#pragma once

#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit {

// ---------------------------------------------------------------------------------------------
// generalized_box_iou_loss, distance_box_iou_loss, complete_box_iou_loss (torchvision.ops).
//
//   boxes1, boxes2: (..., 4) boxes (x1, y1, x2, y2), the same shape (e.g. (N, 4) or (4)); any
//   strides (a stride-0 view broadcasts one box). One loss per box pair, shape (...).
//   Intersection (as torchvision's _loss_inter_union): with xk1 = max(x1, x1g), yk1 = max(y1, y1g),
//   xk2 = min(x2, x2g), yk2 = min(y2, y2g), I = (xk2 - xk1)(yk2 - yk1) where xk2 > xk1 and
//   yk2 > yk1, else 0; U = area1 + area2 - I. The enclosing box: xc1 = min(x1, x1g), ...
//     giou: 1 - I / (U + eps) + (C - U) / (C + eps),        C = (xc2 - xc1)(yc2 - yc1)
//     diou: 1 - I / (U + eps) + d^2 / (c^2 + eps),          d the centres' distance, c the
//                                                           enclosing box's diagonal
//     ciou: diou (with eps = 1e-7 always, as torchvision) + alpha v, v = 4/pi^2 (atan(wg/hg) -
//           atan(w/h))^2, alpha = v / (1 - iou + v + eps) held constant in the gradient
//   Reductions: None (the default, as torchvision), Mean (0 for no boxes, torchvision's
//   0.0 * sum), Sum. Gradients as torch autograd through torchvision's code: max/min split
//   ties equally between their arguments; the intersection passes no gradient where it is 0.
// Reference: torchvision/ops/giou_loss.py, diou_loss.py, ciou_loss.py, _utils.py
// (_loss_inter_union); Rezatofighi et al. 2019 (GIoU), Zheng et al. 2020 (DIoU, CIoU).
// ---------------------------------------------------------------------------------------------
struct BoxIouLossOptions {
  Reduction reduction = Reduction::None;  ///< None, Mean or Sum
  double eps = 1e-7;                      ///< added to the denominators (see above for ciou)
};

#define LOSSKIT_DECLARE_BOX_LOSS(NAME, T)                                                                    \
  void NAME(ConstView<T> boxes1, ConstView<T> boxes2, TensorView<T> out, const BoxIouLossOptions& opts = {});  \
  Tensor<T> NAME(ConstView<T> boxes1, ConstView<T> boxes2, const BoxIouLossOptions& opts = {});               \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> boxes1, ConstView<T> boxes2,                    \
                       TensorView<T> grad_boxes1, TensorView<T> grad_boxes2, const BoxIouLossOptions& opts = {}); \
  void NAME##_forward_backward(ConstView<T> boxes1, ConstView<T> boxes2, TensorView<T> out,                   \
                               TensorView<T> grad_boxes1, TensorView<T> grad_boxes2,                          \
                               const BoxIouLossOptions& opts = {});
LOSSKIT_DECLARE_BOX_LOSS(generalized_box_iou_loss, float)
LOSSKIT_DECLARE_BOX_LOSS(generalized_box_iou_loss, double)
LOSSKIT_DECLARE_BOX_LOSS(distance_box_iou_loss, float)
LOSSKIT_DECLARE_BOX_LOSS(distance_box_iou_loss, double)
LOSSKIT_DECLARE_BOX_LOSS(complete_box_iou_loss, float)
LOSSKIT_DECLARE_BOX_LOSS(complete_box_iou_loss, double)
#undef LOSSKIT_DECLARE_BOX_LOSS

// ---------------------------------------------------------------------------------------------
// box_iou, generalized_box_iou, distance_box_iou, complete_box_iou (torchvision.ops): the (N, M)
// matrices of a similarity between every box of boxes1 (N, 4) and of boxes2 (M, 4), with
// gradients for both sets (DETR's matching cost and GIoU loss differentiate them).
//   Intersection as torchvision's _box_inter_union: wh = clamp(min(x2, x2g) - max(x1, x1g), 0)
//   (the same in y), I = w h, U = area1 + area2 - I;
//     box_iou             I / U                                   (no eps: 0/0 is NaN)
//     generalized_box_iou I / U - (A - U) / A, A the enclosing box's area (clamped extents)
//     distance_box_iou    I / U - d^2 / (w_c^2 + h_c^2 + eps)    (d the centres' distance)
//     complete_box_iou    distance_box_iou - alpha v, v = 4/pi^2 (atan(w/h) - atan(wg/hg))^2,
//                         alpha = v / (1 - I / U + v + eps) held constant in the gradient
//   backward(grad_output (N, M)) gives the gradients of sum(grad_output * result); clamp passes
//   no gradient below 0, max/min split ties, as torch autograd through torchvision's code.
// Reference: torchvision/ops/boxes.py.
// ---------------------------------------------------------------------------------------------
struct BoxIouOptions {
  double eps = 1e-7;  ///< distance_box_iou, complete_box_iou: added to the diagonal^2 (and alpha's denominator)
};

#define LOSSKIT_DECLARE_BOX_MATRIX(NAME, T)                                                                 \
  void NAME(ConstView<T> boxes1, ConstView<T> boxes2, TensorView<T> out, const BoxIouOptions& opts = {});     \
  Tensor<T> NAME(ConstView<T> boxes1, ConstView<T> boxes2, const BoxIouOptions& opts = {});                  \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> boxes1, ConstView<T> boxes2,                   \
                       TensorView<T> grad_boxes1, TensorView<T> grad_boxes2, const BoxIouOptions& opts = {});
LOSSKIT_DECLARE_BOX_MATRIX(box_iou, float)
LOSSKIT_DECLARE_BOX_MATRIX(box_iou, double)
LOSSKIT_DECLARE_BOX_MATRIX(generalized_box_iou, float)
LOSSKIT_DECLARE_BOX_MATRIX(generalized_box_iou, double)
LOSSKIT_DECLARE_BOX_MATRIX(distance_box_iou, float)
LOSSKIT_DECLARE_BOX_MATRIX(distance_box_iou, double)
LOSSKIT_DECLARE_BOX_MATRIX(complete_box_iou, float)
LOSSKIT_DECLARE_BOX_MATRIX(complete_box_iou, double)
#undef LOSSKIT_DECLARE_BOX_MATRIX

}  // namespace losskit
