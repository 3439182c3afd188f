// hinge_loss, squared_hinge_loss, categorical_hinge_loss: Keras' hinges, one loss per row of
// the last dim on the shared row driver (core/rowwise.hpp).
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/api.hpp"
#include "core/math.hpp"
#include "core/rowwise.hpp"
#include "losskit/margin.hpp"

namespace losskit {
namespace {

using detail::Pass;

/// mean_c max(0, 1 - y_c x_c)^power (power 1 or 2), y converted from {0, 1} when `binary`.
template <class T>
struct HingeKernel {
  int power;
  bool binary;
  double operator()(const detail::RowIn<T, T>& r, T* g, std::int64_t sg, double gs) const {
    const double invC = 1.0 / static_cast<double>(r.C);
    double s = 0;
    for (std::int64_t c = 0; c < r.C; ++c) {
      double y = static_cast<double>(r.t[c * r.st]);
      if (binary) y = 2.0 * y - 1.0;
      const double m = 1.0 - y * static_cast<double>(r.x[c * r.sx]);
      double d = 0;
      if (m > 0) {
        s += power == 1 ? m : m * m;
        d = -gs * y * invC * (power == 1 ? 1.0 : 2.0 * m);
      } else if (std::isnan(m)) {
        s += m;  // maximum(NaN, 0) is NaN (TF, JAX, torch); its gradient 0
      }
      if (g) g[c * sg] = static_cast<T>(d);
    }
    return s * invC;
  }
};

/// max(0, max_c (1 - y_c) x_c - sum_c y_c x_c + 1).
template <class T>
struct CategoricalHingeKernel {
  double operator()(const detail::RowIn<T, T>& r, T* g, std::int64_t sg, double gs) const {
    double pos = 0, neg = -std::numeric_limits<double>::infinity();
    std::int64_t k = -1;
    for (std::int64_t c = 0; c < r.C; ++c) {
      const double x = static_cast<double>(r.x[c * r.sx]), y = static_cast<double>(r.t[c * r.st]);
      pos += y * x;
      const double v = (1.0 - y) * x;
      if (k < 0 || v > neg || std::isnan(v)) {  // a NaN is the max (and stays)
        neg = v;
        k = c;
      }
    }
    const double l = detail::clamp_min0(neg - pos + 1.0);  // NaN kept
    if (g) {
      for (std::int64_t c = 0; c < r.C; ++c) {
        const double y = static_cast<double>(r.t[c * r.st]);
        // A NaN max: TF's, JAX's and torch's max gradient divides by the count of entries equal
        // to the max (0 here), so the whole row's gradient is NaN in Keras.
        g[c * sg] = std::isnan(neg) ? std::numeric_limits<T>::quiet_NaN()
                                    : static_cast<T>(l > 0 ? gs * (-y + (c == k ? 1.0 - y : 0.0)) : 0.0);
      }
    }
    return l;
  }
};

/// Keras' convert_binary_labels_to_hinge: true when every label is 0 or 1.
template <class T>
bool all_binary(ConstView<T> target) {
  for (std::int64_t i = 0; i < target.numel(); ++i) {
    const T v = target.flat(i);
    if (!(v == T(0) || v == T(1))) return false;
  }
  return true;
}

template <class T, int kPower>
void run_hinge(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
               TensorView<T> grad_input, const HingeOptions& o, Tensor<T>* owned = nullptr) {
  const std::string_view fn = kPower == 1 ? "hinge_loss" : "squared_hinge_loss";
  detail::check_data(fn, "target", target);
  const bool binary = all_binary(target);
  const detail::RowConfig cfg{.fn = fn, .reduction = o.reduction, .class_last = true};
  detail::run_rows(cfg, pass,
                   detail::RowArgs<T, T>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                                         .grad_input = grad_input, .owned = owned},
                   HingeKernel<T>{kPower, binary});
}
template <class T>
void run_hinge1(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
                TensorView<T> grad_input, const HingeOptions& o, Tensor<T>* owned = nullptr) {
  run_hinge<T, 1>(pass, input, target, out, grad_output, grad_input, o, owned);
}
template <class T>
void run_hinge2(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
                TensorView<T> grad_input, const HingeOptions& o, Tensor<T>* owned = nullptr) {
  run_hinge<T, 2>(pass, input, target, out, grad_output, grad_input, o, owned);
}

template <class T>
void run_categorical_hinge(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out,
                           ConstView<T> grad_output, TensorView<T> grad_input, const HingeOptions& o,
                           Tensor<T>* owned = nullptr) {
  const detail::RowConfig cfg{.fn = "categorical_hinge_loss", .reduction = o.reduction, .class_last = true};
  detail::run_rows(cfg, pass,
                   detail::RowArgs<T, T>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                                         .grad_input = grad_input, .owned = owned},
                   CategoricalHingeKernel<T>{});
}

}  // namespace

LOSSKIT_DEFINE_LOSS(hinge_loss, float, float, HingeOptions, run_hinge1)
LOSSKIT_DEFINE_LOSS(hinge_loss, double, double, HingeOptions, run_hinge1)
LOSSKIT_DEFINE_LOSS(squared_hinge_loss, float, float, HingeOptions, run_hinge2)
LOSSKIT_DEFINE_LOSS(squared_hinge_loss, double, double, HingeOptions, run_hinge2)
LOSSKIT_DEFINE_LOSS(categorical_hinge_loss, float, float, HingeOptions, run_categorical_hinge)
LOSSKIT_DEFINE_LOSS(categorical_hinge_loss, double, double, HingeOptions, run_categorical_hinge)

}  // namespace losskit
