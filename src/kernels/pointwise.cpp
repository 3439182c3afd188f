// SIMD pointwise losses (interface: kernels/pointwise.hpp), one Highway target per compile of
// this file (foreach_target) and the best one picked at run time.
//
// Each block is one sweep: load x, y (and w), compute value and gradients in registers, store.
// Loss sums accumulate in float64 (lanes promoted, fixed-order horizontal sum).
// Accuracy: KLDiv uses LogPos (kernels/simd-inl.h: under 1 ULP, Highway's Log for vectors
// holding 0, subnormals or specials); KLDivLogTarget Highway's Exp (max 1 ULP);
// the value p (log p - x) is then one multiply and one subtract in float32, so within a few
// float32 ULP of the float64 formula (relative to |p log p| + |p x|).
#if defined(__SANITIZE_ADDRESS__) && !defined(HWY_DISABLED_TARGETS)
// Sanitizer builds compile this file for AVX-512 and the scalar fallback only: with all five
// x86 targets GCC's instrumented compile of the kinds here takes over half an hour on 2 cores.
// The Release tests run every target; on a CPU without AVX-512 the sanitizers see the scalar one.
#define HWY_DISABLED_TARGETS (HWY_AVX2 | HWY_SSE4 | HWY_SSSE3)
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/pointwise.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/pointwise.hpp"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// Each op: Loss(d, x, y), Dx(d, x, y), Dy(d, x, y) on float32 vectors, with the scalar Op's
// special-value behaviour.
struct KLDivV {
  HWY_INLINE VF Loss(DF d, VF x, VF p) const {
    const VF v = hn::Mul(p, hn::Sub(LogPos(d, p), x));
    return Special(d, p, v);
  }
  HWY_INLINE VF Dx(DF, VF, VF p) const { return hn::Neg(p); }
  HWY_INLINE VF Dy(DF d, VF x, VF p) const {
    const VF v = hn::Sub(hn::Add(LogPos(d, p), hn::Set(d, 1.0f)), x);
    return Special(d, p, v);
  }
  // v where p > 0, 0 where p == 0, NaN otherwise (p < 0 or NaN).
  static HWY_INLINE VF Special(DF d, VF p, VF v) {
    const VF zero = hn::Zero(d);
    const VF nan = hn::Set(d, std::numeric_limits<float>::quiet_NaN());
    return hn::IfThenElse(hn::Gt(p, zero), v, hn::IfThenElse(hn::Eq(p, zero), zero, nan));
  }
};

struct KLDivLogTargetV {
  // A zero probability (t = -inf) counts 0 in the value and the target gradient, as the
  // scalar KLLogTargetOp (exp(-inf) * (-inf - x) would be NaN).
  HWY_INLINE VF Loss(DF d, VF x, VF t) const { return ZeroAtNegInf(d, t, hn::Mul(ExpT(d, t), hn::Sub(t, x))); }
  HWY_INLINE VF Dx(DF d, VF, VF t) const { return hn::Neg(ExpT(d, t)); }
  HWY_INLINE VF Dy(DF d, VF x, VF t) const {
    return ZeroAtNegInf(d, t, hn::Mul(ExpT(d, t), hn::Add(hn::Sub(t, x), hn::Set(d, 1.0f))));
  }
  static HWY_INLINE VF ZeroAtNegInf(DF d, VF t, VF v) {
    return hn::IfThenZeroElse(hn::Eq(t, hn::Set(d, -std::numeric_limits<float>::infinity())), v);
  }
  // exp(t) with exp(+inf) = +inf and exp(NaN) = NaN (Highway's Exp covers (-inf, 104]).
  static HWY_INLINE VF ExpT(DF d, VF t) {
    const VF e = hn::Exp(d, hn::Min(t, hn::Set(d, 88.8f)));
    const VF big = hn::IfThenElse(hn::Gt(t, hn::Set(d, 88.72f)), hn::Set(d, std::numeric_limits<float>::infinity()), e);
    return hn::IfThenElse(hn::IsNaN(t), t, big);
  }
};

// The regression kinds reproduce their scalar Ops (src/regression/) operation by operation,
// comparisons and all, so they give the same bits (NaN and inf included).
struct MSEV {
  HWY_INLINE VF Loss(DF, VF x, VF y) const { return hn::Mul(hn::Sub(x, y), hn::Sub(x, y)); }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return hn::Mul(hn::Set(d, 2.0f), hn::Sub(x, y)); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Mul(hn::Set(d, 2.0f), hn::Sub(y, x)); }
};

struct L1V {
  // x > y ? x - y : y - x (NaN: y - x, a NaN).
  HWY_INLINE VF Loss(DF, VF x, VF y) const { return hn::IfThenElse(hn::Gt(x, y), hn::Sub(x, y), hn::Sub(y, x)); }
  // x > y ? 1 : (x < y ? -1 : 0): 0 at ties and NaN.
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return Sign(d, x, y); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return Sign(d, y, x); }
  static HWY_INLINE VF Sign(DF d, VF a, VF b) {
    return hn::IfThenElse(hn::Gt(a, b), hn::Set(d, 1.0f), hn::IfThenElseZero(hn::Lt(a, b), hn::Set(d, -1.0f)));
  }
};

struct HuberV {
  float delta;
  // z = d < 0 ? -d : d;  z < delta ? 0.5 d d : delta (z - 0.5 delta)
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF df = hn::Sub(x, y);
    const VF z = hn::IfThenElse(hn::Lt(df, hn::Zero(d)), hn::Neg(df), df);
    const VF dl = hn::Set(d, delta);
    const VF quad = hn::Mul(hn::Mul(hn::Set(d, 0.5f), df), df);
    const VF lin = hn::Mul(dl, hn::Sub(z, hn::Set(d, 0.5f * delta)));
    return hn::IfThenElse(hn::Lt(z, dl), quad, lin);
  }
  // d < -delta ? -delta : (d > delta ? delta : d)  (NaN: d)
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF df = hn::Sub(x, y);
    const VF dl = hn::Set(d, delta), ndl = hn::Set(d, -delta);
    return hn::IfThenElse(hn::Lt(df, ndl), ndl, hn::IfThenElse(hn::Gt(df, dl), dl, df));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Neg(Dx(d, x, y)); }
};

