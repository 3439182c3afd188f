// quantile_loss (pinball loss, TensorFlow Addons tfa.losses.pinball_loss): a pointwise loss on
// the shared driver.
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "regression/quantile_loss.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// quantile_loss (pinball), as the scalar PinballOp (regression/quantile_loss.cpp), operation by
// operation (the same bits): e = y - x, loss = (e >= 0 ? tau e : (tau - 1) e),
// dx = (e >= 0 ? -tau : 1 - tau), dy = (e >= 0 ? tau : tau - 1) (NaN e: the second branch).
struct PinballV {
  float tau;
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF e = hn::Sub(y, x);
    return hn::IfThenElse(hn::Ge(e, hn::Zero(d)), hn::Mul(hn::Set(d, tau), e), hn::Mul(hn::Set(d, tau - 1.0f), e));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    return hn::IfThenElse(hn::Ge(hn::Sub(y, x), hn::Zero(d)), hn::Set(d, -tau), hn::Set(d, 1.0f - tau));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    return hn::IfThenElse(hn::Ge(hn::Sub(y, x), hn::Zero(d)), hn::Set(d, tau), hn::Set(d, tau - 1.0f));
  }
};

double PinballBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(PinballV{p.a}, a, begin, end);
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
LOSSKIT_POINTWISE_KERNEL(PinballBlock, "quantile_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

/// e = y - x: tau e if e >= 0 else (tau - 1) e.
template <class T>
struct PinballOp {
  T tau;
  static constexpr kernels::PwBlockFn kSimd = &kernels::PinballBlock_dispatch;  // contiguous float32
  kernels::PwParams simd_params() const { return {.a = static_cast<float>(tau)}; }
  template <class V>
  V loss(V x, V y) const {
    const V e = y - x;
    return e >= V(0) ? tau * e : (tau - V(1)) * e;
  }
  template <class V>
  V dx(V x, V y) const { return y - x >= V(0) ? -tau : V(1) - tau; }
  template <class V>
  V dy(V x, V y) const { return y - x >= V(0) ? tau : tau - V(1); }
};

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const QuantileLossOptions& o) {
  constexpr std::string_view fn = "quantile_loss";
  detail::check_range(fn, "tau", o.tau, 0.0, 1.0);
  detail::run_pointwise({.fn = fn, .reduction = o.reduction}, pass, a, PinballOp<T>{static_cast<T>(o.tau)});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(quantile_loss, float, QuantileLossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(quantile_loss, double, QuantileLossOptions, run)

}  // namespace losskit
#endif  // HWY_ONCE
