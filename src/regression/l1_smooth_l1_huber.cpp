// huber_loss and smooth_l1_loss: one family (huber(delta) == delta * smooth_l1(beta = delta)),
// pointwise losses on the shared driver (core/elementwise.hpp).
#include "core/check.hpp"
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit {
namespace {

/// 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta); gradient clamp(d, -delta, delta).
template <class T>
struct HuberOp {
  T delta;
  static constexpr kernels::PwKind kSimd = kernels::PwKind::Huber;  // contiguous float32
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
  static constexpr kernels::PwKind kSimd = kernels::PwKind::SmoothL1;  // contiguous float32
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

/// |d| (smooth_l1 with beta == 0 is l1_loss, as in PyTorch).
struct AbsOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::L1;  // contiguous float32
  template <class V>
  V loss(V x, V y) const { return x > y ? x - y : y - x; }
  template <class V>
  V dx(V x, V y) const { return x > y ? V(1) : (x < y ? V(-1) : V(0)); }
  template <class V>
  V dy(V x, V y) const { return x > y ? V(-1) : (x < y ? V(1) : V(0)); }
};

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
    detail::run_pointwise(cfg, pass, a, AbsOp{});
    return;
  }
  const T beta = static_cast<T>(o.beta);
  detail::run_pointwise(cfg, pass, a, SmoothL1Op<T>{beta, static_cast<T>(0.5 * o.beta), static_cast<T>(1.0 / o.beta)});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(huber_loss, float, HuberLossOptions<float>, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(huber_loss, double, HuberLossOptions<double>, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(smooth_l1_loss, float, SmoothL1LossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(smooth_l1_loss, double, SmoothL1LossOptions, run)

}  // namespace losskit