struct SmoothL1V {
  float beta, half_beta, inv_beta;
  // z < beta ? 0.5 d d / beta : z - half_beta
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF df = hn::Sub(x, y);
    const VF z = hn::IfThenElse(hn::Lt(df, hn::Zero(d)), hn::Neg(df), df);
    const VF b = hn::Set(d, beta);
    const VF quad = hn::Div(hn::Mul(hn::Mul(hn::Set(d, 0.5f), df), df), b);
    return hn::IfThenElse(hn::Lt(z, b), quad, hn::Sub(z, hn::Set(d, half_beta)));
  }
  // d <= -beta ? -1 : (d >= beta ? 1 : d / beta)  (NaN: NaN * inv_beta)
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF df = hn::Sub(x, y);
    const VF b = hn::Set(d, beta);
    return hn::IfThenElse(hn::Le(df, hn::Neg(b)), hn::Set(d, -1.0f),
                          hn::IfThenElse(hn::Ge(df, b), hn::Set(d, 1.0f), hn::Mul(df, hn::Set(d, inv_beta))));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Neg(Dx(d, x, y)); }
};

// bce_with_logits, as the scalar BCELogitsOp / BCELogitsPosOp (classification/
// binary_cross_entropy.cpp); with kPos the per-element pos_weight p comes as the aux operand
// (without, p = 1). Lanes whose x, y (and p) are finite take the short form (Finite):
//   loss = c l1p + |x| (x >= 0 ? 1 - y : p y),   dx = c sigmoid(x) - p y,   c = p y + 1 - y,
// with e = exp(-|x|) (ExpNonPos, under 1 ULP), l1p = log1p(e) (Log1pUnit, 1.4 ULP), sigmoid(x)
// = (x >= 0 ? 1 : e) / (1 + e) (RecipUnit, 1 ULP): one FMA for the |x| term, so no
// cancellation between max(x, 0) and x y. Other lanes take the general form with the scalar
// Op's limits (General):
//   loss = coef_mul(p y, sp(-x)) + coef_mul(1 - y, sp(x)),  coef_mul(a, b) = a == 0 ? 0 : a b
//   dx = ((p y + 1) - y) sigmoid(x) - p y,                  dy = p sp(-x) - sp(x)
// sp(z) = max(z, 0) + log1p(exp(-|z|)): finite limits at x = +-inf (sp(+inf) = inf, sp(-inf) =
// 0, sigmoid exactly 0 / 1), NaN in, NaN out. The choice is per lane, so a value's bits never
// depend on its neighbours; the plain loop skips General for groups of vectors all finite.
template <bool kPos>
struct BCELogitsT {
  static constexpr bool kAux = kPos;
  // A NaN or inf x, y or p makes Finite's value NaN or inf (|x| (...) or c is then NaN or
  // inf), which the plain loop checks instead of the inputs.
  static constexpr bool kFiniteFlagsValue = true;
  // Short form, valid where x, y and p are finite.
  static HWY_INLINE void Finite(DF d, VF x, VF y, VF p, VF& l, VF& g) {
    const VF one = hn::Set(d, 1.0f);
    const VF nax = hn::Or(x, hn::Set(d, -0.0f));  // -|x|
    const VF e = ExpNonPos(d, nax);
    const auto pos = hn::Ge(x, hn::Zero(d));
    const VF r = RecipUnit(d, hn::Add(e, one));
    const VF l1p = Log1pUnit(d, e);
    if constexpr (kPos) {
      const VF py = hn::Mul(p, y);
      const VF c = hn::Sub(hn::Add(py, one), y);
      l = hn::NegMulAdd(nax, hn::IfThenElse(pos, hn::Sub(one, y), py), hn::Mul(c, l1p));
      g = hn::MulSub(c, hn::Mul(hn::IfThenElse(pos, one, e), r), py);
    } else {
      (void)p;
      l = hn::NegMulAdd(nax, hn::IfThenElse(pos, hn::Sub(one, y), y), l1p);
      g = hn::MulSub(hn::IfThenElse(pos, one, e), r, y);
    }
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y, VF p) const {
    VF l, g;
    LossDx(d, x, y, p, l, g);
    return l;
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y, VF p) const {
    VF l, g;
    LossDx(d, x, y, p, l, g);
    return g;
  }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF p, VF& l, VF& g) const {
    Finite(d, x, y, p, l, g);
    if (HWY_UNLIKELY(!hn::AllTrue(d, Fin(x, y, p)))) General(x, y, p, l, g);
  }
  static HWY_INLINE auto Fin(VF x, VF y, VF p) {
    const auto f = hn::And(hn::IsFinite(x), hn::IsFinite(y));
    if constexpr (kPos) return hn::And(f, hn::IsFinite(p));
    else return f;
  }
  // The lanes with an infinite or NaN operand: the general form. Out of line (rare; its
  // constants would otherwise hold registers through the loop).
  static HWY_NOINLINE void General(VF x, VF y, VF p, VF& l, VF& g) {
    const DF d;
    const auto fin = Fin(x, y, p);
    const VF one = hn::Set(d, 1.0f);
    const VF py = kPos ? hn::Mul(p, y) : y;
    // exp(-|x|) with subnormal results (ExpNonPos flushes below -87.33, and an infinite
    // coefficient times sp(-x) = e must stay inf, as in the scalar Op); 0 at x = +-inf.
    const VF nax = hn::Neg(hn::Abs(x));
    const VF e = hn::IfThenZeroElse(hn::IsInf(x), hn::Exp(d, nax));
    const VF l1p = Log1pUnit(d, e);                  // shared by sp(x) and sp(-x)
    const VF lg = hn::Add(CoefMul(d, py, Softplus(d, hn::Neg(x), l1p)), CoefMul(d, hn::Sub(one, y), Softplus(d, x, l1p)));
    // x >= 0: 1 / (1 + e); else e / (1 + e); NaN: NaN.
    const VF s = hn::Mul(hn::IfThenElse(hn::Ge(x, hn::Zero(d)), one, e), RecipUnit(d, hn::Add(one, e)));
    const VF sig = hn::IfThenElse(hn::IsNaN(x), x, s);
    const VF gg = hn::Sub(hn::Mul(hn::Sub(hn::Add(py, one), y), sig), py);
    l = hn::IfThenElse(fin, l, lg);
    g = hn::IfThenElse(fin, g, gg);
  }
  static HWY_INLINE VF Softplus(DF d, VF z, VF l1p) {
    const VF v = hn::Add(hn::Max(z, hn::Zero(d)), l1p);
    return hn::IfThenElse(hn::IsNaN(z), z, v);
  }
  static HWY_INLINE VF CoefMul(DF d, VF a, VF b) { return hn::IfThenZeroElse(hn::Eq(a, hn::Zero(d)), hn::Mul(a, b)); }
  HWY_INLINE VF Dy(DF d, VF x, VF, VF p) const {
    const VF l1p = Log1pUnit(d, ExpNonPos(d, hn::Neg(hn::Abs(x))));
    const VF spn = Softplus(d, hn::Neg(x), l1p);
    return hn::Sub(kPos ? hn::Mul(p, spn) : spn, Softplus(d, x, l1p));
  }
};
using BCELogitsV = BCELogitsT<false>;
using BCELogitsPosV = BCELogitsT<true>;

