// generalized_box_iou_loss, distance_box_iou_loss, complete_box_iou_loss: torchvision.ops'
// box-regression losses, one loss per pair of boxes (x1, y1, x2, y2), on the shared rows layout
// of two same-shaped inputs (embedding/rows.hpp: rows = boxes, D = 4). Each pair is computed in
// the input's precision, in torchvision's order of operations (so float32 rounds as torchvision's
// float32 code does, e.g. its 0/0 = NaN for identical boxes with eps = 0 in complete_box_iou_loss);
// the gradient is torch autograd's through that code, written out by hand (reverse mode over the
// few intermediate values).
#include <cmath>
#include <numbers>

#include "core/parallel.hpp"
#include "detection/box_math.hpp"
#include "embedding/rows.hpp"
#include "losskit/detection.hpp"

namespace losskit {
namespace {

using detail::Pass;
using detail::boxes::share;
using detail::boxes::tmax;
using detail::boxes::tmin;
enum class Kind { Giou, Diou, Ciou };
constexpr double kCiouDiouEps = 1e-7;  // torchvision's complete_box_iou_loss calls _diou_iou_loss(b1, b2): default eps

constexpr std::string_view name_of(Kind k) {
  return k == Kind::Giou ? "generalized_box_iou_loss" : k == Kind::Diou ? "distance_box_iou_loss" : "complete_box_iou_loss";
}

/// The loss of one pair; with `g` set, also its gradient times `up` added into g[0..7]
/// (x1, y1, x2, y2 of boxes1, then of boxes2).
template <class F>
F pair_loss(Kind kind, const F* p, const F* q, F eps, F up, F* g) {
  const F x1 = p[0], y1 = p[1], x2 = p[2], y2 = p[3];
  const F x1g = q[0], y1g = q[1], x2g = q[2], y2g = q[3];
  // intersection keypoints (torch.max / torch.min keep NaN)
  const F xk1 = tmax(x1, x1g), yk1 = tmax(y1, y1g), xk2 = tmin(x2, x2g), yk2 = tmin(y2, y2g);
  const bool mask = (yk2 > yk1) && (xk2 > xk1);
  const F iw = xk2 - xk1, ih = yk2 - yk1;
  const F inter = mask ? iw * ih : F(0);
  const F a1 = (x2 - x1) * (y2 - y1), a2 = (x2g - x1g) * (y2g - y1g);
  const F uni = a1 + a2 - inter;
  const F ueps = kind == Kind::Ciou ? F(kCiouDiouEps) : eps;
  const F iou = inter / (uni + ueps);
  const F xc1 = tmin(x1, x1g), yc1 = tmin(y1, y1g), xc2 = tmax(x2, x2g), yc2 = tmax(y2, y2g);
  const F cw = xc2 - xc1, ch = yc2 - yc1;
  F loss = 0;
  // upstream gradients of the intermediates, filled below
  F d_iou = 0, d_uni = 0, d_cw = 0, d_ch = 0, d_cx = 0, d_cy = 0, d_w = 0, d_h = 0, d_wg = 0, d_hg = 0;
  F cx = 0, cy = 0;
  if (kind == Kind::Giou) {
    const F area_c = cw * ch;
    loss = 1 - (iou - (area_c - uni) / (area_c + eps));
    if (g) {
      d_iou = -up;
      const F d_area_c = up * (F(1) / (area_c + eps) - (area_c - uni) / ((area_c + eps) * (area_c + eps)));
      d_uni = -up / (area_c + eps);
      d_cw = d_area_c * ch;
      d_ch = d_area_c * cw;
    }
  } else {
    const F diag = cw * cw + ch * ch + ueps;
    cx = (x2 + x1) / 2 - (x1g + x2g) / 2;
    cy = (y2 + y1) / 2 - (y1g + y2g) / 2;
    const F dist = cx * cx + cy * cy;
    loss = 1 - iou + dist / diag;
    if (g) {
      d_iou = -up;
      const F d_dist = up / diag, d_diag = -up * dist / (diag * diag);
      d_cw = d_diag * 2 * cw;
      d_ch = d_diag * 2 * ch;
      d_cx = d_dist * 2 * cx;
      d_cy = d_dist * 2 * cy;
    }
    if (kind == Kind::Ciou) {
      const F w = x2 - x1, h = y2 - y1, wg = x2g - x1g, hg = y2g - y1g;
      const F rg = wg / hg, r = w / h;
      const F diff = std::atan(rg) - std::atan(r);
      constexpr F k = F(4 / (std::numbers::pi * std::numbers::pi));
      const F v = k * diff * diff;
      const F alpha = v / (1 - iou + v + eps);  // no gradient (torch.no_grad)
      loss += alpha * v;
      if (g) {
        const F d_diff = up * alpha * k * 2 * diff;
        const F d_r = -d_diff / (1 + r * r), d_rg = d_diff / (1 + rg * rg);
        d_w = d_r / h;
        d_h = -d_r * r / h;  // torch's division backward: -grad * (w / h) / h
        d_wg = d_rg / hg;
        d_hg = -d_rg * rg / hg;
      }
    }
  }
  if (!g) return loss;
  // iou = inter / (uni + ueps); uni = a1 + a2 - inter
  const F den = uni + ueps;
  d_uni += d_iou * (-inter / (den * den));
  const F d_inter = d_iou / den - d_uni;
  const F d_a1 = d_uni, d_a2 = d_uni;
  // intersection (only where the mask holds)
  F d_xk1 = 0, d_yk1 = 0, d_xk2 = 0, d_yk2 = 0;
  if (mask) {
    d_xk2 = d_inter * ih;
    d_xk1 = -d_inter * ih;
    d_yk2 = d_inter * iw;
    d_yk1 = -d_inter * iw;
  }
  F& gx1 = g[0];
  F& gy1 = g[1];
  F& gx2 = g[2];
  F& gy2 = g[3];
  F& gx1g = g[4];
  F& gy1g = g[5];
  F& gx2g = g[6];
  F& gy2g = g[7];
  // areas
  gx1 += -d_a1 * (y2 - y1);
  gx2 += d_a1 * (y2 - y1);
  gy1 += -d_a1 * (x2 - x1);
  gy2 += d_a1 * (x2 - x1);
  gx1g += -d_a2 * (y2g - y1g);
  gx2g += d_a2 * (y2g - y1g);
  gy1g += -d_a2 * (x2g - x1g);
  gy2g += d_a2 * (x2g - x1g);
  // keypoints: max for the lower corners, min for the upper ones
  gx1 += share(d_xk1, x1, x1g);
  gx1g += share(d_xk1, x1g, x1);
  gy1 += share(d_yk1, y1, y1g);
  gy1g += share(d_yk1, y1g, y1);
  gx2 += share(d_xk2, x2g, x2);  // min(x2, x2g): x2 gets it when x2 < x2g
  gx2g += share(d_xk2, x2, x2g);
  gy2 += share(d_yk2, y2g, y2);
  gy2g += share(d_yk2, y2, y2g);
  // enclosing box: cw = max(x2, x2g) - min(x1, x1g), ch likewise
  gx2 += share(d_cw, x2, x2g);
  gx2g += share(d_cw, x2g, x2);
  gx1 += share(-d_cw, x1g, x1);
  gx1g += share(-d_cw, x1, x1g);
  gy2 += share(d_ch, y2, y2g);
  gy2g += share(d_ch, y2g, y2);
  gy1 += share(-d_ch, y1g, y1);
  gy1g += share(-d_ch, y1, y1g);
  // centres: cx = (x1 + x2 - x1g - x2g) / 2
  gx1 += d_cx / 2;
  gx2 += d_cx / 2;
  gx1g -= d_cx / 2;
  gx2g -= d_cx / 2;
  gy1 += d_cy / 2;
  gy2 += d_cy / 2;
  gy1g -= d_cy / 2;
  gy2g -= d_cy / 2;
  // aspect ratios (ciou): w = x2 - x1, h = y2 - y1
  gx2 += d_w;
  gx1 -= d_w;
  gy2 += d_h;
  gy1 -= d_h;
  gx2g += d_wg;
  gx1g -= d_wg;
  gy2g += d_hg;
  gy1g -= d_hg;
  return loss;
}

template <class T>
void run(Kind kind, Pass pass, ConstView<T> b1, ConstView<T> b2, TensorView<T> out, ConstView<T> grad_output,
         TensorView<T> g1, TensorView<T> g2, const BoxIouLossOptions& o, Tensor<T>* owned) {
  using namespace detail;
  const std::string_view fn = name_of(kind);
  check_data(fn, "boxes1", b1);
  check_data(fn, "boxes2", b2);
  for (const auto& [nm, v] : {std::pair{"boxes1", b1}, std::pair{"boxes2", b2}})
    if (v.ndim() < 1 || v.size(v.ndim() - 1) != 4)
      fail(ErrorKind::Shape, fn, nm, " must have shape (..., 4) (x1, y1, x2, y2), got ", v.shape().str());
  if (!(o.eps >= 0) || !std::isfinite(o.eps)) fail(ErrorKind::Value, fn, "eps = ", o.eps, " must be finite and >= 0");
  EmbeddingRows<T, 2> a;
  a.prepare(fn, pass, o.reduction, {"boxes1", "boxes2"}, {b1, b2}, nullptr, b1.ndim() - 1, out, owned, grad_output,
            {g1, g2}, {"grad_boxes1", "grad_boxes2"});
  const T scale = static_cast<T>(reduce_scale(o.reduction, a.g_scalar, static_cast<double>(a.R)));
  const auto sums = parallel_sum<1>(a.R, 1024, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      T p[4], q[4];
      for (int k = 0; k < 4; ++k) {
        p[k] = a.in[0].at(i, k);
        q[k] = a.in[1].at(i, k);
      }
      T gr[8] = {};
      const bool bwd = has_backward(pass);
      const T l = pair_loss<T>(kind, p, q, static_cast<T>(o.eps), bwd ? a.upstream(i, scale) : T(0), bwd ? gr : nullptr);
      if (has_forward(pass)) {
        if (a.out_none) a.out.at(i, 0) = l;
        else acc += static_cast<double>(l);
      }
      if (bwd)
        for (int k = 0; k < 4; ++k) {
          if (a.want[0]) a.gr[0].at(i, k) = gr[k];
          if (a.want[1]) a.gr[1].at(i, k) = gr[4 + k];
        }
    }
    return Sums<1>{acc};
  });
  a.finish(pass, o.reduction, out, sums[0]);
  // torchvision: the mean of no boxes is 0.0 * sum = 0, not NaN
  if (has_forward(pass) && o.reduction == Reduction::Mean && a.R == 0) out.flat(0) = T(0);
}

}  // namespace

