// l2_loss (optax.losses.l2_loss): 0.5 (x - y)^2, a pointwise loss on the shared driver
// (core/elementwise.hpp). The vector Op (float32 lanes) is compiled once per SIMD target
// (foreach_target) and picked at run time; it repeats the scalar Op's operations, so both give the
// same bits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "regression/l2_loss.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// loss = 0.5 (d d), dx = d, dy = -d with d = x - y (y - x for dy: the same bits, negated).
struct L2V {
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF e = hn::Sub(x, y);
    return hn::Mul(hn::Set(d, 0.5f), hn::Mul(e, e));
  }
  HWY_INLINE VF Dx(DF, VF x, VF y) const { return hn::Sub(x, y); }
  HWY_INLINE VF Dy(DF, VF x, VF y) const { return hn::Sub(y, x); }
};

double L2Block(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(L2V{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "losskit/regression.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(L2Block, "l2_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

/// 0.5 (x - y)^2, as optax: 0.5 * (predictions - targets) ** 2.
struct L2Op {
  static constexpr kernels::PwBlockFn kSimd = &kernels::L2Block_dispatch;  // contiguous float32
  template <class V>
  V loss(V x, V y) const { return V(0.5) * ((x - y) * (x - y)); }
  template <class V>
  V dx(V x, V y) const { return x - y; }
  template <class V>
  V dy(V x, V y) const { return y - x; }
};

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const L2LossOptions& o) {
  detail::run_pointwise({.fn = "l2_loss", .reduction = o.reduction}, pass, a, L2Op{});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(l2_loss, float, L2LossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(l2_loss, double, L2LossOptions, run)

}  // namespace losskit
#endif  // HWY_ONCE
