// Per-target SIMD helpers shared by the kernel families (the cross-entropy
// kernels, kernels/pointwise-inl.h): typed loads/stores of float32, bfloat16 and float16 rows as float32
// vectors, tails through a small stack buffer, and float64 accumulation of float32 vectors.
//
// Included once per Highway target from inside HWY_NAMESPACE-aware files (no include guard,
// per Highway's convention for -inl.h files; the toggle below keeps one copy per target).
#if defined(LOSSKIT_KERNELS_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOSSKIT_KERNELS_SIMD_INL_H_
#undef LOSSKIT_KERNELS_SIMD_INL_H_
#else
#define LOSSKIT_KERNELS_SIMD_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "losskit/dtype.hpp"

// For lambdas in hot loops: GCC otherwise keeps some of them as calls, one per vector.
#ifndef LOSSKIT_ALWAYS_INLINE
#define LOSSKIT_ALWAYS_INLINE __attribute__((always_inline))
#endif

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr std::size_t kMaxLanesF = 64;  // >= lanes of any float vector we compile for

// Whether a 16-bit type converts with vector instructions on this target (else: scalar).
template <class T>
constexpr bool kVectorConvert =
    std::is_same_v<T, float> || std::is_same_v<T, bfloat16> ||
    (std::is_same_v<T, float16> && HWY_TARGET != HWY_SCALAR && HWY_TARGET <= HWY_AVX2);

/// Full vector of Lanes(d) values at p, as float32.
template <class T>
HWY_INLINE VF LoadF(DF d, const T* HWY_RESTRICT p) {
  if constexpr (std::is_same_v<T, float>) {
    return hn::LoadU(d, p);
  } else if constexpr (std::is_same_v<T, bfloat16>) {
    const hn::Rebind<hwy::bfloat16_t, DF> db;
    return hn::PromoteTo(d, hn::LoadU(db, reinterpret_cast<const hwy::bfloat16_t*>(p)));
  } else if constexpr (kVectorConvert<T>) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(d, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
  } else {
    float buf[kMaxLanesF];
    const std::size_t N = hn::Lanes(d);
    for (std::size_t i = 0; i < N; ++i) buf[i] = static_cast<float>(p[i]);
    return hn::LoadU(d, buf);
  }
}

/// n < Lanes(d) values at p, the other lanes set to pad.
template <class T>
HWY_INLINE VF LoadTailF(DF d, const T* HWY_RESTRICT p, std::size_t n, float pad) {
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET <= HWY_AVX2
  if constexpr (std::is_same_v<T, float>) {
    // AVX2/AVX-512 masked loads never touch the masked-off lanes' memory.
    const auto m = hn::FirstN(d, n);
    return hn::IfThenElse(m, hn::MaskedLoad(m, d, p), hn::Set(d, pad));
  }
#endif
  float buf[kMaxLanesF];
  const std::size_t N = hn::Lanes(d);
  for (std::size_t i = 0; i < n; ++i) buf[i] = static_cast<float>(p[i]);
  for (std::size_t i = n; i < N; ++i) buf[i] = pad;
  return hn::LoadU(d, buf);
}

/// float32 -> bfloat16, round to nearest even, NaN kept quiet (Highway 1.0's DemoteTo truncates).
HWY_INLINE hn::Vec<hn::Rebind<hwy::bfloat16_t, DF>> DemoteBF16(DF d, VF v) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<std::uint16_t, DF> du16;
  const auto u = hn::BitCast(du, v);
  const auto lsb = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u));
  auto r = hn::ShiftRight<16>(hn::Add(hn::Add(u, hn::Set(du, 0x7FFFu)), lsb));
  const auto nan = hn::RebindMask(du, hn::IsNaN(v));
  r = hn::IfThenElse(nan, hn::Or(hn::ShiftRight<16>(u), hn::Set(du, 0x40u)), r);
  (void)d;
  return hn::BitCast(hn::Rebind<hwy::bfloat16_t, DF>(), hn::DemoteTo(du16, hn::BitCast(di, r)));
}

/// DemoteBF16 for finite v (round to nearest even; no NaN handling): four vector ops fewer.
HWY_INLINE hn::Vec<hn::Rebind<hwy::bfloat16_t, DF>> DemoteBF16Finite(DF d, VF v) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<std::uint16_t, DF> du16;
  const auto u = hn::BitCast(du, v);
  const auto lsb = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u));
  const auto r = hn::ShiftRight<16>(hn::Add(hn::Add(u, hn::Set(du, 0x7FFFu)), lsb));
  (void)d;
  return hn::BitCast(hn::Rebind<hwy::bfloat16_t, DF>(), hn::DemoteTo(du16, hn::BitCast(di, r)));
}

