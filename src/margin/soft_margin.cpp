// soft_margin_loss (pointwise, core/elementwise.hpp) and multilabel_soft_margin_loss (one loss
// per row of the last dim, core/rowwise.hpp). Both computed with a stable softplus.
#include <cmath>
#include <type_traits>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "core/rowwise.hpp"
#include "kernels/logistic.hpp"
#include "kernels/pointwise.hpp"
#include "losskit/margin.hpp"

namespace losskit {
namespace {

using detail::Pass;

/// log(1 + exp(-y x)); a label of 0 gives log 2 and no gradient, also at infinite x.
struct SoftMarginOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::SoftMargin;  // contiguous float32
  template <class V>
  static V z(V x, V y) { return y == V(0) ? V(0) : -y * x; }
  template <class V>
  V loss(V x, V y) const { return kernels::softplus(z(x, y)); }
  template <class V>
  V dx(V x, V y) const { return y == V(0) ? V(0) : -y * kernels::sigmoid(z(x, y)); }
  template <class V>
  V dy(V x, V y) const { return x == V(0) ? V(0) : -x * kernels::sigmoid(z(x, y)); }
};

template <class T>
void run_soft_margin(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
                     TensorView<T> grad_input, const SoftMarginOptions& o, Tensor<T>* owned = nullptr) {
  const detail::PointwiseConfig cfg{.fn = "soft_margin_loss", .reduction = o.reduction};
  detail::run_pointwise(cfg, pass,
                        detail::PointwiseArgs<T>{.input = input, .target = target, .out = out,
                                                 .grad_output = grad_output, .grad_input = grad_input, .owned = owned},
                        SoftMarginOp{});
}

/// (1/C) sum_c w_c (y_c sp(-x_c) + (1 - y_c) sp(x_c)): bce_with_logits' terms, so contiguous
/// float32 rows run its SIMD kind (kernels/pointwise.hpp), the rest the float64 loop below.
template <class T>
struct MultilabelSoftMarginKernel {
  double operator()(const detail::RowIn<T, T>& r, T* g, std::int64_t sg, double gs) const {
    const double invC = 1.0 / static_cast<double>(r.C);
    if constexpr (std::is_same_v<T, float>) {
      if (r.sx == 1 && r.st == 1 && (!r.w || r.sw == 1) && (!g || sg == 1)) {
        kernels::PwArgs pa{.x = r.x, .y = r.t, .w = r.w, .forward = true, .gi = g,
                           .scale = static_cast<float>(gs * invC)};
        return kernels::pointwise_block(kernels::PwKind::BCELogits, {}, pa, 0, r.C) * invC;
      }
    }
    double s = 0;
    for (std::int64_t c = 0; c < r.C; ++c) {
      const double x = static_cast<double>(r.x[c * r.sx]), y = static_cast<double>(r.t[c * r.st]);
      const double w = r.w ? static_cast<double>(r.w[c * r.sw]) : 1.0;
      const double l = kernels::coef_mul(y, kernels::softplus(-x)) + kernels::coef_mul(1.0 - y, kernels::softplus(x));
      s += w * l;
      if (g) g[c * sg] = static_cast<T>(gs * w * (kernels::sigmoid(x) - y) * invC);
    }
    return s * invC;
  }
};

template <class T>
void run_multilabel_soft_margin(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out,
                                ConstView<T> grad_output, TensorView<T> grad_input,
                                const MultilabelSoftMarginOptions<T>& o, Tensor<T>* owned = nullptr) {
  constexpr std::string_view fn = "multilabel_soft_margin_loss";
  ConstView<T> w = o.weight;
  if (!w.is_null()) {
    detail::check_data(fn, "weight", w);
    detail::check_data(fn, "input", input);
    w = detail::broadcast_to(fn, "weight", w, input.shape());
  }
  const detail::RowConfig cfg{.fn = fn, .reduction = o.reduction, .class_last = true};
  detail::run_rows(cfg, pass,
                   detail::RowArgs<T, T>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                                         .grad_input = grad_input, .owned = owned, .weight = w},
                   MultilabelSoftMarginKernel<T>{});
}

}  // namespace

LOSSKIT_DEFINE_LOSS(soft_margin_loss, float, float, SoftMarginOptions, run_soft_margin)
LOSSKIT_DEFINE_LOSS(soft_margin_loss, double, double, SoftMarginOptions, run_soft_margin)
LOSSKIT_DEFINE_LOSS(multilabel_soft_margin_loss, float, float, MultilabelSoftMarginOptions<float>,
                    run_multilabel_soft_margin)
LOSSKIT_DEFINE_LOSS(multilabel_soft_margin_loss, double, double, MultilabelSoftMarginOptions<double>,
                    run_multilabel_soft_margin)

}  // namespace losskit
