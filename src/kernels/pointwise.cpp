// SIMD pointwise losses (interface: kernels/pointwise.hpp), one Highway target per compile of
// this file (foreach_target) and the best one picked at run time.
//
// Each block is one sweep: load x, y (and w), compute value and gradients in registers, store.
// Loss sums accumulate in float64 (lanes promoted, fixed-order horizontal sum).
// Accuracy: KLDiv uses LogPos (kernels/simd-inl.h: under 1 ULP, Highway's Log for vectors
// holding 0, subnormals or specials); KLDivLogTarget Highway's Exp (max 1 ULP);
// the value p (log p - x) is then one multiply and one subtract in float32, so within a few
// float32 ULP of the float64 formula (relative to |p log p| + |p x|).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/pointwise.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <cstring>

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

// bce_with_logits without pos_weight, as the scalar BCELogitsOp (kernels/logistic.hpp).
// Lanes whose x and y are finite take the short form (Finite):
//   loss = |x| (x >= 0 ? 1 - y : y) + log1p(e),   dx = (x >= 0 ? 1 : e) / (1 + e) - y,
// with e = exp(-|x|) (ExpNonPos, under 1 ULP), log1p(e) by Log1pUnit (1.5 ULP) and 1 / (1 + e)
// by RecipUnit (1 ULP): one FMA for |x| c + log1p(e), so no cancellation between max(x, 0) and
// x y. Other lanes take the general form with the scalar Op's limits (General):
//   loss = coef_mul(y, sp(-x)) + coef_mul(1 - y, sp(x)),  coef_mul(a, b) = a == 0 ? 0 : a b
//   dx = ((y + 1) - y) sigmoid(x) - y,                    dy = sp(-x) - sp(x)
// sp(z) = max(z, 0) + log1p(exp(-|z|)): finite limits at x = +-inf (sp(+inf) = inf, sp(-inf) =
// 0, sigmoid exactly 0 / 1), NaN in, NaN out. The choice is per lane, so a value's bits never
// depend on its neighbours; the plain loop skips General for groups of vectors all finite.
struct BCELogitsV {
  // Short form, valid where x and y are finite; a NaN or inf x or y makes its value NaN or inf
  // (|x| c is then NaN or inf), which the plain loop checks instead of the inputs.
  static constexpr bool kFiniteFlagsValue = true;
  static HWY_INLINE void Finite(DF d, VF x, VF y, VF& l, VF& g) {
    const VF one = hn::Set(d, 1.0f);
    const VF nax = hn::Or(x, hn::Set(d, -0.0f));  // -|x|
    const VF e = ExpNonPos(d, nax);
    const auto pos = hn::Ge(x, hn::Zero(d));
    const VF u = hn::Add(e, one);
    const VF r = RecipUnit(d, u);
    const VF l1p = Log1pUnit(d, e);
    l = hn::NegMulAdd(nax, hn::IfThenElse(pos, hn::Sub(one, y), y), l1p);
    g = hn::MulSub(hn::IfThenElse(pos, one, e), r, y);
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
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    Finite(d, x, y, l, g);
    const auto fin = hn::And(hn::IsFinite(x), hn::IsFinite(y));
    if (HWY_UNLIKELY(!hn::AllTrue(d, fin))) General(x, y, l, g);
  }
  // The lanes with an infinite or NaN x or y: the general form. Out of line (rare; its
  // constants would otherwise hold registers through the loop).
  static HWY_NOINLINE void General(VF x, VF y, VF& l, VF& g) {
    const DF d;
    const auto fin = hn::And(hn::IsFinite(x), hn::IsFinite(y));
    const VF e = ExpNegAbs(d, x);
    l = hn::IfThenElse(fin, l, LossE(d, x, y, e));
    g = hn::IfThenElse(fin, g, DxE(d, x, y, e));
  }
  // exp(-|x|) in [0, 1] with ExpNonPos (0 below -87.33, for -inf and for NaN, whose result is
  // replaced by NaN below).
  static HWY_INLINE VF ExpNegAbs(DF d, VF x) { return ExpNonPos(d, hn::Neg(hn::Abs(x))); }
  static HWY_INLINE VF Softplus(DF d, VF z, VF l1p) {
    const VF v = hn::Add(hn::Max(z, hn::Zero(d)), l1p);
    return hn::IfThenElse(hn::IsNaN(z), z, v);
  }
  static HWY_INLINE VF CoefMul(DF d, VF a, VF b) { return hn::IfThenZeroElse(hn::Eq(a, hn::Zero(d)), hn::Mul(a, b)); }
  static HWY_INLINE VF LossE(DF d, VF x, VF y, VF e) {
    const VF l1p = Log1pUnit(d, e);  // shared by sp(x) and sp(-x)
    const VF one = hn::Set(d, 1.0f);
    return hn::Add(CoefMul(d, y, Softplus(d, hn::Neg(x), l1p)), CoefMul(d, hn::Sub(one, y), Softplus(d, x, l1p)));
  }
  static HWY_INLINE VF DxE(DF d, VF x, VF y, VF e) {
    const VF one = hn::Set(d, 1.0f);
    // x >= 0: 1 / (1 + e); else e / (1 + e); NaN: NaN.
    const VF s = hn::Mul(hn::IfThenElse(hn::Ge(x, hn::Zero(d)), one, e), RecipUnit(d, hn::Add(one, e)));
    const VF sig = hn::IfThenElse(hn::IsNaN(x), x, s);
    return hn::Sub(hn::Mul(hn::Sub(hn::Add(y, one), y), sig), y);
  }
  HWY_INLINE VF Dy(DF d, VF x, VF) const {
    const VF l1p = Log1pUnit(d, ExpNegAbs(d, x));
    return hn::Sub(Softplus(d, hn::Neg(x), l1p), Softplus(d, x, l1p));
  }
};