// binary_cross_entropy on probabilities x in [0, 1] (validated by the caller), as the scalar
// BCEOp: loss = (y - 1) max(log1p(-x), -100) - y max(log x, -100),
// dx = (x - y) / max((1 - x) x, 1e-12) (the same float32 operations, so the same bits),
// dy = max(log1p(-x), -100) - max(log x, -100). log x by LogPos (under 1 ULP; -inf at 0);
// log1p(-x) = log(u) + c / u with u = 1 - x rounded and c = (1 - u) - x its exact error (0 for
// x >= 1/2, where u is exact), within about 2 ULP.
struct BCEV {
  static HWY_INLINE VF LogX(DF d, VF x) { return hn::Max(LogPos(d, x), hn::Set(d, -100.0f)); }
  static HWY_INLINE VF Log1mX(DF d, VF x) {
    const VF one = hn::Set(d, 1.0f);
    const VF u = hn::Sub(one, x);
    const VF c = hn::Sub(hn::Sub(one, u), x);
    const VF r = RecipUnit(d, hn::Max(u, hn::Set(d, 0.5f)));  // c = 0 where u < 1/2
    return hn::Max(hn::MulAdd(c, r, LogPos(d, u)), hn::Set(d, -100.0f));
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    return hn::Sub(hn::Mul(hn::Sub(y, hn::Set(d, 1.0f)), Log1mX(d, x)), hn::Mul(y, LogX(d, x)));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF den = hn::Max(hn::Mul(hn::Sub(hn::Set(d, 1.0f), x), x), hn::Set(d, 1e-12f));
    return hn::Div(hn::Sub(x, y), den);
  }
  HWY_INLINE VF Dy(DF d, VF x, VF) const { return hn::Sub(Log1mX(d, x), LogX(d, x)); }
};

// soft_margin_loss, as the scalar SoftMarginOp (margin/soft_margin.cpp), one form for every lane:
//   z = (y == 0 ? 0 : -y x),  loss = sp(z) = max(z, 0) + log1p(e),  e = exp(-|z|),
//   s = sigmoid(z) = (z >= 0 ? 1 : e) / (1 + e),  dx = (y == 0 ? 0 : -y s),  dy = (x == 0 ? 0 : -x s).
// ExpNonPos gives e = 0 at z = +-inf (so sp and s take their limits exactly) and flushes e below
// 2^-126 (sp(z) is then 0 where the scalar form keeps a subnormal); a NaN z gives NaN value and s.
// Accuracy as the bce_with_logits short form (ExpNonPos, Log1pUnit, RecipUnit: a few ULP).
struct SoftMarginV {
  static HWY_INLINE VF Z(DF d, VF x, VF y) { return hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(hn::Neg(y), x)); }
  static HWY_INLINE VF E(DF d, VF z) { return ExpNonPos(d, hn::Neg(hn::Abs(z))); }
  static HWY_INLINE VF Sig(DF d, VF z, VF e) {
    const VF one = hn::Set(d, 1.0f);
    const VF s = hn::Mul(hn::IfThenElse(hn::Ge(z, hn::Zero(d)), one, e), RecipUnit(d, hn::Add(one, e)));
    return hn::IfThenElse(hn::IsNaN(z), z, s);
  }
  static HWY_INLINE VF Sp(DF d, VF z, VF e) {
    return hn::IfThenElse(hn::IsNaN(z), z, hn::Add(hn::Max(z, hn::Zero(d)), Log1pUnit(d, e)));
  }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF z = Z(d, x, y), e = E(d, z);
    l = Sp(d, z, e);
    g = hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(hn::Neg(y), Sig(d, z, e)));
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF z = Z(d, x, y);
    return Sp(d, z, E(d, z));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF z = Z(d, x, y);
    return hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(hn::Neg(y), Sig(d, z, E(d, z))));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    const VF z = Z(d, x, y);
    return hn::IfThenZeroElse(hn::Eq(x, hn::Zero(d)), hn::Mul(hn::Neg(x), Sig(d, z, E(d, z))));
  }
};

// Stirling's term of poisson_nll_loss with full = True, as the scalar stirling / stirling_dy:
// y > 1 ? y log y - y + 0.5 log(2 pi y) : 0 and y > 1 ? log y + 0.5 / y : 0 (NaN: 0), the
// same float32 operations except log (LogPos, under 1 ULP).
struct Stirling {
  static HWY_INLINE VF Term(DF d, VF y) {
    const VF v = hn::Add(hn::Sub(hn::Mul(y, LogPos(d, y)), y),
                         hn::Mul(hn::Set(d, 0.5f), LogPos(d, hn::Mul(hn::Set(d, 6.28318530717958648f), y))));
    return hn::IfThenElseZero(hn::Gt(y, hn::Set(d, 1.0f)), v);
  }
  static HWY_INLINE VF Dy(DF d, VF y) {
    const VF v = hn::Add(LogPos(d, y), hn::Div(hn::Set(d, 0.5f), y));
    return hn::IfThenElseZero(hn::Gt(y, hn::Set(d, 1.0f)), v);
  }
};

