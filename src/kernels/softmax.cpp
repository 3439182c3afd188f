// SIMD softmax cross-entropy rows (interface and semantics: kernels/softmax.hpp).
//
// Compiled once per instruction set by Highway's foreach_target; the best one for the running
// CPU is picked at the first call (HWY_DYNAMIC_DISPATCH).
//
// One row of C logits, three sweeps over memory that stays in L1/L2 after the first:
//   1. max m (and sum_c w_c x_c for label smoothing; NaN detection), reading the row from RAM;
//   2. e_c = exp(x_c - m), S = sum_c e_c; e_c is stored in the float32 gradient row when there
//      is one (else recomputed in sweep 3);
//   3. g_c = (A/S) e_c - B w_c, then g_y is recomputed in float64 (it holds p_y - 1, where a
//      float32 difference would lose digits).
// So the logits are read from memory once and the gradient is written once; with inplace_grad
// the gradient overwrites the logits row in cache.
//
// Accuracy (float32 inputs): exp is Highway's Exp (max 1 ULP); x_c - m is one float32
// rounding; S and the smoothing sum accumulate in float64 (lanes promoted, then a fixed-order
// horizontal sum); lse = m + log(S) and the row loss are float64. The row loss is within about
// 2e-7 relative of the float64 reference; gradient entries within a few float32 ULP of
// max(|g_c|, p_c * A). Rows with NaN or +inf, or with every logit -inf, take the scalar float64
// reference (ce_ids_row_ref), so special values behave exactly as there.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <vector>

#include "kernels/simd-inl.h"
#include "kernels/softmax.hpp"
#include "losskit/threading.hpp"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

