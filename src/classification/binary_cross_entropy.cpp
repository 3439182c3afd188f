// binary_cross_entropy and binary_cross_entropy_with_logits: pointwise losses on the shared
// driver (core/elementwise.hpp). Weights (and pos_weight) are broadcast to the input's shape as
// stride-0 views; the driver stages them.
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "classification/binary_cross_entropy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

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
    if constexpr (!kPos) return hn::Neg(x);  // sp(-x) - sp(x) = -x, as PyTorch computes it
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
// dy = log1p(-x) - log x (PyTorch's -logit(x): the logs unclamped). log x by LogPos (under 1 ULP; -inf at 0);
// log1p(-x) = log(u) + c / u with u = 1 - x rounded and c = (1 - u) - x its exact error (0 for
// x >= 1/2, where u is exact), within about 2 ULP.
struct BCEV {
  static HWY_INLINE VF LogX(DF d, VF x) { return hn::Max(LogPos(d, x), hn::Set(d, -100.0f)); }
  static HWY_INLINE VF Log1mXRaw(DF d, VF x) {
    const VF one = hn::Set(d, 1.0f);
    const VF u = hn::Sub(one, x);
    const VF c = hn::Sub(hn::Sub(one, u), x);
    const VF r = RecipUnit(d, hn::Max(u, hn::Set(d, 0.5f)));  // c = 0 where u < 1/2
    return hn::MulAdd(c, r, LogPos(d, u));
  }
  static HWY_INLINE VF Log1mX(DF d, VF x) { return hn::Max(Log1mXRaw(d, x), hn::Set(d, -100.0f)); }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    return hn::Sub(hn::Mul(hn::Sub(y, hn::Set(d, 1.0f)), Log1mX(d, x)), hn::Mul(y, LogX(d, x)));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF den = hn::Max(hn::Mul(hn::Sub(hn::Set(d, 1.0f), x), x), hn::Set(d, 1e-12f));
    return hn::Div(hn::Sub(x, y), den);
  }
  HWY_INLINE VF Dy(DF d, VF x, VF) const { return hn::Sub(Log1mXRaw(d, x), LogPos(d, x)); }
};

double BCELogitsBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(BCELogitsV{}, a, begin, end);
}

double BCELogitsPosBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(BCELogitsPosV{}, a, begin, end);
}

double BCEBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(BCEV{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>
#include <cmath>
#include <limits>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "core/parallel.hpp"
#include "kernels/logistic.hpp"
#include "losskit/classification.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(BCELogitsBlock, "binary_cross_entropy_with_logits")
LOSSKIT_POINTWISE_KERNEL(BCELogitsPosBlock, "binary_cross_entropy_with_logits_pos_weight")
LOSSKIT_POINTWISE_KERNEL(BCEBlock, "binary_cross_entropy")
double bce_with_logits_block(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return BCELogitsBlock_dispatch(p, a, begin, end);
}
}  // namespace losskit::kernels

namespace losskit {
namespace {

using detail::Pass;

/// -(y max(log x, -100) + (1 - y) max(log(1 - x), -100)).
struct BCEOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::BCEBlock_dispatch;  // contiguous float32
  template <class V>
  static V log_x(V x) { return std::max(std::log(x), V(-100)); }
  template <class V>
  static V log_1mx(V x) { return std::max(std::log1p(-x), V(-100)); }
  template <class V>
  V loss(V x, V y) const { return (y - V(1)) * log_1mx(x) - y * log_x(x); }
  // PyTorch's EPSILON is the float 1e-12 (9.99999996e-13) in both dtypes.
  template <class V>
  V dx(V x, V y) const { return (x - y) / std::max((V(1) - x) * x, static_cast<V>(1e-12f)); }
  // PyTorch's target gradient -logit(x), with the logs unclamped (+inf at x = 0, -inf at 1).
  template <class V>
  V dy(V x, V) const { return std::log1p(-x) - std::log(x); }
};

/// p y sp(-x) + (1 - y) sp(x), each term 0 when its coefficient is 0 (finite at x = +-inf).
template <class V>
V bce_logits_loss(V x, V y, V p) {
  return kernels::coef_mul(p * y, kernels::softplus(-x)) + kernels::coef_mul(V(1) - y, kernels::softplus(x));
}
template <class V>
V bce_logits_dx(V x, V y, V p) {
  const V py = p * y;
  return (py + V(1) - y) * kernels::sigmoid(x) - py;
}
template <class V>
V bce_logits_dy(V x, V p) {
  return p * kernels::softplus(-x) - kernels::softplus(x);
}

struct BCELogitsOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::BCELogitsBlock_dispatch;  // contiguous float32
  template <class V>
  V loss(V x, V y) const { return bce_logits_loss(x, y, V(1)); }
  template <class V>
  V dx(V x, V y) const { return bce_logits_dx(x, y, V(1)); }
  template <class V>
  V dy(V x, V) const { return -x; }  // sp(-x) - sp(x), exactly as PyTorch computes it
};
/// The same with pos_weight as the driver's per-element parameter.
struct BCELogitsPosOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::BCELogitsPosBlock_dispatch;  // contiguous float32
  template <class V>
  V loss(V x, V y, V p) const { return bce_logits_loss(x, y, p); }
  template <class V>
  V dx(V x, V y, V p) const { return bce_logits_dx(x, y, p); }
  template <class V>
  V dy(V x, V, V p) const { return bce_logits_dy(x, p); }
};

