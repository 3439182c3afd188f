// poisson_nll_loss: a pointwise loss on the shared driver (core/elementwise.hpp).
#include <cmath>
#include <numbers>

#include "core/check.hpp"
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "kernels/pointwise.hpp"

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
  static constexpr kernels::PwKind kSimd = kernels::PwKind::PoissonLog;  // contiguous float32
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
  static constexpr kernels::PwKind kSimd = kernels::PwKind::PoissonRate;  // contiguous float32
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
