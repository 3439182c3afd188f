// l1_loss, smooth_l1_loss and huber_loss: one family (smooth_l1 with beta = 0 is l1, and
// huber(delta) == delta * smooth_l1(beta = delta)), pointwise losses on the shared driver
// (core/elementwise.hpp).
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "regression/l1_smooth_l1_huber.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

struct L1V {
  // x > y ? x - y : y - x (NaN: y - x, a NaN).
  HWY_INLINE VF Loss(DF, VF x, VF y) const { return hn::IfThenElse(hn::Gt(x, y), hn::Sub(x, y), hn::Sub(y, x)); }
  // x > y ? 1 : (x < y ? -1 : 0): 0 at ties and NaN.
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return Sign(d, x, y); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return Sign(d, y, x); }
  static HWY_INLINE VF Sign(DF d, VF a, VF b) {
    return hn::IfThenElse(hn::Gt(a, b), hn::Set(d, 1.0f), hn::IfThenElseZero(hn::Lt(a, b), hn::Set(d, -1.0f)));
  }
};

struct HuberV {
  float delta;
  // z = d < 0 ? -d : d;  z < delta ? 0.5 d d : delta (z - 0.5 delta)
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF df = hn::Sub(x, y);
    const VF z = hn::IfThenElse(hn::Lt(df, hn::Zero(d)), hn::Neg(df), df);
    const VF dl = hn::Set(d, delta);
    const VF quad = hn::Mul(hn::Mul(hn::Set(d, 0.5f), df), df);
    const VF lin = hn::Mul(dl, hn::Sub(z, hn::Set(d, 0.5f * delta)));
    return hn::IfThenElse(hn::Lt(z, dl), quad, lin);
  }
  // d < -delta ? -delta : (d > delta ? delta : d)  (NaN: d)
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF df = hn::Sub(x, y);
    const VF dl = hn::Set(d, delta), ndl = hn::Set(d, -delta);
    return hn::IfThenElse(hn::Lt(df, ndl), ndl, hn::IfThenElse(hn::Gt(df, dl), dl, df));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Neg(Dx(d, x, y)); }
};

struct SmoothL1V {
  float beta, half_beta, inv_beta;
  // z < beta ? 0.5 d d / beta : z - half_beta
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF df = hn::Sub(x, y);
    const VF z = hn::IfThenElse(hn::Lt(df, hn::Zero(d)), hn::Neg(df), df);
    const VF b = hn::Set(d, beta);
    const VF quad = hn::Div(hn::Mul(hn::Mul(hn::Set(d, 0.5f), df), df), b);
    return hn::IfThenElse(hn::Lt(z, b), quad, hn::Sub(z, hn::Set(d, half_beta)));
  }
  // d <= -beta ? -1 : (d >= beta ? 1 : d / beta)  (NaN: NaN * inv_beta)
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF df = hn::Sub(x, y);
    const VF b = hn::Set(d, beta);
    return hn::IfThenElse(hn::Le(df, hn::Neg(b)), hn::Set(d, -1.0f),
                          hn::IfThenElse(hn::Ge(df, b), hn::Set(d, 1.0f), hn::Mul(df, hn::Set(d, inv_beta))));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Neg(Dx(d, x, y)); }
};

double L1Block(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(L1V{}, a, begin, end);
}

double HuberBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(HuberV{p.a}, a, begin, end);
}

