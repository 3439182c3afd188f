// quantile_loss (pinball loss, TensorFlow Addons tfa.losses.pinball_loss): a pointwise loss on
// the shared driver.
#include "core/check.hpp"
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit {
namespace {

/// e = y - x: tau e if e >= 0 else (tau - 1) e.
template <class T>
struct PinballOp {
  T tau;
  static constexpr kernels::PwKind kSimd = kernels::PwKind::Pinball;  // contiguous float32
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
