// poisson_nll_loss: a pointwise loss on the shared driver (core/elementwise.hpp).
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "regression/poisson_nll_loss.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// Stirling's term of poisson_nll_loss with full = True, as the scalar stirling / stirling_dy:
// y > 1 ? y log y - y + 0.5 log(2 pi y) : 0 and y > 1 ? log y + 0.5 / y : 0 (NaN: 0), the
// same float32 operations except log (LogPos, under 1 ULP).
struct Stirling {
  static HWY_INLINE VF Term(DF d, VF y) {
    const VF v = hn::Add(hn::Sub(hn::Mul(y, LogPos(d, y)), y),
                         hn::Mul(hn::Set(d, 0.5f), LogPos(d, hn::Mul(hn::Set(d, 6.28318530717958648f), y))));
    return hn::IfThenElseZero(hn::Gt(y, hn::Set(d, 1.0f)), v);
  }
  static HWY_INLINE VF Dy(DF d, VF y) {
    const VF v = hn::Add(LogPos(d, y), hn::Div(hn::Set(d, 0.5f), y));
    return hn::IfThenElseZero(hn::Gt(y, hn::Set(d, 1.0f)), v);
  }
};

// poisson_nll_loss with log_input, as the scalar PoissonLogOp (regression/poisson_nll_loss.cpp):
// loss = exp(x) - (y == 0 ? 0 : y x) (+ Stirling's term when full), dx = exp(x) - y,
// dy = -x (+ its derivative); exp as ExpFull (Highway's Exp, max 1 ULP; inf above
// 88.72, NaN kept).
struct PoissonLogV {
  bool full;
  HWY_INLINE VF Full(DF d, VF y, VF l) const { return full ? hn::Add(l, Stirling::Term(d, y)) : l; }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF e = ExpFull(d, x);
    l = Full(d, y, hn::Sub(e, hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(y, x))));
    g = hn::Sub(e, y);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    return Full(d, y, hn::Sub(ExpFull(d, x), hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(y, x))));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return hn::Sub(ExpFull(d, x), y); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return full ? hn::Sub(Stirling::Dy(d, y), x) : hn::Neg(x); }
};

// poisson_nll_loss without log_input, as the scalar PoissonRateOp:
// loss = x - (y == 0 ? 0 : y log(x + eps)) (+ Stirling's term when full),
// dx = 1 - (y == 0 ? 0 : y (1 / (x + eps))), dy = -log(x + eps) (+ its derivative); the same
// float32 operations except log (LogPos: under 1 ULP, and std::log's values at 0, negatives, inf
// and NaN).
struct PoissonRateV {
  float eps;
  bool full;
  static HWY_INLINE VF CountTimes(DF d, VF y, VF t) { return hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(y, t)); }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF l = hn::Sub(x, CountTimes(d, y, LogPos(d, hn::Add(x, hn::Set(d, eps)))));
    return full ? hn::Add(l, Stirling::Term(d, y)) : l;
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF one = hn::Set(d, 1.0f);
    return hn::Sub(one, CountTimes(d, y, hn::Div(one, hn::Add(x, hn::Set(d, eps)))));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    const VF lg = LogPos(d, hn::Add(x, hn::Set(d, eps)));
    return full ? hn::Sub(Stirling::Dy(d, y), lg) : hn::Neg(lg);
  }
};

double PoissonLogBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(PoissonLogV{p.b != 0}, a, begin, end);
}

double PoissonRateBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(PoissonRateV{p.a, p.b != 0}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <numbers>

#include "core/check.hpp"
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(PoissonLogBlock, "poisson_nll_loss_log_input")
LOSSKIT_POINTWISE_KERNEL(PoissonRateBlock, "poisson_nll_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

/// Stirling's term y log y - y + 0.5 log(2 pi y) where y > 1, else 0, and its derivative.
template <class V>
V stirling(V y) {
  return y > V(1) ? y * std::log(y) - y + V(0.5) * std::log(V(2 * std::numbers::pi) * y) : V(0);
}
template <class V>
V stirling_dy(V y) {
  return y > V(1) ? std::log(y) + V(0.5) / y : V(0);
}

/// y * t with 0 * t = 0 for y == 0 (a zero count contributes nothing even at x = -inf, where
/// PyTorch's 0 * -inf gives NaN).
template <class V>
V count_times(V y, V t) {
  return y == V(0) ? V(0) : y * t;
}

/// exp(x) - y x (+ Stirling).
template <bool Full>
struct PoissonLogOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::PoissonLogBlock_dispatch;  // contiguous float32
  kernels::PwParams simd_params() const { return {.b = Full ? 1.0f : 0.0f}; }
  template <class V>
  V loss(V x, V y) const {
    const V l = std::exp(x) - count_times(y, x);
    if constexpr (Full) return l + stirling(y);
    return l;
  }
  template <class V>
  V dx(V x, V y) const { return std::exp(x) - y; }
  template <class V>
  V dy(V x, V y) const {
    if constexpr (Full) return stirling_dy(y) - x;
    return -x;
  }
};

/// x - y log(x + eps) (+ Stirling).
template <class T, bool Full>
struct PoissonRateOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::PoissonRateBlock_dispatch;  // contiguous float32
  T eps;
  kernels::PwParams simd_params() const { return {.a = static_cast<float>(eps), .b = Full ? 1.0f : 0.0f}; }
  template <class V>
  V loss(V x, V y) const {
    const V l = x - count_times(y, std::log(x + eps));
    if constexpr (Full) return l + stirling(y);
    return l;
  }
  template <class V>
  V dx(V x, V y) const { return V(1) - count_times(y, V(1) / (x + eps)); }
  template <class V>
  V dy(V x, V y) const {
    if constexpr (Full) return stirling_dy(y) - std::log(x + eps);
    return -std::log(x + eps);
  }
};

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const PoissonNLLLossOptions& o) {
  const detail::PointwiseConfig cfg{.fn = "poisson_nll_loss", .reduction = o.reduction};
  const T eps = static_cast<T>(o.eps);
  if (o.log_input) {
    if (o.full) detail::run_pointwise(cfg, pass, a, PoissonLogOp<true>{});
    else detail::run_pointwise(cfg, pass, a, PoissonLogOp<false>{});
  } else {
    if (o.full) detail::run_pointwise(cfg, pass, a, PoissonRateOp<T, true>{eps});
    else detail::run_pointwise(cfg, pass, a, PoissonRateOp<T, false>{eps});
  }
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(poisson_nll_loss, float, PoissonNLLLossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(poisson_nll_loss, double, PoissonNLLLossOptions, run)

}  // namespace losskit
#endif  // HWY_ONCE
