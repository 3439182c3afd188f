// log_cosh_loss (optax.losses.log_cosh): a pointwise loss on the shared driver.
#include <cmath>
#include <numbers>

#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit {
namespace {

/// log(cosh(d)) = |d| + log1p(exp(-2|d|)) - log 2, which neither overflows nor cancels.
struct LogCoshOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::LogCosh;  // contiguous float32
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