#define LOSSKIT_DEFINE_BOX_LOSS(NAME, KIND, T)                                                                 \
  void NAME(ConstView<T> boxes1, ConstView<T> boxes2, TensorView<T> out, const BoxIouLossOptions& opts) {     \
    run<T>(KIND, Pass::Forward, boxes1, boxes2, out, {}, {}, {}, opts, nullptr);                              \
  }                                                                                                          \
  Tensor<T> NAME(ConstView<T> boxes1, ConstView<T> boxes2, const BoxIouLossOptions& opts) {                  \
    Tensor<T> out;                                                                                           \
    run<T>(KIND, Pass::Forward, boxes1, boxes2, {}, {}, {}, {}, opts, &out);                                  \
    return out;                                                                                              \
  }                                                                                                          \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> boxes1, ConstView<T> boxes2,                   \
                       TensorView<T> grad_boxes1, TensorView<T> grad_boxes2, const BoxIouLossOptions& opts) { \
    run<T>(KIND, Pass::Backward, boxes1, boxes2, {}, grad_output, grad_boxes1, grad_boxes2, opts, nullptr);   \
  }                                                                                                          \
  void NAME##_forward_backward(ConstView<T> boxes1, ConstView<T> boxes2, TensorView<T> out,                  \
                               TensorView<T> grad_boxes1, TensorView<T> grad_boxes2,                         \
                               const BoxIouLossOptions& opts) {                                              \
    run<T>(KIND, Pass::ForwardBackward, boxes1, boxes2, out, {}, grad_boxes1, grad_boxes2, opts, nullptr);    \
  }
LOSSKIT_DEFINE_BOX_LOSS(generalized_box_iou_loss, Kind::Giou, float)
LOSSKIT_DEFINE_BOX_LOSS(generalized_box_iou_loss, Kind::Giou, double)
LOSSKIT_DEFINE_BOX_LOSS(distance_box_iou_loss, Kind::Diou, float)
LOSSKIT_DEFINE_BOX_LOSS(distance_box_iou_loss, Kind::Diou, double)
LOSSKIT_DEFINE_BOX_LOSS(complete_box_iou_loss, Kind::Ciou, float)
LOSSKIT_DEFINE_BOX_LOSS(complete_box_iou_loss, Kind::Ciou, double)
#undef LOSSKIT_DEFINE_BOX_LOSS

}  // namespace losskit
