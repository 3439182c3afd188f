// multiclass_perceptron_loss (optax.losses.multiclass_perceptron_loss): max_c x_c - x_y, one
// loss per row of the last dim on the shared row driver (core/rowwise.hpp), class ids validated
// there (core/class_args.hpp).
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/api.hpp"
#include "core/rowwise.hpp"
#include "losskit/margin.hpp"

namespace losskit {
namespace {

/// max_c x_c - x_y. The max's gradient is JAX's: split evenly among the entries equal to the max
/// (jnp.max's VJP divides by their count), so a row whose max is NaN (no entry equals it) has a
/// NaN gradient throughout. optax takes x_y as sum_c x_c onehot_c, where an infinite score off
/// the label gives inf * 0 = NaN: such a row's loss is NaN (its gradient stays JAX's, finite).
template <class T>
struct PerceptronKernel {
  double operator()(const detail::RowIn<T, std::int64_t>& r, T* g, std::int64_t sg, double gs) const {
    double m = -std::numeric_limits<double>::infinity();
    bool nan = false, inf_off_label = false;
    const std::int64_t y = *r.t;
    for (std::int64_t c = 0; c < r.C; ++c) {
      const double x = static_cast<double>(r.x[c * r.sx]);
      if (std::isnan(x)) nan = true;
      else if (x > m) m = x;
      if (c != y && std::isinf(x)) inf_off_label = true;
    }
    const double xy = static_cast<double>(r.x[y * r.sx]);
    if (nan) {
      if (g)
        for (std::int64_t c = 0; c < r.C; ++c) g[c * sg] = std::numeric_limits<T>::quiet_NaN();
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (g) {
      std::int64_t ties = 0;
      for (std::int64_t c = 0; c < r.C; ++c) ties += static_cast<double>(r.x[c * r.sx]) == m;
      const double share = gs / static_cast<double>(ties);
      for (std::int64_t c = 0; c < r.C; ++c)
        g[c * sg] = static_cast<T>((static_cast<double>(r.x[c * r.sx]) == m ? share : 0.0) - (c == y ? gs : 0.0));
    }
    return inf_off_label ? std::numeric_limits<double>::quiet_NaN() : m - xy;
  }
};

template <class T>
void run(detail::Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<T> out,
         ConstView<T> grad_output, TensorView<T> grad_input, const MulticlassPerceptronOptions& o,
         Tensor<T>* owned = nullptr) {
  const detail::RowConfig cfg{.fn = "multiclass_perceptron_loss", .reduction = o.reduction, .class_last = true,
                              .target = detail::RowTarget::ClassIds};
  detail::run_rows(cfg, pass,
                   detail::RowArgs<T, std::int64_t>{.input = input, .target = target, .out = out,
                                                    .grad_output = grad_output, .grad_input = grad_input,
                                                    .owned = owned},
                   PerceptronKernel<T>{});
}

}  // namespace

LOSSKIT_DEFINE_LOSS(multiclass_perceptron_loss, float, std::int64_t, MulticlassPerceptronOptions, run)
LOSSKIT_DEFINE_LOSS(multiclass_perceptron_loss, double, std::int64_t, MulticlassPerceptronOptions, run)

}  // namespace losskit
