// losskit/detection.hpp: bounding-box regression losses (torchvision.ops semantics).
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

}  // namespace losskit
