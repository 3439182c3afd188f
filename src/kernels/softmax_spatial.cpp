// SIMD softmax cross-entropy over spatial inputs, class-id targets, float32 (interface:
// kernels/softmax_spatial.hpp; row semantics: kernels/softmax.hpp). One Highway target per
// compile of this file (foreach_target), the best one picked at run time.
//
// Lanes run along positions: for batch item n and a block of Lanes positions d0 .. d0+Lanes-1
// (fewer at the end of an item or of the call's range: masked loads and stores), class c of the
// block is the vector at x + n sxN + c sxC + d0. Three sweeps over the block's C vectors:
//   1. reads the logits once from memory and copies them into a per-call scratch block (C x
//      Lanes floats, contiguous: it stays in L1, where the input's class rows, often a power of
//      two apart, would evict each other); lane-wise max m, the sum of the logits (NaN / inf
//      detection), x_y (compare each lane's target with c, blend) and, with label smoothing,
//      sum_c w_c x_c in float64 lanes;
//   2. e_c = exp(x_c - m) (ExpNonPos) from the scratch copy, written back over it when a
//      gradient is wanted; S = sum_c e_c as float32 partials of at most 8 classes, each added
//      into float64 lanes; e_y = exp(x_y - m), the same value. Then, in float64 lanes, the loss
//      (1-e) w_y ((m - x_y) + log S) + eC (W log S + (W m - sum_c w_c x_c)), a = A / S with
//      A = ((1-e) w_y + eC W) gs, and the exact target entry A e_y / S - B w_y - (1-e) w_y gs
//      (B = eC gs; gs the per-position upstream gradient, or the call's float64 scale);
//   3. g_c = a e_c - B w_c in float32, the target class's lane replaced by the target entry
//      rounded once from float64 (a float32 p_y - 1 would lose digits), ignored positions 0.
// Memory: sweep 1 prefetches each class row 1 KiB ahead (the C rows are D floats apart, for
// images a power of two: C concurrent streams that the hardware prefetchers alone serve badly;
// 2-3x faster on 8x21x256x256). Gradients of at least kStreamBytes whose class and item strides
// are multiples of the lanes are written with non-temporal stores: full blocks then start where
// the gradient's vectors are aligned (a partial block before and after, per item), so each
// store writes one whole aligned vector without reading its line first.
// Ignored positions (y == ignore_index) give loss 0 and gradient 0 whatever their logits hold.
// A block where a position that is not ignored holds NaN or +inf, or only -inf (lane-wise: the
// float32 sum of its logits is NaN, or its max is not finite), is done by the scalar float64
// reference ce_ids_row_ref (class stride sxC), position by position, before anything of the
// block is written (so in-place gradients are safe): special values behave exactly as on the
// scalar path.
//
// Accuracy against the float64 formula (the scalar path): x_c - m is one float32 rounding (an
// absolute error up to |x_c - m| 2^-24, which scales e_c by as much), exp under 1 float32 ULP
// (0 below -87.33, i.e. terms under 2^-126 dropped where the scalar path may keep a float32
// subnormal gradient), S within about 2 float32 ULP (8-term float32 partials into float64),
// log(S) and the loss float64 (Highway's float64 Log): the loss is within about 2e-7 of m + log S
// absolute, a few 1e-7 relative in practice (tests check 1e-6). Gradient entries are within
// (a few + |x_c - m|) float32 ULP of max(|g_c|, a e_c) (tests: 8 + 2 |x_c - m|); the target
// entry is formed in float64 from the float32 e_y and S. Huge logits (|m| above about 1e16)
// keep log S: the loss is formed from m - x_y and log S, never from m + log S. Results depend
// only on each position's values (lane-wise, fixed order), except that a fallback block is computed whole by the
// scalar reference; blocks are fixed by the call's range and the gradient's address, never by
// the thread count, so results are bitwise independent of it.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax_spatial.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/aligned_allocator.h>
#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/simd-inl.h"
#include "kernels/softmax_spatial.hpp"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

