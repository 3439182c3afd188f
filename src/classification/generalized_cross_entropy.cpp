// categorical_generalized_cross_entropy (Keras 3 CategoricalGeneralizedCrossEntropy): (1 - p_y^q) / q
// of predicted probabilities, one loss per row of the last dim on the shared row driver
// (core/rowwise.hpp), class ids validated there (core/class_args.hpp).
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/api.hpp"
#include "core/check.hpp"
#include "core/rowwise.hpp"
#include "losskit/classification.hpp"

namespace losskit {
namespace {

/// Keras takes p = sum_c x_c onehot_c, so an infinite or NaN probability off the label makes p NaN
/// (inf * 0); l = (1 - p^q) / q; d l / d x_c = onehot_c dl/dp with dl/dp = -p^(q - 1), the product
/// taken as autograd does (0 * inf = NaN off the label where p = 0).
template <class T>
struct GCEKernel {
  double q;
  double operator()(const detail::RowIn<T, std::int64_t>& r, T* g, std::int64_t sg, double gs) const {
    const std::int64_t y = *r.t;
    double p = static_cast<double>(r.x[y * r.sx]);
    for (std::int64_t c = 0; c < r.C; ++c)
      if (c != y && !std::isfinite(static_cast<double>(r.x[c * r.sx]))) p = std::numeric_limits<double>::quiet_NaN();
    const double dp = gs * -std::pow(p, q - 1.0);
    if (g)
      for (std::int64_t c = 0; c < r.C; ++c) g[c * sg] = static_cast<T>(dp * (c == y ? 1.0 : 0.0));
    return (1.0 - std::pow(p, q)) / q;
  }
};

template <class T>
void run(detail::Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<T> out,
         ConstView<T> grad_output, TensorView<T> grad_input, const GCEOptions& o, Tensor<T>* owned = nullptr) {
  constexpr std::string_view fn = "categorical_generalized_cross_entropy";
  if (!(o.q > 0 && o.q < 1)) detail::fail(ErrorKind::Value, fn, "q = ", o.q, " is outside (0, 1)");
  const detail::RowConfig cfg{.fn = fn, .reduction = o.reduction, .class_last = true,
                              .target = detail::RowTarget::ClassIds};
  detail::run_rows(cfg, pass,
                   detail::RowArgs<T, std::int64_t>{.input = input, .target = target, .out = out,
                                                    .grad_output = grad_output, .grad_input = grad_input,
                                                    .owned = owned},
                   GCEKernel<T>{o.q});
}

}  // namespace

LOSSKIT_DEFINE_LOSS(categorical_generalized_cross_entropy, float, std::int64_t, GCEOptions, run)
LOSSKIT_DEFINE_LOSS(categorical_generalized_cross_entropy, double, std::int64_t, GCEOptions, run)

}  // namespace losskit