double SmoothL1Block(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(SmoothL1V{p.a, p.b, p.c}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/check.hpp"
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(L1Block, "l1_loss")
LOSSKIT_POINTWISE_KERNEL(HuberBlock, "huber_loss")
LOSSKIT_POINTWISE_KERNEL(SmoothL1Block, "smooth_l1_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

/// 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta); gradient clamp(d, -delta, delta).
template <class T>
struct HuberOp {
  T delta;
  static constexpr kernels::PwBlockFn kSimd = &kernels::HuberBlock_dispatch;  // contiguous float32
  kernels::PwParams simd_params() const { return {.a = static_cast<float>(delta)}; }
  template <class V>
  V loss(V x, V y) const {
    const V d = x - y;
    const V z = d < V(0) ? -d : d;
    return z < delta ? V(0.5) * d * d : delta * (z - V(0.5) * delta);
  }
  template <class V>
  V dx(V x, V y) const {
    const V d = x - y;
    return d < -delta ? -delta : (d > delta ? delta : d);
  }
  template <class V>
  V dy(V x, V y) const { return -dx(x, y); }
};

/// 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta; gradient clamp(d / beta, -1, 1). beta > 0.
template <class T>
struct SmoothL1Op {
  T beta, half_beta, inv_beta;
  static constexpr kernels::PwBlockFn kSimd = &kernels::SmoothL1Block_dispatch;  // contiguous float32
  kernels::PwParams simd_params() const {
    return {.a = static_cast<float>(beta), .b = static_cast<float>(half_beta), .c = static_cast<float>(inv_beta)};
  }
  template <class V>
  V loss(V x, V y) const {
    const V d = x - y;
    const V z = d < V(0) ? -d : d;
    return z < beta ? V(0.5) * d * d / beta : z - half_beta;
  }
  template <class V>
  V dx(V x, V y) const {
    const V d = x - y;
    return d <= -beta ? V(-1) : (d >= beta ? V(1) : d * inv_beta);
  }
  template <class V>
  V dy(V x, V y) const { return -dx(x, y); }
};

/// |x - y|; the gradient is sign(x - y), 0 at x == y (PyTorch's sgn). Also smooth_l1_loss with
/// beta == 0, as in PyTorch.
struct L1Op {
  static constexpr kernels::PwBlockFn kSimd = &kernels::L1Block_dispatch;  // contiguous float32
  template <class V>
  V loss(V x, V y) const { return x > y ? x - y : y - x; }
  template <class V>
  V dx(V x, V y) const { return x > y ? V(1) : (x < y ? V(-1) : V(0)); }
  template <class V>
  V dy(V x, V y) const { return x > y ? V(-1) : (x < y ? V(1) : V(0)); }
};

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const L1LossOptions<T>& o) {
  a.weight = o.weight;
  // PyTorch's weighted l1: torch.sum(w * l) / torch.sum(w) for 'mean'.
  const detail::PointwiseConfig cfg{.fn = "l1_loss", .reduction = o.reduction, .mean_over = detail::MeanOver::Weights};
  detail::run_pointwise(cfg, pass, a, L1Op{});
}


template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const HuberLossOptions<T>& o) {
  constexpr std::string_view fn = "huber_loss";
  if (!(o.delta > 0)) detail::fail(ErrorKind::Value, fn, "delta = ", o.delta, " must be > 0");
  a.weight = o.weight;
  // PyTorch's weighted huber: (w * l).mean() for 'mean', a division by the element count.
  const detail::PointwiseConfig cfg{.fn = fn, .reduction = o.reduction, .mean_over = detail::MeanOver::Elements};
  detail::run_pointwise(cfg, pass, a, HuberOp<T>{static_cast<T>(o.delta)});
}

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const SmoothL1LossOptions& o) {
  constexpr std::string_view fn = "smooth_l1_loss";
  if (!(o.beta >= 0)) detail::fail(ErrorKind::Value, fn, "beta = ", o.beta, " must be >= 0");
  const detail::PointwiseConfig cfg{.fn = fn, .reduction = o.reduction};
  if (o.beta == 0) {
    detail::run_pointwise(cfg, pass, a, L1Op{});
    return;
  }
  const T beta = static_cast<T>(o.beta);
  detail::run_pointwise(cfg, pass, a, SmoothL1Op<T>{beta, static_cast<T>(0.5 * o.beta), static_cast<T>(1.0 / o.beta)});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(l1_loss, float, L1LossOptions<float>, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(l1_loss, double, L1LossOptions<double>, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(huber_loss, float, HuberLossOptions<float>, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(huber_loss, double, HuberLossOptions<double>, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(smooth_l1_loss, float, SmoothL1LossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(smooth_l1_loss, double, SmoothL1LossOptions, run)

}  // namespace losskit
#endif  // HWY_ONCE
