// sigmoid_focal_loss (pointwise, core/elementwise.hpp) and softmax_focal_loss (one loss per
// row of class scores, core/rowwise.hpp). Both keep their gradients finite for every gamma >= 0
// by taking the terms that carry (1 - p_t)^(gamma - 1) as their limits where they vanish.
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "classification/focal.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// sigmoid_focal_loss, as the scalar SigmoidFocalOp (classification/focal.cpp), formula by
// formula for every lane (params: a = alpha, b = gamma, c = 1 when alpha < 0, i.e. a_t = 1):
//   p = sigmoid(x), omp = sigmoid(-x) (e = exp(-|x|), RecipUnit(1 + e); exactly 0 / 1 at +-inf)
//   ce = coef_mul(y, sp(-x)) + coef_mul(1 - y, sp(x)),  sp(z) = max(z, 0) + log1p(e)
//   q = p (1 - y) + omp y,  mod = q^gamma,  a_t = alpha y + (1 - alpha)(1 - y)
//   loss = a_t coef_mul(mod, ce)
//   dx = a_t ((p - y) mod + [gamma != 0, p omp > 0, q > 0] gamma ce q^(gamma - 1) (1 - 2y) p omp)
// q^gamma: q q for gamma = 2, q for 1, 1 for 0; otherwise exp(gamma log |q|) (Highway's Exp,
// LogPos) with the sign of q for odd integer gamma, NaN for q < 0 and other gamma, 0 at q = 0.
// A NaN x or y gives NaN (as the scalar form). ExpNonPos flushes e below 2^-126, where the
// scalar form keeps subnormal p or omp (differences below 1e-37).
struct SigmoidFocalV {
  float alpha, gamma;
  bool no_alpha;
  HWY_INLINE VF Pow(DF d, VF q, float g) const {
    if (g == 2.0f) return hn::Mul(q, q);
    if (g == 1.0f) return q;
    if (g == 0.0f) return hn::Set(d, 1.0f);
    const VF aq = hn::Abs(q);
    VF v = ExpFull(d, hn::Mul(hn::Set(d, g), LogPos(d, aq)));
    const auto neg = hn::Lt(q, hn::Zero(d));
    const bool integer = std::nearbyint(g) == g;
    const bool odd = integer && std::fmod(g, 2.0f) != 0.0f;
    if (!integer) v = hn::IfThenElse(neg, hn::Set(d, std::numeric_limits<float>::quiet_NaN()), v);
    else if (odd) v = hn::IfThenElse(neg, hn::Neg(v), v);
    // 0^g = 0 (g > 0), 0^g = inf (g < 0, only as gamma - 1 where q > 0 is required anyway).
    return hn::IfThenElse(hn::Eq(q, hn::Zero(d)), hn::Set(d, g > 0 ? 0.0f : std::numeric_limits<float>::infinity()), v);
  }
  static HWY_INLINE VF CoefMul(DF d, VF a, VF b) { return hn::IfThenZeroElse(hn::Eq(a, hn::Zero(d)), hn::Mul(a, b)); }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF one = hn::Set(d, 1.0f), zero = hn::Zero(d);
    const VF e = ExpNonPos(d, hn::Neg(hn::Abs(x)));
    const VF r = RecipUnit(d, hn::Add(one, e));
    const VF er = hn::Mul(e, r);
    const auto pos = hn::Ge(x, zero);
    const VF p = hn::IfThenElse(pos, r, er), omp = hn::IfThenElse(pos, er, r);
    const VF l1p = Log1pUnit(d, e);
    const VF spp = hn::Add(hn::Max(x, zero), l1p), spn = hn::Add(hn::Max(hn::Neg(x), zero), l1p);
    const VF omy = hn::Sub(one, y);
    const VF ce = hn::Add(CoefMul(d, y, spn), CoefMul(d, omy, spp));
    const VF q = hn::Add(hn::Mul(p, omy), hn::Mul(omp, y));
    const VF mod = Pow(d, q, gamma);
    const VF at = no_alpha ? one : hn::Add(hn::Mul(hn::Set(d, alpha), y), hn::Mul(hn::Set(d, 1.0f - alpha), omy));
    const auto nan = hn::Or(hn::IsNaN(x), hn::IsNaN(y));
    l = hn::IfThenElse(nan, hn::Add(x, y), hn::Mul(at, CoefMul(d, mod, ce)));
    VF dd = hn::Mul(hn::Sub(p, y), mod);
    if (gamma != 0.0f) {
      const VF ppm = hn::Mul(p, omp);
      const VF mod1 = Pow(d, q, gamma - 1.0f);
      const VF extra = hn::Mul(hn::Mul(hn::Mul(hn::Mul(hn::Set(d, gamma), ce), mod1), hn::Sub(one, hn::Add(y, y))), ppm);
      dd = hn::Add(dd, hn::IfThenElseZero(hn::And(hn::Gt(ppm, zero), hn::Gt(q, zero)), extra));
    }
    g = hn::IfThenElse(nan, hn::Add(x, y), hn::Mul(at, dd));
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    VF l, g;
    LossDx(d, x, y, l, g);
    return l;
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    VF l, g;
    LossDx(d, x, y, l, g);
    return g;
  }
  HWY_INLINE VF Dy(DF d, VF, VF) const { return hn::Set(d, std::numeric_limits<float>::quiet_NaN()); }
};

double SigmoidFocalBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(SigmoidFocalV{p.a, p.b, p.c != 0}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <limits>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "core/rowwise.hpp"
#include "kernels/logistic.hpp"
#include "kernels/softmax.hpp"
#include "kernels/softmax_row.hpp"
#include "losskit/classification.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(SigmoidFocalBlock, "sigmoid_focal_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

using detail::Pass;

// ------------------------------------------------------------------------- sigmoid focal -----
struct SigmoidFocalOp {
  double alpha, gamma;
  static constexpr kernels::PwBlockFn kSimd = &kernels::SigmoidFocalBlock_dispatch;  // contiguous float32
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
#endif  // HWY_ONCE