/// Stores a full vector at p in G's format.
template <class G>
HWY_INLINE void StoreF(DF d, VF v, G* HWY_RESTRICT p) {
  if constexpr (std::is_same_v<G, float>) {
    hn::StoreU(v, d, p);
  } else if constexpr (std::is_same_v<G, bfloat16>) {
    hn::StoreU(DemoteBF16(d, v), hn::Rebind<hwy::bfloat16_t, DF>(), reinterpret_cast<hwy::bfloat16_t*>(p));
  } else if constexpr (kVectorConvert<G>) {
    // F16C / AVX-512 conversion rounds to nearest even, like float16(float).
    const hn::Rebind<hwy::float16_t, DF> dh;
    hn::StoreU(hn::DemoteTo(dh, v), dh, reinterpret_cast<hwy::float16_t*>(p));
  } else {
    float buf[kMaxLanesF];
    hn::StoreU(v, d, buf);
    const std::size_t N = hn::Lanes(d);
    for (std::size_t i = 0; i < N; ++i) p[i] = G(buf[i]);
  }
}

/// Non-temporal store of a full vector at p, which must be aligned to Lanes(d) * sizeof(G)
/// (G's vector bytes): the line goes to memory without being read first.
template <class G>
HWY_INLINE void StreamF(DF d, VF v, G* HWY_RESTRICT p) {
  if constexpr (std::is_same_v<G, float>) {
    hn::Stream(v, d, p);
  } else if constexpr (std::is_same_v<G, bfloat16>) {
    const hn::Rebind<hwy::bfloat16_t, DF> db;
    hn::Stream(DemoteBF16(d, v), db, reinterpret_cast<hwy::bfloat16_t*>(p));
  } else if constexpr (kVectorConvert<G>) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    hn::Stream(hn::DemoteTo(dh, v), dh, reinterpret_cast<hwy::float16_t*>(p));
  } else {
    StoreF(d, v, p);
  }
}

/// Elements before p + i reaches the alignment StreamF needs (at most n).
template <class G>
HWY_INLINE std::size_t StreamHead(DF d, const G* p, std::size_t n) {
  const std::size_t bytes = hn::Lanes(d) * sizeof(G);
  const std::size_t mis = reinterpret_cast<std::uintptr_t>(p) % bytes;
  if (mis % sizeof(G) != 0) return n;  // never aligns: plain stores throughout
  const std::size_t head = mis == 0 ? 0 : (bytes - mis) / sizeof(G);
  return head < n ? head : n;
}

/// Stores the first n lanes of v at p.
template <class G>
HWY_INLINE void StoreTailF(DF d, VF v, G* HWY_RESTRICT p, std::size_t n) {
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET <= HWY_AVX2
  if constexpr (std::is_same_v<G, float>) {
    hn::BlendedStore(v, hn::FirstN(d, n), d, p);  // masked store: other lanes' memory untouched
    return;
  }
#endif
  float buf[kMaxLanesF] = {};  // (initialized: GCC cannot see that StoreU fills the first n)
  hn::StoreU(v, d, buf);
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<G, float>) p[i] = buf[i];
    else p[i] = G(buf[i]);
  }
}

// ---- exp on (-inf, 0], the exponent of a softmax (x - max) ----
/// exp(x) for x <= 0. Cody-Waite reduction x = n ln2 + r (|r| <= ln2/2, n = round(x / ln2)),
/// e^r by a degree-6 polynomial (1 + r + c2 r^2 + ... + c6 r^6; c2..c6 fitted for minimal
/// relative error on [-ln2/2, ln2/2], fit error 3.1e-9), scaled by 2^n built from the exponent
/// bits. Accuracy: under 1 float32 ULP on [-87.33, 0] (max 0.88 ULP in a 8M-point sweep against
/// float64 exp; tests/unit/kernels_test.cpp checks 1 ULP); exp(0) = 1 exactly; 0 for x < -87.33
/// (where e^x < 2^-126, so subnormal results are flushed to zero) and for x = -inf or NaN
/// (callers detect NaN rows before). About 13 vector ops against Highway Exp's 25: the row
/// kernels are bound by this exp.
HWY_INLINE VF ExpNonPos(DF d, VF x) {
  const hn::RebindToSigned<DF> di;
  // 1.5 * 2^23 + 127: adding it rounds x/ln2 to an integer n and leaves n + 127 (the float
  // exponent field of 2^n) in the low mantissa bits.
  const VF kShift = hn::Set(d, 12582912.0f + 127.0f);
  const VF t = hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), kShift);
  const VF n = hn::Sub(t, kShift);
  VF r = hn::NegMulAdd(n, hn::Set(d, 0.693359375f), x);  // ln2 = 0.693359375 - 2.12194440e-4
  r = hn::NegMulAdd(n, hn::Set(d, -2.12194440e-4f), r);
  VF q = hn::Set(d, 1.381459878757596e-3f);
  q = hn::MulAdd(q, r, hn::Set(d, 8.368716575205326e-3f));
  q = hn::MulAdd(q, r, hn::Set(d, 4.166838899254799e-2f));
  q = hn::MulAdd(q, r, hn::Set(d, 1.666652113199234e-1f));
  q = hn::MulAdd(q, r, hn::Set(d, 4.999999403953552e-1f));
  q = hn::MulAdd(q, r, hn::Set(d, 1.0f));
  const VF p = hn::MulAdd(q, r, hn::Set(d, 1.0f));
  const VF scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, t)));
  return hn::IfThenElseZero(hn::Ge(x, hn::Set(d, -87.33f)), hn::Mul(p, scale));
}

