// mse_loss: a pointwise loss on the shared driver (core/elementwise.hpp).
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit {
namespace {

/// (x - y)^2.
struct MSEOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::MSE;  // contiguous float32
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
