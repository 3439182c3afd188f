// l1_loss: a pointwise loss on the shared driver (core/elementwise.hpp).
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit {
namespace {

/// |x - y|; the gradient is sign(x - y), 0 at x == y (PyTorch's sgn).
struct L1Op {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::L1;  // contiguous float32
  template <class V>
  V loss(V x, V y) const { return x > y ? x - y : y - x; }
  template <class V>
  V dx(V x, V y) const { return x > y ? V(1) : (x < y ? V(-1) : V(0)); }
  template <class V>
  V dy(V x, V y) const { return x > y ? V(-1) : (x < y ? V(1) : V(0)); }
};

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const L1LossOptions<T>& o) {
  a.weight = o.weight;
  // PyTorch's weighted l1: torch.sum(w * l) / torch.sum(w) for 'mean'.
  const detail::PointwiseConfig cfg{.fn = "l1_loss", .reduction = o.reduction, .mean_over = detail::MeanOver::Weights};
  detail::run_pointwise(cfg, pass, a, L1Op{});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(l1_loss, float, L1LossOptions<float>, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(l1_loss, double, L1LossOptions<double>, run)

}  // namespace losskit