// poisson_nll_loss with log_input, as the scalar PoissonLogOp (regression/poisson_nll_loss.cpp):
// loss = exp(x) - (y == 0 ? 0 : y x) (+ Stirling's term when full), dx = exp(x) - y,
// dy = -x (+ its derivative); exp as KLDivLogTargetV::ExpT (Highway's Exp, max 1 ULP; inf above
// 88.72, NaN kept).
struct PoissonLogV {
  bool full;
  HWY_INLINE VF Full(DF d, VF y, VF l) const { return full ? hn::Add(l, Stirling::Term(d, y)) : l; }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF e = KLDivLogTargetV::ExpT(d, x);
    l = Full(d, y, hn::Sub(e, hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(y, x))));
    g = hn::Sub(e, y);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    return Full(d, y, hn::Sub(KLDivLogTargetV::ExpT(d, x), hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(y, x))));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return hn::Sub(KLDivLogTargetV::ExpT(d, x), y); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return full ? hn::Sub(Stirling::Dy(d, y), x) : hn::Neg(x); }
};

// poisson_nll_loss without log_input, as the scalar PoissonRateOp:
// loss = x - (y == 0 ? 0 : y log(x + eps)) (+ Stirling's term when full),
// dx = 1 - (y == 0 ? 0 : y (1 / (x + eps))), dy = -log(x + eps) (+ its derivative); the same
// float32 operations except log (LogPos: under 1 ULP, and std::log's values at 0, negatives, inf
// and NaN).
struct PoissonRateV {
  float eps;
  bool full;
  static HWY_INLINE VF CountTimes(DF d, VF y, VF t) { return hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(y, t)); }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF l = hn::Sub(x, CountTimes(d, y, LogPos(d, hn::Add(x, hn::Set(d, eps)))));
    return full ? hn::Add(l, Stirling::Term(d, y)) : l;
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF one = hn::Set(d, 1.0f);
    return hn::Sub(one, CountTimes(d, y, hn::Div(one, hn::Add(x, hn::Set(d, eps)))));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    const VF lg = LogPos(d, hn::Add(x, hn::Set(d, eps)));
    return full ? hn::Sub(Stirling::Dy(d, y), lg) : hn::Neg(lg);
  }
};

// gaussian_nll_loss with a per-element variance (the aux operand), as the scalar loop of
// regression/gaussian_nll_loss.cpp: v = (p < eps ? eps : p) (NaN kept), d = x - y,
//   loss = 0.5 (log v + d d / v) + c,  dx = d / v,  dy = -dx,  dv = 0.5 (1 / v - d d / (v v)),
// the same float32 operations except log (LogPos, under 1 ULP) and the upstream factor, which
// the driver applies after the division (one rounding more than the scalar (up d) / v).
struct GaussianNLLV {
  static constexpr bool kAux = true;
  float eps, c;
  HWY_INLINE VF V(DF d, VF p) const {
    const VF e = hn::Set(d, eps);
    return hn::IfThenElse(hn::Lt(p, e), e, p);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y, VF p) const {
    const VF v = V(d, p), df = hn::Sub(x, y);
    return hn::MulAdd(hn::Set(d, 0.5f), hn::Add(LogPos(d, v), hn::Div(hn::Mul(df, df), v)), hn::Set(d, c));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y, VF p) const { return hn::Div(hn::Sub(x, y), V(d, p)); }
  HWY_INLINE VF Dy(DF d, VF x, VF y, VF p) const { return hn::Neg(Dx(d, x, y, p)); }
  HWY_INLINE VF Da(DF d, VF x, VF y, VF p) const {
    const VF v = V(d, p), df = hn::Sub(x, y);
    const VF one = hn::Set(d, 1.0f);
    return hn::Mul(hn::Set(d, 0.5f), hn::Sub(hn::Div(one, v), hn::Div(hn::Mul(df, df), hn::Mul(v, v))));
  }
};

// log_cosh_loss, as the scalar LogCoshOp (regression/log_cosh_loss.cpp), optax's form:
// loss = z + log1p(exp(-2 z)) - ln 2 with z = |x - y| (ExpNonPos and Log1pUnit: a few ULP of
// z + ln 2, the same cancellation near z = 0 as the scalar form, which works in float32 too),
// dx = tanh(x - y) (Highway's Tanh, max 4 ULP; +-1 at +-inf, NaN kept), dy = -dx.
struct LogCoshV {
  static HWY_INLINE VF Th(DF d, VF df) {
    const VF t = hn::IfThenElse(hn::IsInf(df), hn::CopySign(hn::Set(d, 1.0f), df), hn::Tanh(d, df));
    return hn::IfThenElse(hn::IsNaN(df), df, t);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF z = hn::Abs(hn::Sub(x, y));
    const VF l1p = Log1pUnit(d, ExpNonPos(d, hn::Mul(hn::Set(d, -2.0f), z)));
    return hn::Sub(hn::Add(z, l1p), hn::Set(d, 0.693147180559945309f));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return Th(d, hn::Sub(x, y)); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return hn::Neg(Th(d, hn::Sub(x, y))); }
};

