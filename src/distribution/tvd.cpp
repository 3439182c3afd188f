// tvd: Liger Kernel's total variation distance on (BT, V) probabilities, on the masked-rows
// driver (core/masked_rows.hpp). The vector Op (float32 lanes) below is compiled once per SIMD
// target; the scalar Op further down serves float64 and strided rows.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "distribution/tvd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// l = |x - y| / 2; d/dx = sign(x - y) / 2 (0 where x == y, NaN where x - y is NaN), d/dy = -d/dx.
struct TvdV {
  static HWY_INLINE VF HalfSign(DF d, VF x, VF y) {
    const VF diff = hn::Sub(x, y);
    const VF s = hn::IfThenZeroElse(hn::Eq(diff, hn::Zero(d)), hn::CopySign(hn::Set(d, 0.5f), diff));
    return hn::IfThenElse(hn::IsNaN(diff), diff, s);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const { return hn::Mul(hn::Set(d, 0.5f), hn::Abs(hn::Sub(x, y))); }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return HalfSign(d, x, y); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Neg(HalfSign(d, x, y)); }
};

double TvdBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(TvdV{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "core/api.hpp"
#include "core/masked_rows.hpp"
#include "losskit/distribution.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(TvdBlock, "tvd")
}  // namespace losskit::kernels

namespace losskit {
namespace {

using detail::Pass;

/// |x - y| / 2, d/dx = sign(x - y) / 2 (0 on a tie, NaN where x - y is NaN), d/dy = -d/dx.
struct TvdOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::TvdBlock_dispatch;
  template <class V>
  V loss(V x, V y) const { return V(0.5) * std::fabs(x - y); }
  template <class V>
  V dx(V x, V y) const {
    const V diff = x - y;
    if (std::isnan(diff)) return diff;
    return diff == V(0) ? V(0) : std::copysign(V(0.5), diff);
  }
  template <class V>
  V dy(V x, V y) const { return -dx(x, y); }
};

template <class T>
void run(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
         TensorView<T> grad_input, const TVDOptions& o, Tensor<T>* owned = nullptr, TensorView<T> grad_target = {}) {
  const detail::MaskedRowsConfig cfg{
      .fn = "tvd", .reduction = o.reduction, .ignore_index = o.ignore_index, .labels = o.shift_labels};
  detail::run_masked_rows(cfg, pass,
                          detail::MaskedRowsArgs<T>{.input = input, .target = target, .out = out,
                                                    .grad_output = grad_output, .grad_input = grad_input,
                                                    .grad_target = grad_target, .owned = owned},
                          TvdOp{});
}

}  // namespace

LOSSKIT_DEFINE_LOSS(tvd, float, float, TVDOptions, run)
LOSSKIT_DEFINE_LOSS(tvd, double, double, TVDOptions, run)
LOSSKIT_DEFINE_TARGET_GRAD(tvd, float, TVDOptions, run)
LOSSKIT_DEFINE_TARGET_GRAD(tvd, double, TVDOptions, run)

}  // namespace losskit
#endif  // HWY_ONCE