/// One class-id row (see the file comment). g may be x (same type) for in-place gradients.
/// scratch: C floats for the exps when they are not kept in the gradient row (16-bit or
/// streamed gradients); stream: non-temporal gradient stores.
template <class T, class G>
HWY_INLINE double CeRow(const T* x, std::size_t C, std::int64_t y, const float* w, const CeConsts& k, G* g,
                        double gs, float* scratch, bool stream) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
  const float kNegInf = -std::numeric_limits<float>::infinity();
  const bool smooth = k.e > 0;

  // ---- sweep 1: max, NaN flag, smoothing sum ----
  VF vmax = hn::Set(d, kNegInf);
  VF vbad = hn::Zero(d);
  AccD ws;
  std::size_t i = 0;
  for (; i + N <= C; i += N) {
    const VF v = LoadF(d, x + i);
    vmax = hn::Max(vmax, v);
    vbad = hn::Or(vbad, hn::VecFromMask(d, hn::IsNaN(v)));
    if (smooth) ws.add(w ? hn::Mul(v, hn::LoadU(d, w + i)) : v);
  }
  if (i < C) {
    const VF v = LoadTailF(d, x + i, C - i, kNegInf);
    vmax = hn::Max(vmax, v);
    vbad = hn::Or(vbad, hn::VecFromMask(d, hn::IsNaN(v)));
    if (smooth) {
      const VF v0 = LoadTailF(d, x + i, C - i, 0.0f);
      ws.add(w ? hn::Mul(v0, LoadTailF(d, w + i, C - i, 0.0f)) : v0);
    }
  }
  const float m = hn::GetLane(hn::MaxOfLanes(d, vmax));
  if (!hn::AllFalse(d, hn::MaskFromVec(vbad)) || !std::isfinite(m)) {
    return ce_ids_row_ref(x, 1, static_cast<std::int64_t>(C), y, w, k, g, 1, gs);
  }
  const double xy = to_f64(x[y]);  // read before the gradient may overwrite the row

  // ---- sweep 2: S = sum exp(x - m); exps kept in the float32 gradient row or in scratch ----
  float* ex = nullptr;  // where the exps go
  if (g) {
    if constexpr (std::is_same_v<G, float>) ex = stream ? scratch : g;
    else ex = scratch;
  }
  const VF vm = hn::Set(d, m);
  AccD s;
  i = 0;
  for (; i + N <= C; i += N) {
    const VF e = hn::Exp(d, hn::Sub(LoadF(d, x + i), vm));
    s.add(e);
    if (ex) hn::StoreU(e, d, ex + i);
  }
  if (i < C) {
    const VF e = hn::Exp(d, hn::Sub(LoadTailF(d, x + i, C - i, kNegInf), vm));
    s.add(e);
    if (ex) StoreTailF(d, e, ex + i, C - i);
  }
  const double S = s.sum();
  const double lse = static_cast<double>(m) + std::log(S);
  const double ey = ex ? static_cast<double>(ex[y]) : 0.0;  // exp(x_y - m), before sweep 3 overwrites it
  const double wy = w ? static_cast<double>(w[y]) : 1.0;
  double loss = (1.0 - k.e) * wy * (lse - xy);
  if (smooth) loss += k.eC * (k.W * lse - ws.sum());
  if (!g) return loss;

  // ---- sweep 3: g = (A/S) e - B w ----
  const double A = ((1.0 - k.e) * wy + k.eC * k.W) * gs, B = k.eC * gs;
  const VF va = hn::Set(d, static_cast<float>(A / S));
  const VF vb = hn::Set(d, static_cast<float>(B));
  auto grad = [&](VF e, const float* wp, std::size_t n) {
    if (!smooth) return hn::Mul(va, e);
    if (!wp) return hn::Sub(hn::Mul(va, e), vb);
    const VF wv = n == N ? hn::LoadU(d, wp) : LoadTailF(d, wp, n, 0.0f);
    return hn::NegMulAdd(vb, wv, hn::Mul(va, e));
  };
  // Partial chunk [i, i + n), n < N.
  auto part = [&](std::size_t i0, std::size_t n) {
    if (n == 0) return;
    StoreTailF(d, grad(LoadTailF(d, ex + i0, n, 0.0f), w ? w + i0 : nullptr, n), g + i0, n);
  };
  i = 0;
  if (stream) {
    const std::size_t head = StreamHead(d, g, C);
    for (; i + N <= head; i += N) StoreF(d, grad(hn::LoadU(d, ex + i), w ? w + i : nullptr, N), g + i);
    part(i, head - i);
    i = head;
    for (; i + N <= C; i += N) StreamF(d, grad(hn::LoadU(d, ex + i), w ? w + i : nullptr, N), g + i);
  } else {
    for (; i + N <= C; i += N) StoreF(d, grad(hn::LoadU(d, ex + i), w ? w + i : nullptr, N), g + i);
  }
  part(i, C - i);
  // The target entry in float64: A p_y - B w_y - (1-e) w_y gs, p_y = exp(x_y - m) / S.
  g[y] = from_f64<G>(A * (ey / S) - B * wy - (1.0 - k.e) * wy * gs);
  return loss;
}

template <class T, class G>
HWY_INLINE double CeIdsRowsT(const CeIdsRows<T, G>& a, std::int64_t begin, std::int64_t end) {
  const std::size_t C = static_cast<std::size_t>(a.C);
  const bool inplace = static_cast<const void*>(a.g) == static_cast<const void*>(a.x);
  const bool stream = a.stream && a.g && !inplace;
  // Exps of one row live here when not in the gradient row: per thread, grown once, reused.
  thread_local std::vector<float> scratch;
  const bool need_scratch = a.g && (stream || !std::is_same_v<G, float>);
  if (need_scratch && scratch.size() < C) scratch.resize(C);
  double acc = 0;
  for (std::int64_t i = begin; i < end; ++i) {
    const T* x = a.x + i * a.sx;
    G* g = a.g ? a.g + i * a.sg : nullptr;
    const std::int64_t y = a.y[i * a.sy];
    if (y == a.ignore_index) {
      if (g) std::fill_n(g, C, G{});
      if (a.out) a.out[i * a.so] = 0.0f;
      continue;
    }
    const double gs = a.gvec ? static_cast<double>(a.gvec[i * a.sgv]) : a.gs;
    const double l = CeRow(x, C, y, a.w, a.k, g, gs, scratch.data(), stream);
    if (a.out) a.out[i * a.so] = static_cast<float>(l);
    else acc += l;
  }
  if (stream) hwy::FlushStream();
  return acc;
}

