// sigmoid_focal_loss (pointwise, core/elementwise.hpp) and softmax_focal_loss (one loss per
// row of class scores, core/rowwise.hpp). Both keep their gradients finite for every gamma >= 0
// by taking the terms that carry (1 - p_t)^(gamma - 1) as their limits where they vanish.
#include <cmath>
#include <limits>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "core/rowwise.hpp"
#include "kernels/logistic.hpp"
#include "kernels/softmax.hpp"
#include "kernels/softmax_row.hpp"
#include "losskit/classification.hpp"

namespace losskit {
namespace {

using detail::Pass;

// ------------------------------------------------------------------------- sigmoid focal -----
struct SigmoidFocalOp {
  double alpha, gamma;
  static constexpr kernels::PwKind kSimd = kernels::PwKind::SigmoidFocal;  // contiguous float32
  kernels::PwParams simd_params() const {
    return {.a = static_cast<float>(alpha), .b = static_cast<float>(gamma), .c = alpha < 0 ? 1.0f : 0.0f};
  }

  template <class V>
  V alpha_t(V y) const {
    if (alpha < 0) return V(1);
    const V a = static_cast<V>(alpha);
    return a * y + (V(1) - a) * (V(1) - y);
  }
  /// ce = y sp(-x) + (1 - y) sp(x); q = 1 - p_t = p (1 - y) + (1 - p) y.
  template <class V>
  static V ce(V x, V y) {
    return kernels::coef_mul(y, kernels::softplus(-x)) + kernels::coef_mul(V(1) - y, kernels::softplus(x));
  }
  template <class V>
  static V one_minus_pt(V p, V omp, V y) { return p * (V(1) - y) + omp * y; }
  template <class V>
  V loss(V x, V y) const {
    const V p = kernels::sigmoid(x), omp = kernels::sigmoid(-x);
    const V q = one_minus_pt(p, omp, y);
    const V mod = gamma == 0 ? V(1) : std::pow(q, static_cast<V>(gamma));
    return alpha_t(y) * kernels::coef_mul(mod, ce(x, y));
  }
  template <class V>
  V dx(V x, V y) const {
    const V p = kernels::sigmoid(x), omp = kernels::sigmoid(-x);
    const V q = one_minus_pt(p, omp, y);
    const V g = static_cast<V>(gamma);
    const V mod = gamma == 0 ? V(1) : std::pow(q, g);
    V d = (p - y) * mod;
    const V ppm = p * omp;  // dp/dx; where it is 0 the term below is 0 in the limit
    if (gamma != 0 && ppm > V(0) && q > V(0)) d += g * ce(x, y) * std::pow(q, g - V(1)) * (V(1) - V(2) * y) * ppm;
    return alpha_t(y) * d;
  }
  template <class V>
  V dy(V, V) const { return std::numeric_limits<V>::quiet_NaN(); }  // no target gradient is offered
};

template <class T>
void run_sigmoid_focal(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out,
                       ConstView<T> grad_output, TensorView<T> grad_input, const SigmoidFocalOptions& o,
                       Tensor<T>* owned = nullptr) {
  constexpr std::string_view fn = "sigmoid_focal_loss";
  detail::check_at_least(fn, "gamma", o.gamma, 0.0);
  if (!std::isfinite(o.alpha)) detail::fail(ErrorKind::Value, fn, "alpha = ", o.alpha, " must be finite");
  const detail::PointwiseConfig cfg{.fn = fn, .reduction = o.reduction};
  detail::run_pointwise(cfg, pass,
                        detail::PointwiseArgs<T>{.input = input, .target = target, .out = out,
                                                 .grad_output = grad_output, .grad_input = grad_input, .owned = owned},
                        SigmoidFocalOp{o.alpha, o.gamma});
}

// ------------------------------------------------------------------------- softmax focal -----
/// l = -sum_c a_c t'_c (1 - p_c)^gamma log p_c over one row; t'_c from the row's target.
template <class T, class TT>
struct SoftmaxFocalKernel {
  double alpha, gamma, smoothing;
  const T* class_alpha;

