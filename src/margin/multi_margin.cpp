// multi_margin_loss and multilabel_margin_loss: PyTorch's multi-class and multi-label hinges,
// one loss per row of C scores on the shared row driver (core/rowwise.hpp).
#include <cmath>

#include "core/api.hpp"
#include "core/rowwise.hpp"
#include "losskit/margin.hpp"

namespace losskit {
namespace {

using detail::Pass;

/// A 0-d view (or buffer) as the vector of its one element; other views as they are.
template <class T>
TensorView<T> one_score(TensorView<T> v) {
  return v.ndim() == 0 && !v.is_null() ? TensorView<T>(v.data(), Shape{1}) : v;
}

/// (1/C) sum_{j != y} w[y] max(0, margin - x_y + x_j)^p.
template <class T>
struct MultiMarginKernel {
  int p;
  double margin;
  const T* weight;
  double operator()(const detail::RowIn<T, std::int64_t>& r, T* g, std::int64_t sg, double gs) const {
    const std::int64_t y = *r.t;
    const double invC = 1.0 / static_cast<double>(r.C);
    const double xy = static_cast<double>(r.x[y * r.sx]);
    const double wy = weight ? static_cast<double>(weight[y]) : 1.0;
    double s = 0, gy = 0;
    bool active = false;  // PyTorch weighs the active terms only: none active gives 0 for any w[y]
    for (std::int64_t j = 0; j < r.C; ++j) {
      if (j == y) continue;
      const double z = margin - xy + static_cast<double>(r.x[j * r.sx]);
      double d = 0;
      if (z > 0) {
        active = true;
        s += (p == 1) ? z : z * z;
        d = gs * wy * invC * ((p == 1) ? 1.0 : 2.0 * z);
      }
      if (g) g[j * sg] = static_cast<T>(d);
      gy -= d;
    }
    if (g) g[y * sg] = static_cast<T>(gy);
    return active ? wy * s * invC : 0.0;
  }
};

template <class T>
void run_multi_margin(Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<T> out,
                      ConstView<T> grad_output, TensorView<T> grad_input, const MultiMarginOptions<T>& o,
                      Tensor<T>* owned = nullptr) {
  using namespace detail;
  constexpr std::string_view fn = "multi_margin_loss";
  if (o.p != 1 && o.p != 2) fail(ErrorKind::Value, fn, "p = ", o.p, " is not supported (only 1 and 2)");
  if (!std::isfinite(o.margin)) fail(ErrorKind::Value, fn, "margin = ", o.margin, " must be finite");
  if (input.ndim() > 2)
    fail(ErrorKind::Shape, fn, "input must be a vector (C) or a matrix (N, C), got shape ", input.shape().str());
  // PyTorch's forms: a 0-d input is one score (C = 1); the class id of a single row is () or (1),
  // and the 'none' loss takes the target's shape.
  if (input.ndim() == 0) {
    input = one_score(input);
    grad_input = one_score(grad_input);
  }
  check_weight(fn, o.weight.size(), input.size(input.ndim() - 1));
  const Shape target_shape = target.shape();
  if (target.ndim() <= 1 && target.numel() == 1 && (input.ndim() == 1 || input.size(0) == 1))
    target = ConstView<std::int64_t>(target.data(), input.ndim() == 1 ? Shape{} : Shape{1});
  const bool reshaped = o.reduction == Reduction::None && !(target.shape() == target_shape);
  if (reshaped) {
    if (out.numel() == 1) out = TensorView<T>(out.data(), target.shape());
    if (grad_output.numel() == 1) grad_output = ConstView<T>(grad_output.data(), target.shape());
  }
  const RowConfig cfg{.fn = fn, .reduction = o.reduction, .target = RowTarget::ClassIds, .max_ndim = 2};
  run_rows(cfg, pass,
           RowArgs<T, std::int64_t>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                                    .grad_input = grad_input, .owned = owned},
           MultiMarginKernel<T>{o.p, o.margin, o.weight.empty() ? nullptr : o.weight.data()});
  if (reshaped && owned) *owned = Tensor<T>(target_shape, std::move(owned->values()));
}

/// (1/C) sum over labels j (entries before the first -1) and non-labels i of max(0, 1 - x_j + x_i).
template <class T>
struct MultilabelMarginKernel {
  double operator()(const detail::RowIn<T, std::int64_t>& r, T* g, std::int64_t sg, double gs) const {
    const std::int64_t C = r.C;
    std::int64_t L = 0;
    while (L < C && r.t[L * r.st] >= 0) ++L;
    auto is_label = [&](std::int64_t c) {
      for (std::int64_t k = 0; k < L; ++k)
        if (r.t[k * r.st] == c) return true;
      return false;
    };
    if (g)
      for (std::int64_t c = 0; c < C; ++c) g[c * sg] = T(0);
    const double invC = 1.0 / static_cast<double>(C);
    const double d = gs * invC;
    double s = 0;
    for (std::int64_t k = 0; k < L; ++k) {
      const std::int64_t j = r.t[k * r.st];
      const double xj = static_cast<double>(r.x[j * r.sx]);
      for (std::int64_t i = 0; i < C; ++i) {
        if (is_label(i)) continue;
        const double z = 1.0 - xj + static_cast<double>(r.x[i * r.sx]);
        if (z > 0) {
          s += z;
          if (g) {
            g[i * sg] = static_cast<T>(static_cast<double>(g[i * sg]) + d);
            g[j * sg] = static_cast<T>(static_cast<double>(g[j * sg]) - d);
          }
        }
      }
    }
    return s * invC;
  }
};

template <class T>
void run_multilabel_margin(Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<T> out,
                           ConstView<T> grad_output, TensorView<T> grad_input, const MultilabelMarginOptions& o,
                           Tensor<T>* owned = nullptr) {
  using namespace detail;
  constexpr std::string_view fn = "multilabel_margin_loss";
  check_data(fn, "input", input);
  check_data(fn, "target", target);
  if (input.ndim() > 2)
    fail(ErrorKind::Shape, fn, "input must be a vector (C) or a matrix (N, C), got shape ", input.shape().str());
  // PyTorch's forms: a 0-d input is one score (C = 1), and a single row's target may be 0-d when
  // it holds one entry.
  if (input.ndim() == 0) {
    input = one_score(input);
    grad_input = one_score(grad_input);
  }
  if (input.ndim() == 1 && target.ndim() == 0 && input.size(0) == 1)
    target = ConstView<std::int64_t>(target.data(), Shape{1});
  check_same_shape(fn, "input", input.shape(), "target", target.shape());
  const std::int64_t C = input.size(input.ndim() - 1);
  for (std::int64_t i = 0; i < target.numel(); ++i) {
    const std::int64_t v = target.flat(i);
    if (v < -1 || v >= C)
      fail(ErrorKind::Index, fn, "target[", position_of(target.shape(), i), "] = ", v, " is outside [-1, ", C,
           ") (each row lists class ids, padded with -1)");
  }
  const RowConfig cfg{.fn = fn, .reduction = o.reduction, .class_last = true, .max_ndim = 2};
  run_rows(cfg, pass,
           RowArgs<T, std::int64_t>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                                    .grad_input = grad_input, .owned = owned},
           MultilabelMarginKernel<T>{});
}

}  // namespace

LOSSKIT_DEFINE_LOSS(multi_margin_loss, float, std::int64_t, MultiMarginOptions<float>, run_multi_margin)
LOSSKIT_DEFINE_LOSS(multi_margin_loss, double, std::int64_t, MultiMarginOptions<double>, run_multi_margin)
LOSSKIT_DEFINE_LOSS(multilabel_margin_loss, float, std::int64_t, MultilabelMarginOptions, run_multilabel_margin)
LOSSKIT_DEFINE_LOSS(multilabel_margin_loss, double, std::int64_t, MultilabelMarginOptions, run_multilabel_margin)

}  // namespace losskit
