// log_cosh_loss (optax.losses.log_cosh): a pointwise loss on the shared driver.
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "regression/log_cosh_loss.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// log_cosh_loss, as the scalar LogCoshOp (regression/log_cosh_loss.cpp), optax's form:
// loss = z + log1p(exp(-2 z)) - ln 2 with z = |x - y| (ExpNonPos and Log1pUnit: a few ULP of
// z + ln 2, the same cancellation near z = 0 as the scalar form, which works in float32 too),
// dx = tanh(x - y) (Highway's Tanh, max 4 ULP; +-1 at +-inf, NaN kept), dy = -dx.
struct LogCoshV {
  static HWY_INLINE VF Th(DF d, VF df) {
    const VF t = hn::IfThenElse(hn::IsInf(df), hn::CopySign(hn::Set(d, 1.0f), df), hn::Tanh(d, df));
    return hn::IfThenElse(hn::IsNaN(df), df, t);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF z = hn::Abs(hn::Sub(x, y));
    const VF l1p = Log1pUnit(d, ExpNonPos(d, hn::Mul(hn::Set(d, -2.0f), z)));
    return hn::Sub(hn::Add(z, l1p), hn::Set(d, 0.693147180559945309f));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return Th(d, hn::Sub(x, y)); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Neg(Th(d, hn::Sub(x, y))); }
};

double LogCoshBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(LogCoshV{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <numbers>

#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(LogCoshBlock, "log_cosh_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

/// log(cosh(d)) = |d| + log1p(exp(-2|d|)) - log 2, which neither overflows nor cancels.
struct LogCoshOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::LogCoshBlock_dispatch;  // contiguous float32
  template <class V>
  V loss(V x, V y) const {
    const V d = x - y;
    const V z = d < V(0) ? -d : d;
    return z + std::log1p(std::exp(V(-2) * z)) - V(std::numbers::ln2);
  }
  template <class V>
  V dx(V x, V y) const { return std::tanh(x - y); }
  template <class V>
  V dy(V x, V y) const { return -std::tanh(x - y); }
};

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const LogCoshLossOptions& o) {
  detail::run_pointwise({.fn = "log_cosh_loss", .reduction = o.reduction}, pass, a, LogCoshOp{});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(log_cosh_loss, float, LogCoshLossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(log_cosh_loss, double, LogCoshLossOptions, run)

}  // namespace losskit
#endif  // HWY_ONCE
