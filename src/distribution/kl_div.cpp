// kl_div: a pointwise loss on the shared driver (core/elementwise.hpp).
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "distribution/kl_div.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// Each op: Loss(d, x, y), Dx(d, x, y), Dy(d, x, y) on float32 vectors, with the scalar Op's
// special-value behaviour.
struct KLDivV {
  HWY_INLINE VF Loss(DF d, VF x, VF p) const {
    const VF v = hn::Mul(p, hn::Sub(LogPos(d, p), x));
    return Special(d, p, v);
  }
  HWY_INLINE VF Dx(DF, VF, VF p) const { return hn::Neg(p); }
  HWY_INLINE VF Dy(DF d, VF x, VF p) const {
    const VF v = hn::Sub(hn::Add(LogPos(d, p), hn::Set(d, 1.0f)), x);
    return Special(d, p, v);
  }
  // v where p > 0, 0 where p == 0, NaN otherwise (p < 0 or NaN).
  static HWY_INLINE VF Special(DF d, VF p, VF v) {
    const VF zero = hn::Zero(d);
    const VF nan = hn::Set(d, std::numeric_limits<float>::quiet_NaN());
    return hn::IfThenElse(hn::Gt(p, zero), v, hn::IfThenElse(hn::Eq(p, zero), zero, nan));
  }
};

struct KLDivLogTargetV {
  // A zero probability (t = -inf) counts 0 in the value and the target gradient, as the
  // scalar KLLogTargetOp (exp(-inf) * (-inf - x) would be NaN).
  HWY_INLINE VF Loss(DF d, VF x, VF t) const { return ZeroAtNegInf(d, t, hn::Mul(ExpFull(d, t), hn::Sub(t, x))); }
  HWY_INLINE VF Dx(DF d, VF, VF t) const { return hn::Neg(ExpFull(d, t)); }
  HWY_INLINE VF Dy(DF d, VF x, VF t) const {
    return ZeroAtNegInf(d, t, hn::Mul(ExpFull(d, t), hn::Add(hn::Sub(t, x), hn::Set(d, 1.0f))));
  }
  static HWY_INLINE VF ZeroAtNegInf(DF d, VF t, VF v) {
    return hn::IfThenZeroElse(hn::Eq(t, hn::Set(d, -std::numeric_limits<float>::infinity())), v);
  }
};

double KLDivBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(KLDivV{}, a, begin, end);
}

double KLDivLogTargetBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(KLDivLogTargetV{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <limits>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "losskit/distribution.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(KLDivBlock, "kl_div")
LOSSKIT_POINTWISE_KERNEL(KLDivLogTargetBlock, "kl_div_log_target")
}  // namespace losskit::kernels

namespace losskit {
namespace {

using detail::Pass;

/// p (log p - x), with 0 log 0 = 0 in the value and both gradients.
struct KLOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::KLDivBlock_dispatch;
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
  static constexpr kernels::PwBlockFn kSimd = &kernels::KLDivLogTargetBlock_dispatch;
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
#endif  // HWY_ONCE
