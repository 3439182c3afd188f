// box_iou, generalized_box_iou, distance_box_iou, complete_box_iou: torchvision.ops' (N, M)
// similarity matrices of two box sets, and their gradients. Each pair is computed in the input's
// precision in torchvision's order of operations; the backward sums each pair's gradient over the
// other set in a fixed order (rows for boxes1, then columns for boxes2: two passes, so no two
// threads ever add into the same box), giving the same bits for any thread count.
#include <cmath>
#include <numbers>

#include "core/check.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "detection/box_math.hpp"
#include "losskit/detection.hpp"

namespace losskit {
namespace {

using detail::fail;
using detail::Pass;
using detail::boxes::pass_clamp;
using detail::boxes::share;
using detail::boxes::tmax;
using detail::boxes::tmin;
enum class Kind { Iou, Giou, Diou, Ciou };

constexpr std::string_view name_of(Kind k) {
  return k == Kind::Iou ? "box_iou" : k == Kind::Giou ? "generalized_box_iou" : k == Kind::Diou ? "distance_box_iou" : "complete_box_iou";
}

/// The value of one pair; with gp/gq set, also adds up * its gradient to gp[0..3] and gq[0..3].
template <class F>
F pair_value(Kind kind, const F* p, const F* q, F eps, F up, F* gp, F* gq) {
  const F x1 = p[0], y1 = p[1], x2 = p[2], y2 = p[3];
  const F x1g = q[0], y1g = q[1], x2g = q[2], y2g = q[3];
  const F a1 = (x2 - x1) * (y2 - y1), a2 = (x2g - x1g) * (y2g - y1g);
  const F rw = tmin(x2, x2g) - tmax(x1, x1g), rh = tmin(y2, y2g) - tmax(y1, y1g);
  const F w = rw > 0 || std::isnan(rw) ? rw : F(0), h = rh > 0 || std::isnan(rh) ? rh : F(0);
  const F inter = w * h;
  const F uni = a1 + a2 - inter;
  const F iou = inter / uni;
  F out = iou;
  F d_iou = up, d_uni = 0, d_wi = 0, d_hi = 0, d_cx = 0, d_cy = 0, d_w1 = 0, d_h1 = 0, d_wg = 0, d_hg = 0;
  F rwi = 0, rhi = 0, wi = 0, hi = 0, cx = 0, cy = 0;
  if (kind != Kind::Iou) {
    rwi = tmax(x2, x2g) - tmin(x1, x1g);
    rhi = tmax(y2, y2g) - tmin(y1, y1g);
    wi = rwi > 0 || std::isnan(rwi) ? rwi : F(0);
    hi = rhi > 0 || std::isnan(rhi) ? rhi : F(0);
  }
  if (kind == Kind::Giou) {
    const F area = wi * hi;
    out = iou - (area - uni) / area;
    if (gp) {
      const F d_area = -up * (F(1) / area - (area - uni) / (area * area));
      d_uni += up / area;
      d_wi = d_area * hi;
      d_hi = d_area * wi;
    }
  } else if (kind == Kind::Diou || kind == Kind::Ciou) {
    const F diag = wi * wi + hi * hi + eps;
    cx = (x1 + x2) / 2 - (x1g + x2g) / 2;
    cy = (y1 + y2) / 2 - (y1g + y2g) / 2;
    const F dist = cx * cx + cy * cy;
    out = iou - dist / diag;
    if (gp) {
      const F d_dist = -up / diag, d_diag = up * dist / (diag * diag);
      d_wi = d_diag * 2 * wi;
      d_hi = d_diag * 2 * hi;
      d_cx = d_dist * 2 * cx;
      d_cy = d_dist * 2 * cy;
    }
    if (kind == Kind::Ciou) {
      const F w1 = x2 - x1, h1 = y2 - y1, wg = x2g - x1g, hg = y2g - y1g;
      const F r1 = w1 / h1, rg = wg / hg;
      const F diff = std::atan(r1) - std::atan(rg);
      constexpr F k = F(4 / (std::numbers::pi * std::numbers::pi));
      const F v = k * diff * diff;
      const F alpha = v / (1 - iou + v + eps);  // no gradient (torch.no_grad)
      out = out - alpha * v;
      if (gp) {
        const F d_diff = -up * alpha * k * 2 * diff;
        const F d_r1 = d_diff / (1 + r1 * r1), d_rg = -d_diff / (1 + rg * rg);
        d_w1 = d_r1 / h1;
        d_h1 = -d_r1 * r1 / h1;
        d_wg = d_rg / hg;
        d_hg = -d_rg * rg / hg;
      }
    }
  }
  if (!gp) return out;
  // iou = inter / uni, uni = a1 + a2 - inter, inter = w h
  d_uni += -d_iou * inter / (uni * uni);
  const F d_inter = d_iou / uni - d_uni;
  const F d_rw = pass_clamp(d_inter * h, rw), d_rh = pass_clamp(d_inter * w, rh);
  // rw = min(x2, x2g) - max(x1, x1g)
  gp[2] += share(d_rw, x2g, x2);
  gq[2] += share(d_rw, x2, x2g);
  gp[0] += share(-d_rw, x1, x1g);
  gq[0] += share(-d_rw, x1g, x1);
  gp[3] += share(d_rh, y2g, y2);
  gq[3] += share(d_rh, y2, y2g);
  gp[1] += share(-d_rh, y1, y1g);
  gq[1] += share(-d_rh, y1g, y1);
  // areas
  gp[0] -= d_uni * (y2 - y1);
  gp[2] += d_uni * (y2 - y1);
  gp[1] -= d_uni * (x2 - x1);
  gp[3] += d_uni * (x2 - x1);
  gq[0] -= d_uni * (y2g - y1g);
  gq[2] += d_uni * (y2g - y1g);
  gq[1] -= d_uni * (x2g - x1g);
  gq[3] += d_uni * (x2g - x1g);
  if (kind != Kind::Iou) {
    // enclosing box: rwi = max(x2, x2g) - min(x1, x1g)
    const F d_rwi = pass_clamp(d_wi, rwi), d_rhi = pass_clamp(d_hi, rhi);
    gp[2] += share(d_rwi, x2, x2g);
    gq[2] += share(d_rwi, x2g, x2);
    gp[0] += share(-d_rwi, x1g, x1);
    gq[0] += share(-d_rwi, x1, x1g);
    gp[3] += share(d_rhi, y2, y2g);
    gq[3] += share(d_rhi, y2g, y2);
    gp[1] += share(-d_rhi, y1g, y1);
    gq[1] += share(-d_rhi, y1, y1g);
  }
  // centres and aspect ratios
  gp[0] += d_cx / 2 - d_w1;
  gp[2] += d_cx / 2 + d_w1;
  gq[0] += -d_cx / 2 - d_wg;
  gq[2] += -d_cx / 2 + d_wg;
  gp[1] += d_cy / 2 - d_h1;
  gp[3] += d_cy / 2 + d_h1;
  gq[1] += -d_cy / 2 - d_hg;
  gq[3] += -d_cy / 2 + d_hg;
  return out;
}

template <class T>
void load_box(const ConstView<T>& b, std::int64_t i, T* p) {
  for (int k = 0; k < 4; ++k) p[k] = b.data()[i * b.stride(0) + k * b.stride(1)];
}

template <class T>
void run(Kind kind, Pass pass, ConstView<T> b1, ConstView<T> b2, TensorView<T> out, ConstView<T> grad_output,
         TensorView<T> g1, TensorView<T> g2, const BoxIouOptions& o, Tensor<T>* owned) {
  using namespace detail;
  const std::string_view fn = name_of(kind);
  check_data(fn, "boxes1", b1);
  check_data(fn, "boxes2", b2);
  for (const auto& [nm, v] : {std::pair{"boxes1", b1}, std::pair{"boxes2", b2}})
    if (v.ndim() != 2 || v.size(1) != 4)
      fail(ErrorKind::Shape, fn, nm, " must have shape (N, 4) (x1, y1, x2, y2), got ", v.shape().str());
  if (!(o.eps >= 0) || !std::isfinite(o.eps)) fail(ErrorKind::Value, fn, "eps = ", o.eps, " must be finite and >= 0");
  const std::int64_t N = b1.size(0), M = b2.size(0);
  const Shape mat{N, M};
  if (pass == Pass::Forward) {
    if (owned) out = allocate(*owned, mat);
    check_output(fn, "out", out, mat);
    check_no_overlap(fn, "out", out, named("boxes1", b1), named("boxes2", b2));
  } else {
    check_data(fn, "grad_output", grad_output);
    check_shape(fn, "grad_output", grad_output.shape(), mat);
    check_output(fn, "grad_boxes1", g1, b1.shape());
    check_output(fn, "grad_boxes2", g2, b2.shape());
    for (const auto& [nm, g] : {std::pair{"grad_boxes1", g1}, std::pair{"grad_boxes2", g2}})
      check_no_overlap(fn, nm, g, named("boxes1", b1), named("boxes2", b2), named("grad_output", grad_output));
    check_no_overlap(fn, "grad_boxes2", g2, named("grad_boxes1", ConstView<T>(g1)));
  }
  // ---- validation done ----
  const T eps = static_cast<T>(o.eps);
  if (pass == Pass::Forward) {
    parallel_for(N, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(M, 1)), [&](std::int64_t b, std::int64_t e) {
      T p[4], q[4];
      for (std::int64_t i = b; i < e; ++i) {
        load_box(b1, i, p);
        for (std::int64_t j = 0; j < M; ++j) {
          load_box(b2, j, q);
          out.data()[i * out.stride(0) + j * out.stride(1)] = pair_value<T>(kind, p, q, eps, T(0), nullptr, nullptr);
        }
      }
    });
    return;
  }
  auto go = [&](std::int64_t i, std::int64_t j) { return grad_output.data()[i * grad_output.stride(0) + j * grad_output.stride(1)]; };
  // boxes1's gradient: row i sums over j in order; boxes2's: column j sums over i in order.
  parallel_for(N, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(M, 1)), [&](std::int64_t b, std::int64_t e) {
    T p[4], q[4];
    for (std::int64_t i = b; i < e; ++i) {
      load_box(b1, i, p);
      T acc[4] = {}, unused[4];
      for (std::int64_t j = 0; j < M; ++j) {
        load_box(b2, j, q);
        pair_value<T>(kind, p, q, eps, go(i, j), acc, unused);
      }
      for (int k = 0; k < 4; ++k) g1.data()[i * g1.stride(0) + k * g1.stride(1)] = acc[k];
    }
  });
  parallel_for(M, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(N, 1)), [&](std::int64_t b, std::int64_t e) {
    T p[4], q[4];
    for (std::int64_t j = b; j < e; ++j) {
      load_box(b2, j, q);
      T acc[4] = {}, unused[4];
      for (std::int64_t i = 0; i < N; ++i) {
        load_box(b1, i, p);
        pair_value<T>(kind, p, q, eps, go(i, j), unused, acc);
      }
      for (int k = 0; k < 4; ++k) g2.data()[j * g2.stride(0) + k * g2.stride(1)] = acc[k];
    }
  });
}

}  // namespace