// msle_loss, as the scalar MSLEOp (regression/msle_mape.cpp): c(v) = (v < eps ? eps : v) (NaN
// kept), r = log1p(c(x)) - log1p(c(y)), loss = r r, dx = (x >= eps ? 2 r / (c(x) + 1) : 0),
// dy = (y >= eps ? -2 r / (c(y) + 1) : 0); the same float32 operations except log1p:
// log1p(v) = log(u) + c / u with u = 1 + v rounded and c = v - (u - 1) its exact rounding
// error (0 for v = inf), log by LogPos (under 1 ULP). r cancels where x and y are close, in
// both forms alike.
struct MSLEV {
  float eps;
  HWY_INLINE VF C(DF d, VF v) const {
    const VF e = hn::Set(d, eps);
    return hn::IfThenElse(hn::Lt(v, e), e, v);  // NaN kept
  }
  static HWY_INLINE VF Log1p(DF d, VF v) {
    const VF one = hn::Set(d, 1.0f);
    const VF u = hn::Add(v, one);
    const VF c = hn::IfThenZeroElse(hn::IsInf(v), hn::Sub(v, hn::Sub(u, one)));
    return hn::Add(LogPos(d, u), hn::Div(c, u));
  }
  HWY_INLINE VF R(DF d, VF x, VF y) const { return hn::Sub(Log1p(d, C(d, x)), Log1p(d, C(d, y))); }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF r = R(d, x, y);
    l = hn::Mul(r, r);
    g = Grad(d, x, r, 2.0f);
  }
  HWY_INLINE VF Grad(DF d, VF v, VF r, float two) const {
    const VF g = hn::Div(hn::Mul(hn::Set(d, two), r), hn::Add(C(d, v), hn::Set(d, 1.0f)));
    return hn::IfThenElseZero(hn::Ge(v, hn::Set(d, eps)), g);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF r = R(d, x, y);
    return hn::Mul(r, r);
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return Grad(d, x, R(d, x, y), 2.0f); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return Grad(d, y, R(d, x, y), -2.0f); }
};

// mape_loss, as the scalar MAPEOp (regression/msle_mape.cpp), operation by operation (the same
// bits): m = max(|y|, eps) (NaN y kept), loss = 100 |y - x| / m, dx = 100 sign(x - y) / m,
// dy = 100 sign(q) dq with q = (y - x) / m, dq = (|y| >= eps ? (1 - q sign(y)) / m : 1 / m);
// sign(0) = sign(NaN) = 0.
struct MAPEV {
  float eps;
  static HWY_INLINE VF Sign(DF d, VF v) {
    const VF zero = hn::Zero(d);
    return hn::IfThenElse(hn::Gt(v, zero), hn::Set(d, 1.0f), hn::IfThenElseZero(hn::Lt(v, zero), hn::Set(d, -1.0f)));
  }
  static HWY_INLINE VF AbsLt(DF d, VF v) { return hn::IfThenElse(hn::Lt(v, hn::Zero(d)), hn::Neg(v), v); }
  HWY_INLINE VF M(DF d, VF ay) const {
    const VF e = hn::Set(d, eps);
    return hn::IfThenElse(hn::Lt(ay, e), e, ay);  // NaN kept
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    return hn::Div(hn::Mul(hn::Set(d, 100.0f), AbsLt(d, hn::Sub(y, x))), M(d, AbsLt(d, y)));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    return hn::Div(hn::Mul(hn::Set(d, 100.0f), Sign(d, hn::Sub(x, y))), M(d, AbsLt(d, y)));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    const VF ay = AbsLt(d, y), m = M(d, ay);
    const VF one = hn::Set(d, 1.0f);
    const VF q = hn::Div(hn::Sub(y, x), m);
    const VF dq = hn::IfThenElse(hn::Ge(ay, hn::Set(d, eps)), hn::Div(hn::Sub(one, hn::Mul(q, Sign(d, y))), m),
                                 hn::Div(one, m));
    return hn::Mul(hn::Mul(hn::Set(d, 100.0f), Sign(d, q)), dq);
  }
};

// quantile_loss (pinball), as the scalar PinballOp (regression/quantile_loss.cpp), operation by
// operation (the same bits): e = y - x, loss = (e >= 0 ? tau e : (tau - 1) e),
// dx = (e >= 0 ? -tau : 1 - tau), dy = (e >= 0 ? tau : tau - 1) (NaN e: the second branch).
struct PinballV {
  float tau;
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF e = hn::Sub(y, x);
    return hn::IfThenElse(hn::Ge(e, hn::Zero(d)), hn::Mul(hn::Set(d, tau), e), hn::Mul(hn::Set(d, tau - 1.0f), e));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    return hn::IfThenElse(hn::Ge(hn::Sub(y, x), hn::Zero(d)), hn::Set(d, -tau), hn::Set(d, 1.0f - tau));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    return hn::IfThenElse(hn::Ge(hn::Sub(y, x), hn::Zero(d)), hn::Set(d, tau), hn::Set(d, tau - 1.0f));
  }
};

// margin_ranking_loss with input2 as the aux operand p, as the scalar loop of
// embedding/margin_ranking_loss.cpp, operation for operation (the same bits):
// h = -y (x - p) + margin, loss = (h < 0 ? 0 : h) (NaN kept, as clamp_min), dx = (h >= 0 ? -y : 0),
// dp = -dx (the upstream factor is applied by the driver: up (-y) and up y, the scalar values).
struct MarginRankingV {
  static constexpr bool kAux = true;
  float margin;
  HWY_INLINE VF H(DF d, VF x, VF y, VF p) const { return hn::Add(hn::Mul(hn::Neg(y), hn::Sub(x, p)), hn::Set(d, margin)); }
  HWY_INLINE VF Loss(DF d, VF x, VF y, VF p) const {
    const VF h = H(d, x, y, p);
    return hn::IfThenZeroElse(hn::Lt(h, hn::Zero(d)), h);
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y, VF p) const {
    return hn::IfThenElseZero(hn::Ge(H(d, x, y, p), hn::Zero(d)), hn::Neg(y));
  }
  HWY_INLINE VF Dy(DF d, VF, VF, VF) const { return hn::Set(d, std::numeric_limits<float>::quiet_NaN()); }
  HWY_INLINE VF Da(DF d, VF x, VF y, VF p) const { return hn::Neg(Dx(d, x, y, p)); }
};

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
    VF v = KLDivLogTargetV::ExpT(d, hn::Mul(hn::Set(d, g), LogPos(d, aq)));
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

