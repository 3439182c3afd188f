// generalized_kl_divergence (optax.losses.generalized_kl_divergence, formerly
// convex_kl_divergence): the Bregman divergence of x log x - x between unnormalized
// distributions, one loss per row of the last dim on the shared row driver (core/rowwise.hpp);
// optax's `where` is the driver's per-element weight, read as a mask.
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/api.hpp"
#include "core/rowwise.hpp"
#include "losskit/distribution.hpp"

namespace losskit {
namespace {

/// sum_c t_c (W(t_c) - x_c) + sum_c (exp(x_c) - t_c), W(t) = 0 where t == 0 else log t, over the
/// entries where the mask is nonzero (all without a mask), as optax writes it: t = 0 against
/// x = -inf gives 0 * inf = NaN, a negative t NaN. d/dx_c = exp(x_c) - t_c (JAX's gradient), 0 off
/// the mask.
template <class T>
struct GeneralizedKLKernel {
  double operator()(const detail::RowIn<T, T>& r, T* g, std::int64_t sg, double gs) const {
    double kl = 0, mass = 0;
    for (std::int64_t c = 0; c < r.C; ++c) {
      const bool in = r.w == nullptr || r.w[c * r.sw] != T(0);
      const T x = r.x[c * r.sx], t = r.t[c * r.st];
      if (!in) {
        if (g) g[c * sg] = T(0);
        continue;
      }
      const T ex = std::exp(x);
      kl += static_cast<double>(t * ((t == T(0) ? T(0) : std::log(t)) - x));
      mass += static_cast<double>(ex - t);
      if (g) g[c * sg] = static_cast<T>(gs * static_cast<double>(ex - t));
    }
    return kl + mass;
  }
};

template <class T>
void run(detail::Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
         TensorView<T> grad_input, const GeneralizedKLOptions<T>& o, Tensor<T>* owned = nullptr) {
  const detail::RowConfig cfg{.fn = "generalized_kl_divergence", .reduction = o.reduction, .class_last = true,
                              .target = detail::RowTarget::SameShape, .weight_name = "where"};
  detail::run_rows(cfg, pass,
                   detail::RowArgs<T, T>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                                         .grad_input = grad_input, .owned = owned, .weight = o.where},
                   GeneralizedKLKernel<T>{});
}

}  // namespace

#define LOSSKIT_GKL(T) \
  LOSSKIT_DEFINE_LOSS(generalized_kl_divergence, T, T, GeneralizedKLOptions<T>, run)
LOSSKIT_GKL(float)
LOSSKIT_GKL(double)
#undef LOSSKIT_GKL

}  // namespace losskit