  double tprime(const detail::RowIn<T, TT>& r, std::int64_t c) const {
    double t;
    if constexpr (std::is_same_v<TT, std::int64_t>) t = (*r.t == c) ? 1.0 : 0.0;
    else t = static_cast<double>(r.t[c * r.st]);
    return (1.0 - smoothing) * t + smoothing / static_cast<double>(r.C);
  }
  /// The loss term of class c and h_c (see the header), for log-probability lp.
  void term(double a, double lp, double& l, double& h) const {
    const double p = std::exp(lp), om = -std::expm1(lp);
    const double mod = gamma == 0 ? 1.0 : std::pow(om, gamma);
    l = (mod == 0) ? 0.0 : -a * mod * lp;
    double second = 0;
    if (gamma != 0 && om > 0 && p > 0) second = gamma * std::pow(om, gamma - 1) * p * lp;
    h = -a * (mod - second);
  }
  double operator()(const detail::RowIn<T, TT>& r, T* g, std::int64_t sg, double gs) const {
    if constexpr (std::is_same_v<T, float> && std::is_same_v<TT, std::int64_t>) {
      if (smoothing == 0 && r.sx == 1 && (!g || sg == 1)) return simd_ids(r, g, gs);
    }
    const kernels::RowStats rs = kernels::row_stats<T>(r.x, r.sx, r.C, nullptr, false);
    double loss = 0, H = 0;
    for (std::int64_t c = 0; c < r.C; ++c) {
      const double a = (class_alpha ? static_cast<double>(class_alpha[c]) : alpha) * tprime(r, c);
      if (a == 0) continue;
      double l, h;
      term(a, rs.logp(static_cast<double>(r.x[c * r.sx])), l, h);
      loss += l;
      H += h;
    }
    if (g) {
      for (std::int64_t c = 0; c < r.C; ++c) {
        const double lp = rs.logp(static_cast<double>(r.x[c * r.sx]));
        const double a = (class_alpha ? static_cast<double>(class_alpha[c]) : alpha) * tprime(r, c);
        double l = 0, h = 0;
        if (a != 0) term(a, lp, l, h);
        g[c * sg] = static_cast<T>(gs * (h - std::exp(lp) * H));
      }
    }
    return loss;
  }
  /// float32 rows with contiguous classes, a class id y and no smoothing: only class y has a
  /// term, so the gradient is h (onehot - p) = cross-entropy's times -h, and the SIMD
  /// cross-entropy row kernel (kernels/softmax.hpp) runs twice: once for ce = lse - x_y
  /// (float64, lse within about 2e-7; log p_y = -ce), then with the upstream gradient -gs h.
  double simd_ids(const detail::RowIn<T, TT>& r, T* g, double gs) const {
    const double a = class_alpha ? static_cast<double>(class_alpha[*r.t]) : alpha;
    double l = 0, h = 0;
    kernels::ce_id_row_scaled(r.x, r.C, r.t, g, [&](double ce) {
      if (a != 0) term(a, -ce, l, h);
      return -gs * h;
    });
    return l;
  }
};

template <class T, class TT>
void run_softmax_focal(Pass pass, ConstView<T> input, ConstView<TT> target, TensorView<T> out,
                       ConstView<T> grad_output, TensorView<T> grad_input, const SoftmaxFocalOptions<T>& o,
                       Tensor<T>* owned = nullptr) {
  using namespace detail;
  constexpr std::string_view fn = "softmax_focal_loss";
  constexpr bool ids = std::is_same_v<TT, std::int64_t>;
  check_at_least(fn, "gamma", o.gamma, 0.0);
  check_range(fn, "label_smoothing", o.label_smoothing, 0.0, 1.0);
  if (!std::isfinite(o.alpha)) fail(ErrorKind::Value, fn, "alpha = ", o.alpha, " must be finite");
  if (input.ndim() >= 1) check_weight(fn, o.class_alpha.size(), input.size(input.ndim() == 1 ? 0 : 1), "class_alpha");
  if (!ids && o.ignore_index >= 0)
    fail(ErrorKind::Value, fn, "ignore_index = ", o.ignore_index,
         " is not supported with probability targets (it must be negative)");
  const RowConfig cfg{.fn = fn,
                      .reduction = o.reduction,
                      .target = ids ? RowTarget::ClassIds : RowTarget::SameShape,
                      .ignore_index = o.ignore_index};
  run_rows(cfg, pass,
           RowArgs<T, TT>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                          .grad_input = grad_input, .owned = owned},
           SoftmaxFocalKernel<T, TT>{o.alpha, o.gamma, o.label_smoothing,
                                     o.class_alpha.empty() ? nullptr : o.class_alpha.data()});
}
template <class T>
void run_softmax_focal_ids(Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<T> out,
                           ConstView<T> grad_output, TensorView<T> grad_input, const SoftmaxFocalOptions<T>& o,
                           Tensor<T>* owned = nullptr) {
  run_softmax_focal<T, std::int64_t>(pass, input, target, out, grad_output, grad_input, o, owned);
}
template <class T>
void run_softmax_focal_probs(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out,
                             ConstView<T> grad_output, TensorView<T> grad_input, const SoftmaxFocalOptions<T>& o,
                             Tensor<T>* owned = nullptr) {
  run_softmax_focal<T, T>(pass, input, target, out, grad_output, grad_input, o, owned);
}

}  // namespace

LOSSKIT_DEFINE_LOSS(sigmoid_focal_loss, float, float, SigmoidFocalOptions, run_sigmoid_focal)
LOSSKIT_DEFINE_LOSS(sigmoid_focal_loss, double, double, SigmoidFocalOptions, run_sigmoid_focal)
LOSSKIT_DEFINE_LOSS(softmax_focal_loss, float, std::int64_t, SoftmaxFocalOptions<float>, run_softmax_focal_ids)
LOSSKIT_DEFINE_LOSS(softmax_focal_loss, double, std::int64_t, SoftmaxFocalOptions<double>, run_softmax_focal_ids)
LOSSKIT_DEFINE_LOSS(softmax_focal_loss, float, float, SoftmaxFocalOptions<float>, run_softmax_focal_probs)
LOSSKIT_DEFINE_LOSS(softmax_focal_loss, double, double, SoftmaxFocalOptions<double>, run_softmax_focal_probs)

}  // namespace losskit