// Calls of an op's functions with the aux operand p (pos_weight) where it takes one.
template <class Op>
constexpr bool kOpAux = requires { requires Op::kAux; };
template <class Op>
HWY_INLINE VF OpLoss(const Op& op, DF d, VF x, VF y, VF p) {
  if constexpr (requires { op.Loss(d, x, y, p); }) return op.Loss(d, x, y, p);
  else return (void)p, op.Loss(d, x, y);
}
template <class Op>
HWY_INLINE VF OpDx(const Op& op, DF d, VF x, VF y, VF p) {
  if constexpr (requires { op.Dx(d, x, y, p); }) return op.Dx(d, x, y, p);
  else return (void)p, op.Dx(d, x, y);
}
template <class Op>
HWY_INLINE VF OpDy(const Op& op, DF d, VF x, VF y, VF p) {
  if constexpr (requires { op.Dy(d, x, y, p); }) return op.Dy(d, x, y, p);
  else return (void)p, op.Dy(d, x, y);
}
template <class Op>
HWY_INLINE VF OpDa(const Op& op, DF d, VF x, VF y, VF p) {
  if constexpr (requires { op.Da(d, x, y, p); }) return op.Da(d, x, y, p);
  else return (void)op, (void)x, (void)y, (void)p, hn::Zero(d);
}
// The value and d/dx, from one fused call when the op has one (shared exp/log).
template <class Op>
HWY_INLINE void OpLossDx(const Op& op, DF d, VF x, VF y, VF p, VF& l, VF& g) {
  if constexpr (requires { op.LossDx(d, x, y, p, l, g); }) op.LossDx(d, x, y, p, l, g);
  else if constexpr (requires { op.LossDx(d, x, y, l, g); }) op.LossDx(d, x, y, l, g);
  else l = OpLoss(op, d, x, y, p), g = OpDx(op, d, x, y, p);
}

// The main loop of the common calls (no weight, no per-element upstream gradient, no target
// gradient): kLoss 0 = no value, 1 = the value sum into acc, 2 = per-element values into
// a.out; kGi: d/d input times a.scale into a.gi; kSt: the one output is streamed (aligned).
// Everything is known at compile time, so the body is straight-line code. The values of four
// vectors are added in float32 (a pairwise tree, error under 2 ULP of the sum of their
// magnitudes, the size of the values' own rounding) before they go to the float64 lanes.
// aux[i - ab]: the op's aux operand of element i (kOpAux ops). Returns the end of the full
// vectors.
template <int kLoss, bool kGi, bool kSt, class Op>
HWY_INLINE std::size_t PlainLoop(const Op& op, const PwArgs& a, const float* HWY_RESTRICT aux, std::size_t ab,
                                 std::size_t i, std::size_t end, AccD& acc) {
  static_assert(kLoss != 0 || kGi);
  static_assert(kLoss != 2 || !kGi);
  const DF d;
  const std::size_t N = hn::Lanes(d);
  const float* HWY_RESTRICT x = a.x;
  const float* HWY_RESTRICT y = a.y;
  float* HWY_RESTRICT o = kGi ? a.gi : a.out;
  const VF up = hn::Set(d, a.scale);
  constexpr bool kAux = kOpAux<Op>;
  constexpr std::size_t kAhead = 4096 / sizeof(float);
  // Stores a vector's output; returns its value (for kLoss == 1).
  auto finish = [&](std::size_t j, VF l, VF g) LOSSKIT_ALWAYS_INLINE {
    if constexpr (kLoss == 2 || kGi) {
      const VF v = kGi ? hn::Mul(up, g) : l;
      if constexpr (kSt) hn::Stream(v, d, o + j);
      else hn::StoreU(v, d, o + j);
    }
    return l;
  };
  auto general = [&](std::size_t j, VF xv, VF yv, VF pv) LOSSKIT_ALWAYS_INLINE {
    VF l = hn::Zero(d), g = hn::Zero(d);
    if constexpr (kLoss != 0 && kGi) OpLossDx(op, d, xv, yv, pv, l, g);
    else if constexpr (kGi) g = OpDx(op, d, xv, yv, pv);
    else l = OpLoss(op, d, xv, yv, pv);
    return finish(j, l, g);
  };
  auto load_aux = [&](std::size_t j) LOSSKIT_ALWAYS_INLINE {
    if constexpr (kAux) return hn::LoadU(d, aux + (j - ab));
    else return (void)j, hn::Set(d, 1.0f);
  };
  // Ops with a short form for finite lanes (Finite) take it for four vectors at once when
  // their inputs are all finite. Where the values are computed and the op declares that a NaN
  // or inf input makes Finite's value NaN or inf (kFiniteFlagsValue), the check is on the sum
  // of the four values, after the fact (the general form then redoes the four vectors and
  // overwrites their outputs); else on one sum of the inputs (a NaN or inf anywhere makes it
  // NaN or inf). An overflow only sends finite vectors the long way, with the same result.
  constexpr bool kFinite = requires(VF v, VF& r) { Op::Finite(d, v, v, v, r, r); };
  constexpr bool kAfter = kFinite && kLoss != 0 && requires { requires Op::kFiniteFlagsValue; };
  constexpr std::size_t G = 4;
  for (; i + G * N <= end; i += G * N) {
    VF xs[G], ys[G], ps[G], ls[G];
    for (std::size_t k = 0; k < G; ++k) {
      __builtin_prefetch(x + i + k * N + kAhead, 0, 3);
      __builtin_prefetch(y + i + k * N + kAhead, 0, 3);
      if constexpr (kAux) __builtin_prefetch(aux + (i - ab) + k * N + kAhead, 0, 3);
      xs[k] = hn::LoadU(d, x + i + k * N);
      ys[k] = hn::LoadU(d, y + i + k * N);
      ps[k] = load_aux(i + k * N);
    }
    auto sum4 = [&](const VF* v) LOSSKIT_ALWAYS_INLINE {
      return hn::Add(hn::Add(v[0], v[1]), hn::Add(v[2], v[3]));
    };
    bool fast = false;
    if constexpr (kFinite && !kAfter) {
      VF s[G];
      for (std::size_t k = 0; k < G; ++k) s[k] = kAux ? hn::Add(hn::Add(xs[k], ys[k]), ps[k]) : hn::Add(xs[k], ys[k]);
      fast = hn::AllTrue(d, hn::IsFinite(sum4(s)));
    }
    VF t = hn::Zero(d);  // the sum of the four values (kLoss == 1)
    auto short_form = [&]() LOSSKIT_ALWAYS_INLINE {
      if constexpr (kFinite) {
        for (std::size_t k = 0; k < G; ++k) {
          VF l, g;
          Op::Finite(d, xs[k], ys[k], ps[k], l, g);
          ls[k] = finish(i + k * N, l, g);
        }
      }
    };
    if constexpr (kAfter) {
      short_form();
      t = sum4(ls);
      fast = hn::AllTrue(d, hn::IsFinite(t));
    } else if constexpr (kFinite) {
      if (HWY_LIKELY(fast)) {
        short_form();
        if constexpr (kLoss == 1) t = sum4(ls);
      }
    }
    if (HWY_UNLIKELY(!fast)) {
      for (std::size_t k = 0; k < G; ++k) ls[k] = general(i + k * N, xs[k], ys[k], ps[k]);
      if constexpr (kLoss == 1) t = sum4(ls);
    }
    if constexpr (kLoss == 1) acc.add(t);
  }
  for (; i + N <= end; i += N) {
    __builtin_prefetch(x + i + kAhead, 0, 3);
    __builtin_prefetch(y + i + kAhead, 0, 3);
    const VF l = general(i, hn::LoadU(d, x + i), hn::LoadU(d, y + i), load_aux(i));
    if constexpr (kLoss == 1) acc.add(l);
  }
  return i;
}

