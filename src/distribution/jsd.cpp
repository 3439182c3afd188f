// jsd: Liger Kernel's generalized Jensen-Shannon divergence on (BT, V) log-probabilities, on the
// masked-rows driver (core/masked_rows.hpp). The vector Ops (float32 lanes) below are compiled
// once per SIMD target; the scalar Ops further down serve float64 and strided rows.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "distribution/jsd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// x = log q (student), y = log p (teacher). Where x + y is NaN (a NaN, or +inf against -inf) the
// value and the gradients are NaN; elsewhere a zero probability counts 0 (0 log 0 = 0).
HWY_INLINE VF NaNWhere(DF, VF x, VF y, VF v) {
  const VF s = hn::Add(x, y);
  return hn::IfThenElse(hn::IsNaN(s), s, v);
}
HWY_INLINE VF ZeroWhereZero(DF d, VF prob, VF v) { return hn::IfThenZeroElse(hn::Eq(prob, hn::Zero(d)), v); }

// 0 < beta < 1: m = beta p + (1 - beta) q, l = beta p (y - log m) + (1 - beta) q (x - log m).
// With mx = max(x, y) and e = exp(-|x - y|): log m = mx + log(beta e^(y - mx) + (1 - beta) e^(x - mx)),
// p and q are exp(mx) and exp(mx) e, and y - log m, x - log m are formed from y - mx and x - mx
// (0 or -|x - y|), so no large log m cancels against y or x.
// exp(mx) takes the short ExpNonPos where a vector's mx are all <= 0 (log-probabilities); the
// argument of the log lies in [min(beta, 1 - beta), 1], normal whenever min(beta, 1 - beta) is
// (kNormal: the short LogNormal).
template <bool kNormal>
struct JsdV {
  float b, c;  // beta, 1 - beta
  HWY_INLINE void Parts(DF d, VF x, VF y, VF& p, VF& q, VF& ylm, VF& xlm) const {
    const VF dn = hn::Neg(hn::Abs(hn::Sub(x, y)));
    const VF e = ExpNonPos(d, dn);
    const auto xmax = hn::Ge(x, y);
    const VF mx = hn::IfThenElse(xmax, x, y);
    const VF em = hn::AllTrue(d, hn::Le(mx, hn::Zero(d))) ? ExpNonPos(d, mx) : ExpFull(d, mx);
    const VF B = hn::Set(d, b), C = hn::Set(d, c);
    const VF arg = hn::IfThenElse(xmax, hn::MulAdd(B, e, C), hn::MulAdd(C, e, B));
    const VF L = kNormal ? LogNormal(d, arg) : LogPos(d, arg);
    const VF eme = hn::Mul(em, e);
    p = hn::IfThenElse(xmax, eme, em);
    q = hn::IfThenElse(xmax, em, eme);
    ylm = hn::Sub(hn::IfThenElseZero(xmax, dn), L);
    xlm = hn::Sub(hn::IfThenZeroElse(xmax, dn), L);
  }
  HWY_INLINE VF Tp(DF d, VF p, VF ylm) const { return ZeroWhereZero(d, p, hn::Mul(hn::Mul(hn::Set(d, b), p), ylm)); }
  HWY_INLINE VF Tq(DF d, VF q, VF xlm) const { return ZeroWhereZero(d, q, hn::Mul(hn::Mul(hn::Set(d, c), q), xlm)); }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    VF p, q, ylm, xlm;
    Parts(d, x, y, p, q, ylm, xlm);
    const VF tq = Tq(d, q, xlm);
    l = NaNWhere(d, x, y, hn::Add(Tp(d, p, ylm), tq));
    g = NaNWhere(d, x, y, tq);
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
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    VF p, q, ylm, xlm;
    Parts(d, x, y, p, q, ylm, xlm);
    return NaNWhere(d, x, y, Tp(d, p, ylm));
  }
};

// beta = 0: forward KL(p || q), l = p (y - x).
struct JsdForwardKLV {
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF p = ExpFull(d, y);
    return NaNWhere(d, x, y, ZeroWhereZero(d, p, hn::Mul(p, hn::Sub(y, x))));
  }
  HWY_INLINE VF Dx(DF d, VF, VF y) const { return hn::Neg(ExpFull(d, y)); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    const VF p = ExpFull(d, y);
    return NaNWhere(d, x, y, ZeroWhereZero(d, p, hn::Mul(p, hn::Add(hn::Sub(y, x), hn::Set(d, 1.0f)))));
  }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF p = ExpFull(d, y);
    l = NaNWhere(d, x, y, ZeroWhereZero(d, p, hn::Mul(p, hn::Sub(y, x))));
    g = hn::Neg(p);
  }
};

// beta = 1: reverse KL(q || p), l = q (x - y).
struct JsdReverseKLV {
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF q = ExpFull(d, x);
    return NaNWhere(d, x, y, ZeroWhereZero(d, q, hn::Mul(q, hn::Sub(x, y))));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF q = ExpFull(d, x);
    return NaNWhere(d, x, y, ZeroWhereZero(d, q, hn::Add(hn::Mul(q, hn::Sub(x, y)), q)));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF) const { return hn::Neg(ExpFull(d, x)); }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF q = ExpFull(d, x);
    const VF t = hn::Mul(q, hn::Sub(x, y));
    l = NaNWhere(d, x, y, ZeroWhereZero(d, q, t));
    g = NaNWhere(d, x, y, ZeroWhereZero(d, q, hn::Add(t, q)));
  }
};