// The main loop of the common calls (no weight, no per-element upstream gradient, no target
// gradient): kLoss 0 = no value, 1 = the value sum into acc, 2 = per-element values into
// a.out; kGi: d/d input times a.scale into a.gi; kSt: the one output is streamed (aligned).
// Everything is known at compile time, so the body is straight-line code. The values of four
// vectors are added in float32 (a pairwise tree, error under 2 ULP of the sum of their
// magnitudes, the size of the values' own rounding) before they go to the float64 lanes.
// Returns the end of the full vectors.
template <int kLoss, bool kGi, bool kSt, class Op>
HWY_INLINE std::size_t PlainLoop(const Op& op, const PwArgs& a, std::size_t i, std::size_t end, AccD& acc) {
  static_assert(kLoss != 0 || kGi);
  static_assert(kLoss != 2 || !kGi);
  const DF d;
  const std::size_t N = hn::Lanes(d);
  const float* HWY_RESTRICT x = a.x;
  const float* HWY_RESTRICT y = a.y;
  float* HWY_RESTRICT o = kGi ? a.gi : a.out;
  const VF up = hn::Set(d, a.scale);
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
  auto general = [&](std::size_t j, VF xv, VF yv) LOSSKIT_ALWAYS_INLINE {
    VF l = hn::Zero(d), g = hn::Zero(d);
    if constexpr (kLoss != 0 && kGi) {
      if constexpr (requires(VF& r) { op.LossDx(d, xv, yv, r, r); }) {
        op.LossDx(d, xv, yv, l, g);
      } else {
        l = op.Loss(d, xv, yv);
        g = op.Dx(d, xv, yv);
      }
    } else if constexpr (kGi) {
      g = op.Dx(d, xv, yv);
    } else {
      l = op.Loss(d, xv, yv);
    }
    return finish(j, l, g);
  };
  // Ops with a short form for finite lanes (Finite) take it for four vectors at once when
  // their inputs are all finite. Where the values are computed and the op declares that a NaN
  // or inf input makes Finite's value NaN or inf (kFiniteFlagsValue), the check is on the sum
  // of the four values, after the fact (the general form then redoes the four vectors and
  // overwrites their outputs); else on one sum of the inputs (a NaN or inf anywhere makes it
  // NaN or inf). An overflow only sends finite vectors the long way, with the same result.
  constexpr bool kFinite = requires(VF v, VF& r) { Op::Finite(d, v, v, r, r); };
  constexpr bool kAfter = kFinite && kLoss != 0 && requires { requires Op::kFiniteFlagsValue; };
  constexpr std::size_t G = 4;
  for (; i + G * N <= end; i += G * N) {
    VF xs[G], ys[G], ls[G];
    for (std::size_t k = 0; k < G; ++k) {
      __builtin_prefetch(x + i + k * N + kAhead, 0, 3);
      __builtin_prefetch(y + i + k * N + kAhead, 0, 3);
      xs[k] = hn::LoadU(d, x + i + k * N);
      ys[k] = hn::LoadU(d, y + i + k * N);
    }
    auto sum4 = [&](const VF* v) LOSSKIT_ALWAYS_INLINE {
      return hn::Add(hn::Add(v[0], v[1]), hn::Add(v[2], v[3]));
    };
    bool fast = false;
    if constexpr (kFinite && !kAfter) {
      VF s[G];
      for (std::size_t k = 0; k < G; ++k) s[k] = hn::Add(xs[k], ys[k]);
      fast = hn::AllTrue(d, hn::IsFinite(sum4(s)));
    }
    VF t = hn::Zero(d);  // the sum of the four values (kLoss == 1)
    if constexpr (kAfter) {
      for (std::size_t k = 0; k < G; ++k) {
        VF l, g;
        Op::Finite(d, xs[k], ys[k], l, g);
        ls[k] = finish(i + k * N, l, g);
      }
      t = sum4(ls);
      fast = hn::AllTrue(d, hn::IsFinite(t));
    } else if constexpr (kFinite) {
      if (HWY_LIKELY(fast)) {
        for (std::size_t k = 0; k < G; ++k) {
          VF l, g;
          Op::Finite(d, xs[k], ys[k], l, g);
          ls[k] = finish(i + k * N, l, g);
        }
        if constexpr (kLoss == 1) t = sum4(ls);
      }
    }
    if (HWY_UNLIKELY(!fast)) {
      for (std::size_t k = 0; k < G; ++k) ls[k] = general(i + k * N, xs[k], ys[k]);
      if constexpr (kLoss == 1) t = sum4(ls);
    }
    if constexpr (kLoss == 1) acc.add(t);
  }
  for (; i + N <= end; i += N) {
    __builtin_prefetch(x + i + kAhead, 0, 3);
    __builtin_prefetch(y + i + kAhead, 0, 3);
    const VF l = general(i, hn::LoadU(d, x + i), hn::LoadU(d, y + i));
    if constexpr (kLoss == 1) acc.add(l);
  }
  return i;
}