// One block [begin, end) of a call. aux[i - ab]: the op's aux operand of element i (a periodic
// one is run in segments, see BlockAux).
template <class Op>
HWY_INLINE double Block(const Op& op, const PwArgs& a, const float* aux, std::size_t ab, std::size_t begin,
                        std::size_t end) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
  constexpr bool kAux = kOpAux<Op>;
  AccD acc;
  const bool sum = a.forward && !a.out;
  // st: stream the full-vector stores of (gi, gt, out); only set where they are aligned.
  auto put = [&](VF v, float* p, std::size_t n, bool st) LOSSKIT_ALWAYS_INLINE {
    if (n != N) StoreTailF(d, v, p, n);
    else if (st) hn::Stream(v, d, p);
    else hn::StoreU(v, d, p);
  };
  bool st_gi = false, st_gt = false, st_out = false;
  auto step = [&](std::size_t i, std::size_t n) LOSSKIT_ALWAYS_INLINE {
    const bool full = n == N;
    const VF x = full ? hn::LoadU(d, a.x + i) : LoadTailF(d, a.x + i, n, 0.0f);
    const VF y = full ? hn::LoadU(d, a.y + i) : LoadTailF(d, a.y + i, n, 0.0f);
    VF p = hn::Set(d, 1.0f);
    if constexpr (kAux) p = full ? hn::LoadU(d, aux + (i - ab)) : LoadTailF(d, aux + (i - ab), n, 1.0f);
    VF w = hn::Set(d, 1.0f);
    if (a.w) w = full ? hn::LoadU(d, a.w + i) : LoadTailF(d, a.w + i, n, 0.0f);
    VF l = hn::Zero(d), gx = hn::Zero(d);
    if (a.forward && a.gi) OpLossDx(op, d, x, y, p, l, gx);
    else if (a.forward) l = OpLoss(op, d, x, y, p);
    else if (a.gi) gx = OpDx(op, d, x, y, p);
    if (a.forward) {
      if (a.w) l = hn::Mul(w, l);
      if (a.out) {
        put(l, a.out + i, n, st_out);
      } else if (sum) {
        acc.add(full ? l : hn::IfThenElseZero(hn::FirstN(d, n), l));
      }
    }
    if (a.gi) {
      VF up = a.gvec ? (full ? hn::LoadU(d, a.gvec + i) : LoadTailF(d, a.gvec + i, n, 0.0f)) : hn::Set(d, a.scale);
      if (a.w) up = hn::Mul(up, w);
      put(hn::Mul(up, gx), a.gi + i, n, st_gi);
      if (a.gt) put(hn::Mul(up, OpDy(op, d, x, y, p)), a.gt + i, n, st_gt);
      if (a.ga) put(hn::Mul(up, OpDa(op, d, x, y, p)), a.ga + i, n, false);
    }
  };
  std::size_t i = begin;
  float* first = a.gi ? a.gi : a.out;  // the output whose alignment the main loop follows
  if (a.stream && first) {
    const std::size_t head = StreamHead(d, first + begin, end - begin);
    if (head) step(i, head);
    i += head;
    auto aligned = [&](const float* p) {
      return p && reinterpret_cast<std::uintptr_t>(p + i) % (N * sizeof(float)) == 0;
    };
    st_gi = aligned(a.gi), st_gt = aligned(a.gt), st_out = aligned(a.out);
  }
  // Inputs are fetched ahead (one line per stream per vector on AVX-512): loads that miss
  // would otherwise fill the reorder window and stall the arithmetic behind them.
  auto general_loop = [&] {
    constexpr std::size_t kAhead = 4096 / sizeof(float);
    for (; i + N <= end; i += N) {
      __builtin_prefetch(a.x + i + kAhead, 0, 3);
      __builtin_prefetch(a.y + i + kAhead, 0, 3);
      if (a.w) __builtin_prefetch(a.w + i + kAhead, 0, 3);
      step(i, N);
    }
  };
#if defined(__SANITIZE_ADDRESS__)
  // Sanitizer builds run the general loop only: the plain loops' instantiations under
  // instrumentation take GCC half an hour on 2 cores (the Release tests cover them).
  constexpr bool kPlainLoops = false;
#else
  constexpr bool kPlainLoops = true;