double CeIdsF32(const CeIdsRows<float, float>& a, std::int64_t b, std::int64_t e) { return CeIdsRowsT(a, b, e); }
double CeIdsBF16(const CeIdsRows<bfloat16, bfloat16>& a, std::int64_t b, std::int64_t e) {
  return CeIdsRowsT(a, b, e);
}
double CeIdsBF16G32(const CeIdsRows<bfloat16, float>& a, std::int64_t b, std::int64_t e) {
  return CeIdsRowsT(a, b, e);
}
double CeIdsF16(const CeIdsRows<float16, float16>& a, std::int64_t b, std::int64_t e) {
  return CeIdsRowsT(a, b, e);
}
double CeIdsF16G32(const CeIdsRows<float16, float>& a, std::int64_t b, std::int64_t e) {
  return CeIdsRowsT(a, b, e);
}

double RowLse(const float* x, std::int64_t C) {
  const DF d;
  const std::size_t N = hn::Lanes(d), n = static_cast<std::size_t>(C);
  const float kNegInf = -std::numeric_limits<float>::infinity();
  VF vmax = hn::Set(d, kNegInf), vbad = hn::Zero(d);
  std::size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF v = hn::LoadU(d, x + i);
    vmax = hn::Max(vmax, v);
    vbad = hn::Or(vbad, hn::VecFromMask(d, hn::IsNaN(v)));
  }
  if (i < n) {
    const VF v = LoadTailF(d, x + i, n - i, kNegInf);
    vmax = hn::Max(vmax, v);
    vbad = hn::Or(vbad, hn::VecFromMask(d, hn::IsNaN(v)));
  }
  const float m = hn::GetLane(hn::MaxOfLanes(d, vmax));
  if (!hn::AllFalse(d, hn::MaskFromVec(vbad))) return std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(m)) return m > 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(m);
  const VF vm = hn::Set(d, m);
  AccD s;
  for (i = 0; i + N <= n; i += N) s.add(hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vm)));
  if (i < n) s.add(hn::Exp(d, hn::Sub(LoadTailF(d, x + i, n - i, kNegInf), vm)));
  return static_cast<double>(m) + std::log(s.sum());
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace losskit::kernels {

HWY_EXPORT(CeIdsF32);
HWY_EXPORT(CeIdsBF16);
HWY_EXPORT(CeIdsBF16G32);
HWY_EXPORT(CeIdsF16);
HWY_EXPORT(CeIdsF16G32);
HWY_EXPORT(RowLse);
HWY_EXPORT(TargetName);

double ce_ids_rows(const CeIdsRows<float, float>& a, std::int64_t b, std::int64_t e) {
  return HWY_DYNAMIC_DISPATCH(CeIdsF32)(a, b, e);
}
double ce_ids_rows(const CeIdsRows<bfloat16, bfloat16>& a, std::int64_t b, std::int64_t e) {
  return HWY_DYNAMIC_DISPATCH(CeIdsBF16)(a, b, e);
}
double ce_ids_rows(const CeIdsRows<bfloat16, float>& a, std::int64_t b, std::int64_t e) {
  return HWY_DYNAMIC_DISPATCH(CeIdsBF16G32)(a, b, e);
}
double ce_ids_rows(const CeIdsRows<float16, float16>& a, std::int64_t b, std::int64_t e) {
  return HWY_DYNAMIC_DISPATCH(CeIdsF16)(a, b, e);
}
double ce_ids_rows(const CeIdsRows<float16, float>& a, std::int64_t b, std::int64_t e) {
  return HWY_DYNAMIC_DISPATCH(CeIdsF16G32)(a, b, e);
}
double row_lse(const float* x, std::int64_t C) { return HWY_DYNAMIC_DISPATCH(RowLse)(x, C); }
const char* simd_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace losskit::kernels

namespace losskit {
std::string simd_target() { return kernels::simd_target_name(); }
}  // namespace losskit
#endif  // HWY_ONCE