namespace spatial {

using DI = hn::RebindToSigned<DF>;
using VI = hn::Vec<DI>;

#if HWY_TARGET == HWY_SCALAR
constexpr int kHalves = 1;
/// The float64 lanes of part h of v (one part on the scalar target).
HWY_INLINE VD PartD(VF v, int) { return hn::PromoteTo(DD(), v); }
#else
constexpr int kHalves = 2;
HWY_INLINE VD PartD(VF v, int h) {
  const hn::Half<DF> dh;
  return hn::PromoteTo(DD(), h ? hn::UpperHalf(dh, v) : hn::LowerHalf(dh, v));
}
#endif

/// Floats ahead of the current block that sweep 1 prefetches in each class row.
constexpr std::int64_t kPrefetchAhead = 256;

/// k values at p (a full vector when kFull), other lanes 0.
template <bool kFull>
HWY_INLINE VF Ld(DF d, const float* HWY_RESTRICT p, std::size_t k) {
  if constexpr (kFull) return hn::LoadU(d, p);
  else return LoadTailF(d, p, k, 0.0f);
}
template <bool kFull>
HWY_INLINE void St(DF d, VF v, float* HWY_RESTRICT p, std::size_t k) {
  if constexpr (kFull) hn::StoreU(v, d, p);
  else StoreTailF(d, v, p, k);
}

/// The scalar reference for positions d0 .. d0+k-1 of item n (the whole block): as the scalar
/// branch of cross_entropy does. Returns the losses' sum in position order.
inline double ScalarBlock(const CeIdsSpatial& a, std::int64_t n, std::int64_t d0, std::size_t k) {
  double sum = 0;
  for (std::size_t j = 0; j < k; ++j) {
    const std::int64_t dd = d0 + static_cast<std::int64_t>(j);
    const std::int64_t y = a.y[n * a.syN + dd * a.syD];
    float* g = a.g ? a.g + n * a.sgN + dd : nullptr;
    float* o = a.out ? a.out + n * a.soN + dd * a.soD : nullptr;
    if (y == a.ignore_index) {
      if (g)
        for (std::int64_t c = 0; c < a.C; ++c) g[c * a.sgC] = 0.0f;
      if (o) *o = 0.0f;
      continue;
    }
    const double gs = a.gvec ? static_cast<double>(a.gvec[n * a.sgvN + dd * a.sgvD]) : a.gs;
    const double li = ce_ids_row_ref(a.x + n * a.sxN + dd, a.sxC, a.C, y, a.w, a.k, g, a.sgC, gs);
    if (o) *o = static_cast<float>(li);
    sum += li;
  }
  return sum;
}

/// One block of k positions (k == Lanes when kFull) of item n starting at d0. buf: C x Lanes
/// floats, aligned: the block's logits (copied by sweep 1, so that sweep 2 never goes back to
/// the input, whose class rows are often a power of two apart and evict each other), then their
/// exps. Returns the block's loss sum (position order).
template <bool kSmooth, bool kGrad, bool kFull>
HWY_INLINE double Block(const CeIdsSpatial& a, std::int64_t n, std::int64_t d0, std::size_t k, float* buf,
                        bool stream) {
  const DF d;
  const DI di;
  const DD dd;
  const std::size_t N = hn::Lanes(d);
  const std::int64_t C = a.C;
  const float kNegInf = -std::numeric_limits<float>::infinity();

  // Per-lane targets (ignored and padding lanes: -1, matching no class), w_y, upstream gradient.
  alignas(64) std::int32_t yv[kMaxLanesF];
  alignas(64) float wyv[kMaxLanesF];
  alignas(64) float gsv[kMaxLanesF];
  bool any_ign = !kFull;
  for (std::size_t j = 0; j < N; ++j) {
    std::int64_t y = -1;
    if (kFull || j < k) {
      y = a.y[n * a.syN + (d0 + static_cast<std::int64_t>(j)) * a.syD];
      if (y == a.ignore_index) y = -1, any_ign = true;
    }
    yv[j] = static_cast<std::int32_t>(y);
    wyv[j] = y < 0 ? 0.0f : (a.w ? a.w[y] : 1.0f);
    if constexpr (kGrad)
      gsv[j] = a.gvec && y >= 0 ? a.gvec[n * a.sgvN + (d0 + static_cast<std::int64_t>(j)) * a.sgvD] : 0.0f;
  }
  const VI yvec = hn::Load(di, yv);
  const auto ign = hn::RebindMask(d, hn::Lt(yvec, hn::Zero(di)));
  const float* xb = a.x + n * a.sxN + d0;

  // ---- sweep 1: max, logit sum, x_y, smoothing sum ----
  VF vmax = hn::Set(d, kNegInf), vsum = hn::Zero(d), xy = hn::Zero(d);
  VD ws[kHalves];
  for (int h = 0; h < kHalves; ++h) ws[h] = hn::Zero(dd);
  for (std::int64_t c = 0; c < C; ++c) {
    const VF v = Ld<kFull>(d, xb + c * a.sxC, k);
    hwy::Prefetch(xb + c * a.sxC + kPrefetchAhead);
    hn::Store(v, d, buf + c * static_cast<std::int64_t>(N));
    vmax = hn::Max(vmax, v);
    vsum = hn::Add(vsum, v);
    xy = hn::IfThenElse(hn::RebindMask(d, hn::Eq(yvec, hn::Set(di, static_cast<std::int32_t>(c)))), v, xy);
    if constexpr (kSmooth) {
      const VD wc = hn::Set(dd, a.w ? static_cast<double>(a.w[c]) : 1.0);
      for (int h = 0; h < kHalves; ++h) ws[h] = hn::MulAdd(wc, PartD(v, h), ws[h]);
    }
  }
  const auto bad = hn::AndNot(ign, hn::Or(hn::IsNaN(vsum), hn::Not(hn::IsFinite(vmax))));
  if (HWY_UNLIKELY(!hn::AllFalse(d, bad))) return ScalarBlock(a, n, d0, kFull ? N : k);
  vmax = hn::IfThenZeroElse(ign, vmax);  // ignored lanes: anything finite (their results are dropped)

  // ---- sweep 2: exps (over the copies in buf), their sum, e_y ----
  AccD S;
  for (std::int64_t c0 = 0; c0 < C; c0 += 8) {
    const std::int64_t c1 = std::min<std::int64_t>(C, c0 + 8);
    VF s8 = hn::Zero(d);
    for (std::int64_t c = c0; c < c1; ++c) {
      float* bc = buf + c * static_cast<std::int64_t>(N);
      const VF e = ExpNonPos(d, hn::Sub(hn::Load(d, bc), vmax));
      if constexpr (kGrad) hn::Store(e, d, bc);
      s8 = hn::Add(s8, e);
    }
    S.add(s8);
  }
  const VF ey = ExpNonPos(d, hn::Sub(xy, vmax));  // the very value computed for class y above

  // ---- float64 lanes: loss, a = A / S, the target entry ----
  alignas(64) double loss[kMaxLanesF];
  alignas(64) float af[kMaxLanesF], gyf[kMaxLanesF];
  const double e1 = 1.0 - a.k.e;
  const VF wyf = hn::Load(d, wyv);
  VF gsf = hn::Zero(d);
  if constexpr (kGrad) gsf = a.gvec ? hn::Load(d, gsv) : hn::Set(d, static_cast<float>(a.gs));
  const hn::Rebind<float, DD> dfh;
  const std::size_t NH = N / static_cast<std::size_t>(kHalves);
  for (int h = 0; h < kHalves; ++h) {
    const VD Sd = h ? S.hi : S.lo;
    const VD wy = PartD(wyf, h);
    // (m - x_y) + log S: m + log S would round log S away next to huge logits.
    const VD m = PartD(vmax, h), logS = hn::Log(dd, Sd);
    VD l = hn::Mul(hn::Mul(hn::Set(dd, e1), wy), hn::Add(hn::Sub(m, PartD(xy, h)), logS));
    if constexpr (kSmooth) {
      const VD W = hn::Set(dd, a.k.W);
      l = hn::Add(l, hn::Mul(hn::Set(dd, a.k.eC), hn::Add(hn::Mul(W, logS), hn::Sub(hn::Mul(W, m), ws[h]))));
    }
    hn::Store(l, dd, loss + h * NH);
    if constexpr (kGrad) {
      const VD gs = a.gvec ? PartD(gsf, h) : hn::Set(dd, a.gs);  // the exact float64 scale when uniform
      const VD A = hn::Mul(hn::Add(hn::Mul(hn::Set(dd, e1), wy), hn::Set(dd, a.k.eC * a.k.W)), gs);
      const VD aS = hn::Div(A, Sd);
      VD gy = hn::Sub(hn::Mul(aS, PartD(ey, h)), hn::Mul(hn::Mul(hn::Set(dd, e1), wy), gs));
      if constexpr (kSmooth) gy = hn::Sub(gy, hn::Mul(hn::Mul(hn::Set(dd, a.k.eC), gs), wy));
      hn::StoreU(hn::DemoteTo(dfh, aS), dfh, af + h * NH);
      hn::StoreU(hn::DemoteTo(dfh, gy), dfh, gyf + h * NH);
    }
  }

  // ---- sweep 3: the gradient ----
  if constexpr (kGrad) {
    const VF va = hn::Load(d, af), vgy = hn::Load(d, gyf);
    const VF vb = hn::Mul(hn::Set(d, static_cast<float>(a.k.eC)), gsf);
    float* gb = a.g + n * a.sgN + d0;
    for (std::int64_t c = 0; c < C; ++c) {
      VF gv = hn::Mul(va, hn::Load(d, buf + c * static_cast<std::int64_t>(N)));
      if constexpr (kSmooth) gv = hn::NegMulAdd(vb, hn::Set(d, a.w ? a.w[c] : 1.0f), gv);
      gv = hn::IfThenElse(hn::RebindMask(d, hn::Eq(yvec, hn::Set(di, static_cast<std::int32_t>(c)))), vgy, gv);
      if (any_ign) gv = hn::IfThenZeroElse(ign, gv);
      if (kFull && stream) hn::Stream(gv, d, gb + c * a.sgC);  // aligned (see Rows)
      else St<kFull>(d, gv, gb + c * a.sgC, k);
    }
  }

  // ---- losses in position order ----
  double sum = 0;
  const std::size_t kk = kFull ? N : k;
  for (std::size_t j = 0; j < kk; ++j) {
    const double l = yv[j] < 0 ? 0.0 : loss[j];
    if (a.out) a.out[n * a.soN + (d0 + static_cast<std::int64_t>(j)) * a.soD] = static_cast<float>(l);
    sum += l;
  }
  return sum;
}

template <bool kSmooth, bool kGrad>
double Rows(const CeIdsSpatial& a, std::int64_t begin, std::int64_t end) {
  const DF d;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(d));
  const hwy::AlignedFreeUniquePtr<float[]> buf_v =
      hwy::AllocateAligned<float>(static_cast<std::size_t>(std::max<std::int64_t>(a.C, 1) * N));
  float* ebuf = buf_v.get();
  // Full blocks start where (phase + d) % N == 0: at multiples of N within an item, or, when
  // streaming the gradient, where its vectors are aligned (the class and item strides are then
  // multiples of N, so one phase serves every class and item). A partial block before and after.
  const std::uintptr_t gaddr = reinterpret_cast<std::uintptr_t>(a.g);
  const bool stream = kGrad && a.stream && a.g != a.x && gaddr % sizeof(float) == 0 && a.sgC % N == 0 &&
                      a.sgN % N == 0;
  const std::int64_t phase =
      stream ? static_cast<std::int64_t>((gaddr / sizeof(float)) % static_cast<std::uintptr_t>(N)) : 0;
  double sum = 0;
  std::int64_t i = begin;
  while (i < end) {
    const std::int64_t n = i / a.D, d0 = i % a.D;
    const std::int64_t stop = std::min(a.D, d0 + (end - i));  // end of this item's part of the range
    std::int64_t dpos = d0;
    const std::int64_t head = std::min(stop - d0, (N - (phase + d0) % N) % N);
    if (head > 0) sum += Block<kSmooth, kGrad, false>(a, n, dpos, static_cast<std::size_t>(head), ebuf, false);
    dpos += head;
    for (; dpos + N <= stop; dpos += N)
      sum += Block<kSmooth, kGrad, true>(a, n, dpos, static_cast<std::size_t>(N), ebuf, stream);
    if (dpos < stop)
      sum += Block<kSmooth, kGrad, false>(a, n, dpos, static_cast<std::size_t>(stop - dpos), ebuf, false);
    i += stop - d0;
  }
  if (stream) hwy::FlushStream();
  return sum;
}

}  // namespace spatial

double CeIdsSpatialF32(const CeIdsSpatial& a, std::int64_t begin, std::int64_t end) {
  const bool smooth = a.k.e > 0;
  if (a.g) return smooth ? spatial::Rows<true, true>(a, begin, end) : spatial::Rows<false, true>(a, begin, end);
  return smooth ? spatial::Rows<true, false>(a, begin, end) : spatial::Rows<false, false>(a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace losskit::kernels {

HWY_EXPORT(CeIdsSpatialF32);

double ce_ids_spatial(const CeIdsSpatial& a, std::int64_t begin, std::int64_t end) {
  return HWY_DYNAMIC_DISPATCH(CeIdsSpatialF32)(a, begin, end);
}

}  // namespace losskit::kernels
#endif  // HWY_ONCE