// PwParams: a = beta, b = 1 - beta.
double JsdBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  if (std::min(p.a, p.b) >= std::numeric_limits<float>::min()) return PointwiseBlock(JsdV<true>{p.a, p.b}, a, begin, end);
  return PointwiseBlock(JsdV<false>{p.a, p.b}, a, begin, end);
}
double JsdForwardKLBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(JsdForwardKLV{}, a, begin, end);
}
double JsdReverseKLBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(JsdReverseKLV{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <limits>

#include "core/api.hpp"
#include "core/masked_rows.hpp"
#include "losskit/distribution.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(JsdBlock, "jsd")
LOSSKIT_POINTWISE_KERNEL(JsdForwardKLBlock, "jsd_forward_kl")
LOSSKIT_POINTWISE_KERNEL(JsdReverseKLBlock, "jsd_reverse_kl")
}  // namespace losskit::kernels

namespace losskit {
namespace {

using detail::Pass;

template <class V>
constexpr V kNaN = std::numeric_limits<V>::quiet_NaN();
template <class V>
constexpr V kNegInf = -std::numeric_limits<V>::infinity();

/// 0 < beta < 1, the formulas of JsdV: l = beta p (y - log m) + (1 - beta) q (x - log m),
/// d/dx = (1 - beta) q (x - log m), d/dy = beta p (y - log m); a zero probability counts 0.
struct JsdOp {
  double beta;
  static constexpr kernels::PwBlockFn kSimd = &kernels::JsdBlock_dispatch;
  kernels::PwParams simd_params() const {
    return {.a = static_cast<float>(beta), .b = static_cast<float>(1.0 - beta)};
  }
  // The two terms beta p (y - log m) and (1 - beta) q (x - log m), or false where x + y is NaN.
  template <class V>
  bool terms(V x, V y, V& tp, V& tq) const {
    if (std::isnan(x + y)) return false;
    tp = tq = V(0);
    if (x == kNegInf<V> && y == kNegInf<V>) return true;
    const V b = static_cast<V>(beta), c = static_cast<V>(1.0 - beta);
    const bool xmax = x >= y;
    const V dn = -std::fabs(x - y), e = std::exp(dn);
    const V em = std::exp(xmax ? x : y);
    const V L = std::log(xmax ? b * e + c : c * e + b);
    const V p = xmax ? em * e : em, q = xmax ? em : em * e;
    if (p != V(0)) tp = b * p * ((xmax ? dn : V(0)) - L);
    if (q != V(0)) tq = c * q * ((xmax ? V(0) : dn) - L);
    return true;
  }
  template <class V>
  V loss(V x, V y) const {
    V tp, tq;
    return terms(x, y, tp, tq) ? tp + tq : kNaN<V>;
  }
  template <class V>
  V dx(V x, V y) const {
    V tp, tq;
    return terms(x, y, tp, tq) ? tq : kNaN<V>;
  }
  template <class V>
  V dy(V x, V y) const {
    V tp, tq;
    return terms(x, y, tp, tq) ? tp : kNaN<V>;
  }
};

/// beta = 0: KL(p || q) = p (y - x); d/dx = -p, d/dy = p (y - x + 1); 0 where p == 0.
struct JsdForwardKLOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::JsdForwardKLBlock_dispatch;
  template <class V>
  V loss(V x, V y) const {
    if (std::isnan(x + y)) return kNaN<V>;
    const V p = std::exp(y);
    return p == V(0) ? V(0) : p * (y - x);
  }
  template <class V>
  V dx(V, V y) const { return -std::exp(y); }
  template <class V>
  V dy(V x, V y) const {
    if (std::isnan(x + y)) return kNaN<V>;
    const V p = std::exp(y);
    return p == V(0) ? V(0) : p * (y - x + V(1));
  }
};

/// beta = 1: KL(q || p) = q (x - y); d/dx = q (x - y + 1), d/dy = -q; 0 where q == 0.
struct JsdReverseKLOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::JsdReverseKLBlock_dispatch;
  template <class V>
  V loss(V x, V y) const {
    if (std::isnan(x + y)) return kNaN<V>;
    const V q = std::exp(x);
    return q == V(0) ? V(0) : q * (x - y);
  }
  template <class V>
  V dx(V x, V y) const {
    if (std::isnan(x + y)) return kNaN<V>;
    const V q = std::exp(x);
    return q == V(0) ? V(0) : q * (x - y) + q;
  }
  template <class V>
  V dy(V x, V) const { return -std::exp(x); }
};

template <class T>
void run(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
         TensorView<T> grad_input, const JSDOptions& o, Tensor<T>* owned = nullptr, TensorView<T> grad_target = {}) {
  constexpr std::string_view fn = "jsd";
  detail::check_range(fn, "beta", o.beta, 0.0, 1.0);
  const detail::MaskedRowsConfig cfg{
      .fn = fn, .reduction = Reduction::BatchMean, .ignore_index = o.ignore_index, .labels = o.shift_labels};
  const detail::MaskedRowsArgs<T> a{.input = input, .target = target, .out = out, .grad_output = grad_output,
                                    .grad_input = grad_input, .grad_target = grad_target, .owned = owned};
  if (o.beta == 0.0) detail::run_masked_rows(cfg, pass, a, JsdForwardKLOp{});
  else if (o.beta == 1.0) detail::run_masked_rows(cfg, pass, a, JsdReverseKLOp{});
  else detail::run_masked_rows(cfg, pass, a, JsdOp{o.beta});
}

}  // namespace

LOSSKIT_DEFINE_LOSS(jsd, float, float, JSDOptions, run)
LOSSKIT_DEFINE_LOSS(jsd, double, double, JSDOptions, run)
LOSSKIT_DEFINE_TARGET_GRAD(jsd, float, JSDOptions, run)
LOSSKIT_DEFINE_TARGET_GRAD(jsd, double, JSDOptions, run)

}  // namespace losskit
#endif  // HWY_ONCE