#endif
  if constexpr (kPlainLoops) {
    const bool plain = !a.w && !a.gvec && !a.gt && !a.ga && !(a.out && a.gi);
    const bool st = a.gi ? st_gi : st_out;
    if (plain && a.forward && a.gi) {
      i = st ? PlainLoop<1, true, true>(op, a, aux, ab, i, end, acc) : PlainLoop<1, true, false>(op, a, aux, ab, i, end, acc);
    } else if (plain && a.gi) {
      i = st ? PlainLoop<0, true, true>(op, a, aux, ab, i, end, acc) : PlainLoop<0, true, false>(op, a, aux, ab, i, end, acc);
    } else if (plain && a.out) {
      i = st ? PlainLoop<2, false, true>(op, a, aux, ab, i, end, acc)
             : PlainLoop<2, false, false>(op, a, aux, ab, i, end, acc);
    } else if (plain && a.forward) {
      i = PlainLoop<1, false, false>(op, a, aux, ab, i, end, acc);
    } else {
      general_loop();
    }
  } else {
    general_loop();
  }
  if (i < end) step(i, end - i);
  if (st_gi || st_gt || st_out) hwy::FlushStream();
  return sum ? acc.sum() : 0.0;
}

// A block of an op with an aux operand: a per-element array (aux_period 0), or one repeating
// every aux_period elements (pos_weight [C] against [..., C]), run in segments that do not
// wrap; a short period is first repeated into a per-thread buffer of at least kRep elements.
template <class Op>
HWY_INLINE double BlockAux(const Op& op, const PwArgs& a, std::size_t begin, std::size_t end) {
  if (a.aux_period <= 0) return Block(op, a, a.aux, 0, begin, end);
  constexpr std::size_t kRep = 4096;
  std::size_t P = static_cast<std::size_t>(a.aux_period);
  const float* rep = a.aux;
  thread_local std::vector<float> buf;
  if (P < kRep) {
    const std::size_t k = (kRep + P - 1) / P;
    buf.resize(k * P);
    for (std::size_t j = 0; j < k; ++j) std::memcpy(buf.data() + j * P, a.aux, P * sizeof(float));
    rep = buf.data();
    P *= k;
  }
  double s = 0;
  for (std::size_t i = begin; i < end;) {
    const std::size_t j = i % P, stop = std::min(end, i + (P - j));
    s += Block(op, a, rep + j, i, i, stop);  // element i' of [i, stop) takes rep[j + i' - i]
    i = stop;
  }
  return s;
}

double PointwiseBlock(PwKind kind, const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  const auto b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  switch (kind) {
    case PwKind::KLDiv: return Block(KLDivV{}, a, nullptr, 0, b, e);
    case PwKind::KLDivLogTarget: return Block(KLDivLogTargetV{}, a, nullptr, 0, b, e);
    case PwKind::MSE: return Block(MSEV{}, a, nullptr, 0, b, e);
    case PwKind::L1: return Block(L1V{}, a, nullptr, 0, b, e);
    case PwKind::Huber: return Block(HuberV{p.a}, a, nullptr, 0, b, e);
    case PwKind::SmoothL1: return Block(SmoothL1V{p.a, p.b, p.c}, a, nullptr, 0, b, e);
    case PwKind::BCELogits: return Block(BCELogitsV{}, a, nullptr, 0, b, e);
    case PwKind::BCELogitsPos: return BlockAux(BCELogitsPosV{}, a, b, e);
    case PwKind::BCE: return Block(BCEV{}, a, nullptr, 0, b, e);
    case PwKind::SoftMargin: return Block(SoftMarginV{}, a, nullptr, 0, b, e);
    case PwKind::PoissonLog: return Block(PoissonLogV{p.b != 0}, a, nullptr, 0, b, e);
    case PwKind::PoissonRate: return Block(PoissonRateV{p.a, p.b != 0}, a, nullptr, 0, b, e);
    case PwKind::GaussianNLL: return BlockAux(GaussianNLLV{p.a, p.b}, a, b, e);
    case PwKind::LogCosh: return Block(LogCoshV{}, a, nullptr, 0, b, e);
    case PwKind::MSLE: return Block(MSLEV{p.a}, a, nullptr, 0, b, e);
    case PwKind::MAPE: return Block(MAPEV{p.a}, a, nullptr, 0, b, e);
    case PwKind::Pinball: return Block(PinballV{p.a}, a, nullptr, 0, b, e);
    case PwKind::SigmoidFocal: return Block(SigmoidFocalV{p.a, p.b, p.c != 0}, a, nullptr, 0, b, e);
    case PwKind::MarginRanking: return BlockAux(MarginRankingV{p.a}, a, b, e);
  }
  return 0.0;
}

void Log1pUnitN(const float* x, float* y, std::size_t n) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(Log1pUnit(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StoreTailF(d, Log1pUnit(d, LoadTailF(d, x + i, n - i, 0.0f)), y + i, n - i);
}

void ZeroBytes(void* p, std::int64_t bytes, bool stream) {
  auto* b = static_cast<unsigned char*>(p);
  std::size_t n = static_cast<std::size_t>(bytes);
  const DF d;
  const std::size_t vb = hn::Lanes(d) * sizeof(float);
  if (!stream || n < 4 * vb) {
    std::memset(b, 0, n);
    return;
  }
  const std::size_t head = (vb - reinterpret_cast<std::uintptr_t>(b) % vb) % vb;
  std::memset(b, 0, head);
  b += head;
  n -= head;
  const VF z = hn::Zero(d);
  std::size_t i = 0;
  for (; i + vb <= n; i += vb) hn::Stream(z, d, reinterpret_cast<float*>(b + i));
  std::memset(b + i, 0, n - i);
  hwy::FlushStream();
}

const char* PointwiseTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace losskit::kernels {
HWY_EXPORT(PointwiseBlock);
HWY_EXPORT(ZeroBytes);
HWY_EXPORT(Log1pUnitN);
HWY_EXPORT(PointwiseTargetName);
const char* pointwise_target_name() { return HWY_DYNAMIC_DISPATCH(PointwiseTargetName)(); }
void log1p_unit(const float* x, float* y, std::size_t n) { HWY_DYNAMIC_DISPATCH(Log1pUnitN)(x, y, n); }
void zero_bytes(void* p, std::int64_t bytes, bool stream) { HWY_DYNAMIC_DISPATCH(ZeroBytes)(p, bytes, stream); }
double pointwise_block(PwKind kind, const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return HWY_DYNAMIC_DISPATCH(PointwiseBlock)(kind, p, a, begin, end);
}
}  // namespace losskit::kernels
#endif  // HWY_ONCE