/// exp(t) for any t: Highway's Exp (max 1 ULP; it covers (-inf, 104]) with exp(+inf) = +inf above
/// 88.72 and NaN kept.
HWY_INLINE VF ExpFull(DF d, VF t) {
  const VF e = hn::Exp(d, hn::Min(t, hn::Set(d, 88.8f)));
  const VF big = hn::IfThenElse(hn::Gt(t, hn::Set(d, 88.72f)), hn::Set(d, std::numeric_limits<float>::infinity()), e);
  return hn::IfThenElse(hn::IsNaN(t), t, big);
}

// ---- log without division ----
/// log(1 + f) for f = m - 1, m in [sqrt(1/2), sqrt(2)): the polynomial of LogNormal.
HWY_INLINE VF LogMant(DF d, VF f) {
  VF q = hn::Set(d, -7.635293155908585e-2f);
  q = hn::MulAdd(q, f, hn::Set(d, 1.2762805819511414e-1f));
  q = hn::MulAdd(q, f, hn::Set(d, -1.3160470128059387e-1f));
  q = hn::MulAdd(q, f, hn::Set(d, 1.4201614260673523e-1f));
  q = hn::MulAdd(q, f, hn::Set(d, -1.662331521511078e-1f));
  q = hn::MulAdd(q, f, hn::Set(d, 2.0001231133937836e-1f));
  q = hn::MulAdd(q, f, hn::Set(d, -2.50008225440979e-1f));
  q = hn::MulAdd(q, f, hn::Set(d, 3.333333134651184e-1f));
  q = hn::MulAdd(q, f, hn::Set(d, -0.5f));      // -1/2 + f P
  return hn::MulAdd(hn::Mul(f, f), q, f);  // f - f^2/2 + f^3 P
}

/// log(x) for normal positive finite x: x = 2^k m with m in [sqrt(1/2), sqrt(2)) (exponent
/// bits shifted by the bits of sqrt(1/2)), f = m - 1, log(m) = f - f^2/2 + f^3 P(f) with P of
/// degree 7 (coefficients fitted for minimal relative error on that interval, fit error 5.8e-9),
/// plus k ln2 in two parts. Under 1 float32 ULP (0.93 in a 7M-point sweep against float64 log,
/// with FMA). Other inputs (0, subnormal, negative, inf, NaN) give garbage: see LogPos.
HWY_INLINE VF LogNormal(DF d, VF x) {
  const hn::RebindToSigned<DF> di;
  // bits + (0x3F800000 - 0x3F3504F3): the exponent field of the result is k + 127.
  const auto b = hn::Add(hn::BitCast(di, x), hn::Set(di, 0x3F800000 - 0x3F3504F3));
  const VF k = hn::ConvertTo(d, hn::Sub(hn::ShiftRight<23>(b), hn::Set(di, 127)));
  const VF m = hn::BitCast(d, hn::Add(hn::And(b, hn::Set(di, 0x007FFFFF)), hn::Set(di, 0x3F3504F3)));
  const VF f = hn::Sub(m, hn::Set(d, 1.0f));
  const VF lm = LogMant(d, f);
  return hn::MulAdd(k, hn::Set(d, 0.693359375f), hn::MulAdd(k, hn::Set(d, -2.12194440e-4f), lm));
}