#define LOSSKIT_DEFINE_BOX_MATRIX(NAME, KIND, T)                                                               \
  void NAME(ConstView<T> boxes1, ConstView<T> boxes2, TensorView<T> out, const BoxIouOptions& opts) {         \
    run<T>(KIND, Pass::Forward, boxes1, boxes2, out, {}, {}, {}, opts, nullptr);                              \
  }                                                                                                          \
  Tensor<T> NAME(ConstView<T> boxes1, ConstView<T> boxes2, const BoxIouOptions& opts) {                      \
    Tensor<T> out;                                                                                           \
    run<T>(KIND, Pass::Forward, boxes1, boxes2, {}, {}, {}, {}, opts, &out);                                  \
    return out;                                                                                              \
  }                                                                                                          \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> boxes1, ConstView<T> boxes2,                   \
                       TensorView<T> grad_boxes1, TensorView<T> grad_boxes2, const BoxIouOptions& opts) {     \
    run<T>(KIND, Pass::Backward, boxes1, boxes2, {}, grad_output, grad_boxes1, grad_boxes2, opts, nullptr);   \
  }
LOSSKIT_DEFINE_BOX_MATRIX(box_iou, Kind::Iou, float)
LOSSKIT_DEFINE_BOX_MATRIX(box_iou, Kind::Iou, double)
LOSSKIT_DEFINE_BOX_MATRIX(generalized_box_iou, Kind::Giou, float)
LOSSKIT_DEFINE_BOX_MATRIX(generalized_box_iou, Kind::Giou, double)
LOSSKIT_DEFINE_BOX_MATRIX(distance_box_iou, Kind::Diou, float)
LOSSKIT_DEFINE_BOX_MATRIX(distance_box_iou, Kind::Diou, double)
LOSSKIT_DEFINE_BOX_MATRIX(complete_box_iou, Kind::Ciou, float)
LOSSKIT_DEFINE_BOX_MATRIX(complete_box_iou, Kind::Ciou, double)
#undef LOSSKIT_DEFINE_BOX_MATRIX

}  // namespace losskit
