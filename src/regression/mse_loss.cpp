// mse_loss: a pointwise loss on the shared driver (core/elementwise.hpp).
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "regression/mse_loss.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// The regression kinds reproduce their scalar Ops (src/regression/) operation by operation,
// comparisons and all, so they give the same bits (NaN and inf included).
struct MSEV {
  HWY_INLINE VF Loss(DF, VF x, VF y) const { return hn::Mul(hn::Sub(x, y), hn::Sub(x, y)); }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return hn::Mul(hn::Set(d, 2.0f), hn::Sub(x, y)); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Mul(hn::Set(d, 2.0f), hn::Sub(y, x)); }
};

double MSEBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(MSEV{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(MSEBlock, "mse_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

/// (x - y)^2.
struct MSEOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::MSEBlock_dispatch;  // contiguous float32
  template <class V>
  V loss(V x, V y) const { return (x - y) * (x - y); }
  template <class V>
  V dx(V x, V y) const { return V(2) * (x - y); }
  template <class V>
  V dy(V x, V y) const { return V(2) * (y - x); }
};

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const MSELossOptions<T>& o) {
  a.weight = o.weight;
  // PyTorch's weighted mse: torch.sum(w * l) / torch.sum(w) for 'mean'.
  const detail::PointwiseConfig cfg{.fn = "mse_loss", .reduction = o.reduction, .mean_over = detail::MeanOver::Weights};
  detail::run_pointwise(cfg, pass, a, MSEOp{});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(mse_loss, float, MSELossOptions<float>, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(mse_loss, double, MSELossOptions<double>, run)

}  // namespace losskit
#endif  // HWY_ONCE