template <class Op>
HWY_INLINE double Block(const Op& op, const PwArgs& a, std::size_t begin, std::size_t end) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
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
    VF w = hn::Set(d, 1.0f);
    if (a.w) w = full ? hn::LoadU(d, a.w + i) : LoadTailF(d, a.w + i, n, 0.0f);
    // The value and d/dx, from one fused call when the op has one (shared exp/log).
    VF l = hn::Zero(d), gx = hn::Zero(d);
    if constexpr (requires(VF& r) { op.LossDx(d, x, y, r, r); }) {
      if (a.forward && a.gi) op.LossDx(d, x, y, l, gx);
      else if (a.forward) l = op.Loss(d, x, y);
      else if (a.gi) gx = op.Dx(d, x, y);
    } else {
      if (a.forward) l = op.Loss(d, x, y);
      if (a.gi) gx = op.Dx(d, x, y);
    }
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
      if (a.gt) put(hn::Mul(up, op.Dy(d, x, y)), a.gt + i, n, st_gt);
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
  const bool plain = !a.w && !a.gvec && !a.gt && !(a.out && a.gi);
  const bool st = a.gi ? st_gi : st_out;
  if (plain && a.forward && a.gi) {
    i = st ? PlainLoop<1, true, true>(op, a, i, end, acc) : PlainLoop<1, true, false>(op, a, i, end, acc);
  } else if (plain && a.gi) {
    i = st ? PlainLoop<0, true, true>(op, a, i, end, acc) : PlainLoop<0, true, false>(op, a, i, end, acc);
  } else if (plain && a.out) {
    i = st ? PlainLoop<2, false, true>(op, a, i, end, acc) : PlainLoop<2, false, false>(op, a, i, end, acc);
  } else if (plain && a.forward) {
    i = PlainLoop<1, false, false>(op, a, i, end, acc);
  } else {
    // Inputs are fetched ahead (one line per stream per vector on AVX-512): loads that miss
    // would otherwise fill the reorder window and stall the arithmetic behind them.
    constexpr std::size_t kAhead = 4096 / sizeof(float);
    for (; i + N <= end; i += N) {
      __builtin_prefetch(a.x + i + kAhead, 0, 3);
      __builtin_prefetch(a.y + i + kAhead, 0, 3);
      if (a.w) __builtin_prefetch(a.w + i + kAhead, 0, 3);
      step(i, N);
    }
  }
  if (i < end) step(i, end - i);
  if (st_gi || st_gt || st_out) hwy::FlushStream();
  return sum ? acc.sum() : 0.0;
}

double PointwiseBlock(PwKind kind, const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  const auto b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  switch (kind) {
    case PwKind::KLDiv: return Block(KLDivV{}, a, b, e);
    case PwKind::KLDivLogTarget: return Block(KLDivLogTargetV{}, a, b, e);
    case PwKind::MSE: return Block(MSEV{}, a, b, e);
    case PwKind::L1: return Block(L1V{}, a, b, e);
    case PwKind::Huber: return Block(HuberV{p.a}, a, b, e);
    case PwKind::SmoothL1: return Block(SmoothL1V{p.a, p.b, p.c}, a, b, e);
    case PwKind::BCELogits: return Block(BCELogitsV{}, a, b, e);
  }
  return 0.0;
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

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace losskit::kernels {
HWY_EXPORT(PointwiseBlock);
HWY_EXPORT(ZeroBytes);
void zero_bytes(void* p, std::int64_t bytes, bool stream) { HWY_DYNAMIC_DISPATCH(ZeroBytes)(p, bytes, stream); }
double pointwise_block(PwKind kind, const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return HWY_DYNAMIC_DISPATCH(PointwiseBlock)(kind, p, a, begin, end);
}
}  // namespace losskit::kernels
#endif  // HWY_ONCE
