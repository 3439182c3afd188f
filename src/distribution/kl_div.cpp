// kl_div: a pointwise loss on the shared driver (core/elementwise.hpp).
#include <cmath>
#include <limits>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "losskit/distribution.hpp"

namespace losskit {
namespace {

using detail::Pass;

/// p (log p - x), with 0 log 0 = 0 in the value and both gradients.
struct KLOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::KLDiv;
  template <class V>
  V loss(V x, V p) const {
    if (p > V(0)) return p * (std::log(p) - x);
    return p == V(0) ? V(0) : std::numeric_limits<V>::quiet_NaN();
  }
  template <class V>
  V dx(V, V p) const { return -p; }
  template <class V>
  V dy(V x, V p) const {
    if (p > V(0)) return std::log(p) + V(1) - x;
    return p == V(0) ? V(0) : std::numeric_limits<V>::quiet_NaN();
  }
};

/// exp(t) (t - x): target given as log-probabilities. A zero probability (t = -inf) counts 0 in
/// the value and both gradients, as p == 0 does above (exp(-inf) * (-inf - x) would be NaN).
struct KLLogTargetOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::KLDivLogTarget;
  template <class V>
  V loss(V x, V t) const {
    if (t == -std::numeric_limits<V>::infinity()) return V(0);
    return std::exp(t) * (t - x);
  }
  template <class V>
  V dx(V, V t) const { return -std::exp(t); }
  template <class V>
  V dy(V x, V t) const {
    if (t == -std::numeric_limits<V>::infinity()) return V(0);
    return std::exp(t) * (t - x + V(1));
  }
};

template <class T, class A = T, class G = T>
void run(Pass pass, detail::PointwiseArgs<T, A, G> a, const KLDivOptions& o) {
  const detail::PointwiseConfig cfg{.fn = "kl_div", .reduction = o.reduction, .allow_batchmean = true};
  if (o.log_target) detail::run_pointwise(cfg, pass, a, KLLogTargetOp{});
  else detail::run_pointwise(cfg, pass, a, KLOp{});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(kl_div, float, KLDivOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(kl_div, double, KLDivOptions, run)

// 16-bit log-probabilities and targets: computed in float32, float32 loss and grad_output; the
// gradients in the inputs' dtype (G = T) or in float32 (G = float).
#define LOSSKIT_KL_16_API(T, G)                                                                                  \
  void kl_div_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<T> target,                   \
                       TensorView<G> grad_input, TensorView<G> grad_target, const KLDivOptions& opts) {          \
    run<T, float, G>(Pass::Backward,                                                                             \
                     {.input = input, .target = target, .grad_output = grad_output, .grad_input = grad_input,    \
                      .grad_target = grad_target},                                                               \
                     opts);                                                                                      \
  }                                                                                                              \
  void kl_div_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<float> out,                  \
                               TensorView<G> grad_input, TensorView<G> grad_target, const KLDivOptions& opts) {  \
    run<T, float, G>(Pass::ForwardBackward,                                                                      \
                     {.input = input, .target = target, .out = out, .grad_input = grad_input,                    \
                      .grad_target = grad_target},                                                               \
                     opts);                                                                                      \
  }
#define LOSSKIT_KL_16_FWD(T)                                                                                     \
  void kl_div(ConstView<T> input, ConstView<T> target, TensorView<float> out, const KLDivOptions& opts) {       \
    run<T, float, T>(Pass::Forward, {.input = input, .target = target, .out = out}, opts);                      \
  }                                                                                                              \
  Tensor<float> kl_div(ConstView<T> input, ConstView<T> target, const KLDivOptions& opts) {                     \
    Tensor<float> out;                                                                                           \
    run<T, float, T>(Pass::Forward, {.input = input, .target = target, .owned = &out}, opts);                   \
    return out;                                                                                                  \
  }

LOSSKIT_KL_16_FWD(bfloat16)
LOSSKIT_KL_16_FWD(float16)
LOSSKIT_KL_16_API(bfloat16, bfloat16)
LOSSKIT_KL_16_API(bfloat16, float)
LOSSKIT_KL_16_API(float16, float16)
LOSSKIT_KL_16_API(float16, float)

}  // namespace losskit