/// Fails on the first input element outside [0, 1] (NaN included).
template <class T>
void check_probabilities(std::string_view fn, ConstView<T> input) {
  detail::check_data(fn, "input", input);
  const std::int64_t n = input.numel();
  auto bad = [](T v) { return !(v >= T(0) && v <= T(1)); };
  std::int64_t pos = -1;
  if (input.is_contiguous()) {
    // Chunks scanned without an early exit (the compiler vectorizes them); the first bad
    // element is looked for only in a chunk that has one. On the bits: v is in [0, 1] iff they are at most those of 1.0 or are -0.0 (NaN and
    // negative numbers compare above): integer compares and an OR, which vectorize.
    using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    const U one_bits = std::bit_cast<U>(T(1)), neg_zero = std::bit_cast<U>(T(-0.0));
    const T* p = input.data();
    auto scan = [&](std::int64_t b0, std::int64_t e0) -> std::int64_t {  // first bad in [b0, e0), or -1
      constexpr std::int64_t kChunk = 4096;
      for (std::int64_t b = b0; b < e0; b += kChunk) {
        const std::int64_t e = std::min(e0, b + kChunk);
        U any = 0;
        for (std::int64_t i = b; i < e; ++i) {
          U u;
          std::memcpy(&u, p + i, sizeof(U));
          any |= static_cast<U>((u > one_bits) & (u != neg_zero));
        }
        if (any)
          for (std::int64_t i = b; i < e; ++i)
            if (bad(p[i])) return i;
      }
      return -1;
    };
    // Blocks in parallel; the first bad element is the one of the first block that has one.
    constexpr std::int64_t kGrain = std::int64_t{1} << 16;
    const std::int64_t bs = detail::block_size(n, kGrain);
    std::vector<std::int64_t> first(static_cast<std::size_t>(n > 0 ? (n + bs - 1) / bs : 0), -1);
    detail::parallel_for(n, kGrain,
                         [&](std::int64_t b, std::int64_t e) { first[static_cast<std::size_t>(b / bs)] = scan(b, e); });
    for (const std::int64_t f : first)
      if (f >= 0) { pos = f; break; }
  } else {
    for (std::int64_t i = 0; i < n; ++i)
      if (bad(input.flat(i))) { pos = i; break; }
  }
  if (pos >= 0)
    detail::fail(ErrorKind::Value, fn, "input[", detail::position_of(input.shape(), pos), "] = ", input.flat(pos),
                 " is outside [0, 1]; binary_cross_entropy takes probabilities (use "
                 "binary_cross_entropy_with_logits for logits)");
}

template <class T>
ConstView<T> broadcast_opt(std::string_view fn, std::string_view name, ConstView<T> v, ConstView<T> input) {
  if (v.is_null()) return v;
  detail::check_data(fn, name, v);
  detail::check_data(fn, "input", input);
  return detail::broadcast_to(fn, name, v, input.shape());
}

template <class T>
void run_bce(Pass pass, detail::PointwiseArgs<T> a, const BCEOptions<T>& o) {
  constexpr std::string_view fn = "binary_cross_entropy";
  const detail::PointwiseConfig cfg{.fn = fn, .reduction = o.reduction};
  detail::check_reduction(fn, o.reduction);
  a.weight = broadcast_opt(fn, "weight", o.weight, a.input);
  check_probabilities(fn, a.input);
  detail::run_pointwise(cfg, pass, a, BCEOp{});
}

template <class T>
void run_bce_logits(Pass pass, detail::PointwiseArgs<T> a, const BCEWithLogitsOptions<T>& o) {
  constexpr std::string_view fn = "binary_cross_entropy_with_logits";
  const detail::PointwiseConfig cfg{.fn = fn, .reduction = o.reduction};
  detail::check_reduction(fn, o.reduction);
  a.weight = broadcast_opt(fn, "weight", o.weight, a.input);
  a.aux = broadcast_opt(fn, "pos_weight", o.pos_weight, a.input);
  if (a.aux.is_null()) detail::run_pointwise(cfg, pass, a, BCELogitsOp{});
  else detail::run_pointwise(cfg, pass, a, BCELogitsPosOp{});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(binary_cross_entropy, float, BCEOptions<float>, run_bce)
LOSSKIT_DEFINE_POINTWISE_LOSS(binary_cross_entropy, double, BCEOptions<double>, run_bce)
LOSSKIT_DEFINE_POINTWISE_LOSS(binary_cross_entropy_with_logits, float, BCEWithLogitsOptions<float>, run_bce_logits)
LOSSKIT_DEFINE_POINTWISE_LOSS(binary_cross_entropy_with_logits, double, BCEWithLogitsOptions<double>, run_bce_logits)

}  // namespace losskit
#endif  // HWY_ONCE