/// log(x) for any x with the special values of std::log (0 -> -inf, < 0 -> NaN, inf, NaN,
/// subnormals): LogNormal in lanes holding a normal positive finite number, Highway's Log (max
/// 4 ULP) in the others (computed only when a vector has such a lane). Lane by lane, so a
/// value's bits do not depend on its neighbours.
HWY_INLINE VF LogPos(DF d, VF x) {
  const auto normal = hn::And(hn::Ge(x, hn::Set(d, 1.17549435e-38f)), hn::Le(x, hn::Set(d, 3.40282347e+38f)));
  const VF v = LogNormal(d, x);
  if (HWY_LIKELY(hn::AllTrue(d, normal))) return v;
  // Highway's Log covers positive finite x (subnormals included); the special values here.
  const VF inf = hn::Set(d, std::numeric_limits<float>::infinity());
  VF r = hn::Log(d, x);
  r = hn::IfThenElse(hn::Eq(x, hn::Zero(d)), hn::Neg(inf), r);
  r = hn::IfThenElse(hn::Eq(x, inf), inf, r);
  r = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Set(d, std::numeric_limits<float>::quiet_NaN()), r);
  r = hn::IfThenElse(hn::IsNaN(x), x, r);
  return hn::IfThenElse(normal, v, r);
}

/// 1 / u for u in [1, 2]: approximate reciprocal and one Newton step (AVX-512: 14 bits -> about
/// 28; SSE/AVX2: 12 -> about 24, within 1 float32 ULP). No division (which costs 5-10 times more
/// throughput).
HWY_INLINE VF RecipUnit(DF d, VF u) {
  const VF r0 = hn::ApproximateReciprocal(u);
  return hn::MulAdd(r0, hn::NegMulAdd(u, r0, hn::Set(d, 1.0f)), r0);
}

/// log(1 + e) for e in [0, 1] (also NaN -> NaN): e + e^2 Q(e), Q of degree 8 fitted for minimal
/// relative error of the whole on [0, 1] (fit error 5.8e-9; losskit's own fit), evaluated by
/// Estrin's scheme and one final FMA, so 1 + e is never formed and small e keep their relative
/// accuracy (e itself for e < 2^-24). Under 1.4 float32 ULP with FMA (1.397 at worst over every
/// float in [0, 1], against float64 log1p). 11 vector ops, no compares or selects.
HWY_INLINE VF Log1pUnit(DF d, VF e) {
  // Estrin's scheme (pairs, then e^2 and e^4): 5 FMA latencies instead of Horner's 10. The
  // loops that call it are bound by the latency of one element's exp -> log1p chain.
  const VF e2 = hn::Mul(e, e);
  const VF e4 = hn::Mul(e2, e2);
  const VF p01 = hn::MulAdd(hn::Set(d, 3.333078623e-01f), e, hn::Set(d, -4.999994338e-01f));
  const VF p23 = hn::MulAdd(hn::Set(d, 1.970738769e-01f), e, hn::Set(d, -2.496116757e-01f));
  const VF p45 = hn::MulAdd(hn::Set(d, 1.072868258e-01f), e, hn::Set(d, -1.538669616e-01f));
  const VF p67 = hn::MulAdd(hn::Set(d, 2.041420341e-02f), e, hn::Set(d, -5.809665099e-02f));
  const VF q03 = hn::MulAdd(p23, e2, p01);
  const VF q47 = hn::MulAdd(p67, e2, p45);
  const VF q = hn::MulAdd(hn::MulAdd(hn::Set(d, -3.360863775e-03f), e4, q47), e4, q03);
  return hn::MulAdd(q, e2, e);  // e + e^2 Q
}

// ---- float64 accumulation of float32 vectors: lanes promoted, then added in lane order ----
#if HWY_TARGET == HWY_SCALAR
using DD = hn::Rebind<double, DF>;
#else
using DD = hn::Rebind<double, hn::Half<DF>>;
#endif
using VD = hn::Vec<DD>;

struct AccD {
  VD lo, hi;
  HWY_INLINE AccD() : lo(hn::Zero(DD())), hi(hn::Zero(DD())) {}
  HWY_INLINE void add(VF v) {
#if HWY_TARGET == HWY_SCALAR
    lo = hn::Add(lo, hn::PromoteTo(DD(), v));
#else
    const hn::Half<DF> dh;
    lo = hn::Add(lo, hn::PromoteTo(DD(), hn::LowerHalf(dh, v)));
    hi = hn::Add(hi, hn::PromoteTo(DD(), hn::UpperHalf(dh, v)));
#endif
  }
  /// Fixed-order horizontal sum.
  HWY_INLINE double sum() const { return hn::GetLane(hn::SumOfLanes(DD(), hn::Add(lo, hi))); }
};

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#endif  // LOSSKIT_KERNELS_SIMD_INL_H_
