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
// Accuracy (float32 inputs): exp is ExpNonPos (kernels/simd-inl.h: under 1 ULP, results below
// 2^-126 flushed to zero); x_c - m is one float32 rounding; S adds the exps of four vectors in
// float32 (two levels), then each such partial into a float64 sum (lanes promoted, fixed-order
// horizontal sum), so S is within about 2 float32 ULP; the smoothing sum is float64; lse = m +
// log(S) and the row loss are float64. The row's lse is within about 2e-7 (absolute) of the
// float64 reference; gradient entries within a few float32 ULP of max(|g_c|, p_c * A). Rows with
// NaN or +inf (or +inf and -inf, or a finite sum that overflows next to -inf), or with every
// logit -inf, take the scalar float64
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
/// What a row leaves for its loss: the loss needs log(S), which is taken for a batch of rows at
/// once (vector Log) instead of one scalar log per row.
struct RowPart {
  double m = 0, S = 1, xy = 0, ws = 0, wy = 1;
  bool done = false;  ///< loss already final (scalar fallback row)
  double loss = 0;
};

/// A row that fits one vector (C <= lanes): the same three steps, all in registers, one masked
/// load and one masked store (small-class problems are bound by per-row overhead).
template <class T, class G>
HWY_INLINE RowPart CeRowShort(const T* x, std::size_t C, std::int64_t y, const float* w, const CeConsts& k, G* g,
                              double gs) {
  const DF d;
  const float kNegInf = -std::numeric_limits<float>::infinity();
  const VF v = C == hn::Lanes(d) ? LoadF(d, x) : LoadTailF(d, x, C, kNegInf);
  const float m = hn::GetLane(hn::MaxOfLanes(d, v));
  if (!hn::AllFalse(d, hn::IsNaN(v)) || !std::isfinite(m)) {
    RowPart r;
    r.done = true;
    r.loss = ce_ids_row_ref(x, 1, static_cast<std::int64_t>(C), y, w, k, g, 1, gs);
    return r;
  }
  const bool smooth = k.e > 0;
  const auto valid = hn::FirstN(d, C);
  const VF wv = w ? LoadTailF(d, w, C, 0.0f) : hn::IfThenElseZero(valid, hn::Set(d, 1.0f));
  RowPart res;
  res.m = static_cast<double>(m);
  res.xy = to_f64(x[y]);
  res.wy = w ? static_cast<double>(w[y]) : 1.0;
  if (smooth) {
    AccD ws;
    ws.add(hn::IfThenElseZero(valid, hn::Mul(wv, v)));
    res.ws = ws.sum();
  }
  const VF e = ExpNonPos(d, hn::Sub(v, hn::Set(d, m)));  // padding lanes: exp(-inf) = 0
  AccD s;
  s.add(e);
  res.S = s.sum();
  if (!g) return res;
  float eb[kMaxLanesF];
  hn::StoreU(e, d, eb);
  const double A = ((1.0 - k.e) * res.wy + k.eC * k.W) * gs, B = k.eC * gs;
  VF gv = hn::Mul(hn::Set(d, static_cast<float>(A / res.S)), e);
  if (smooth) gv = hn::NegMulAdd(hn::Set(d, static_cast<float>(B)), wv, gv);
  if (C == hn::Lanes(d)) StoreF(d, gv, g);
  else StoreTailF(d, gv, g, C);
  g[y] = from_f64<G>(A * (static_cast<double>(eb[y]) / res.S) - B * res.wy - (1.0 - k.e) * res.wy * gs);
  return res;
}

// Lambdas of the fused loops must inline (GCC otherwise keeps some as calls in the hot loop).
#define HWY_ATTR_ALWAYS_INLINE __attribute__((always_inline))

// ---- rows longer than one vector: a three-stage pipeline over rows ----
// Row k's three sweeps run in three consecutive fused loops: the loop that scans row k (sweep
// 1, reading it from memory) also computes the exps of row k-1 (sweep 2, from L2) and writes
// the gradient of row k-2 (sweep 3, streamed to memory). Memory reads, arithmetic and memory
// writes of different rows then overlap inside one loop instead of running one after another.

/// Sweep 1 accumulators of one row.
struct ScanAcc {
  VF vmax, vsum;
  AccD ws;
};

/// One row in flight through the pipeline.
template <class T, class G>
struct Flight {
  const T* x = nullptr;
  G* g = nullptr;
  float* ex = nullptr;  ///< its exps: the float32 gradient row itself, or a scratch row
  std::int64_t y = 0;
  double gs = 1;
  RowPart* part = nullptr;
  bool fast = false;  ///< on the SIMD path (else its loss and gradient are already final)
  float m = 0;
  float a = 0, b = 0;  ///< gradient g = a e - b w (a = A / S)
  double gy = 0;       ///< the exact target entry, stored after sweep 3
  std::size_t head = 0;  ///< leading entries written with plain stores before the aligned streamed part
  bool stream = false;
};

/// Fused sweeps over one row length C: scan (sweep 1) of sx, exps (sweep 2) of ex_row,
/// gradient (sweep 3) of wr. Each stage present when its template flag is set.
template <bool kS, bool kE, bool kW, class T, class G>
HWY_INLINE void FusedSweeps(std::size_t C, const float* w, bool smooth, const T* sx, ScanAcc& sa_out,
                            const Flight<T, G>* er, AccD& es_out, const Flight<T, G>* wr) {
  const DF d;
  ScanAcc sa = sa_out;  // accumulators in registers (not through the references) in the loop
  AccD es = es_out;
  const std::size_t N = hn::Lanes(d);
  const float kNegInf = -std::numeric_limits<float>::infinity();
  VF vm = hn::Zero(d), va = vm, vb = vm;
  const T* ex_x = nullptr;
  float* ex_out = nullptr;
  if constexpr (kE) vm = hn::Set(d, er->m), ex_x = er->x, ex_out = er->ex;
  const float* wr_e = nullptr;
  G* wr_g = nullptr;
  std::size_t h = 0;
  bool stream = false;
  if constexpr (kW) va = hn::Set(d, wr->a), vb = hn::Set(d, wr->b), wr_e = wr->ex, wr_g = wr->g, h = wr->head, stream = wr->stream;

  auto scan = [&](std::size_t i) HWY_ATTR_ALWAYS_INLINE {
    const VF v = LoadF(d, sx + i);
    sa.vmax = hn::Max(sa.vmax, v);
    sa.vsum = hn::Add(sa.vsum, v);
    if (smooth) sa.ws.add(w ? hn::Mul(v, hn::LoadU(d, w + i)) : v);
  };
  auto expv = [&](std::size_t i) HWY_ATTR_ALWAYS_INLINE {
    const VF e = ExpNonPos(d, hn::Sub(LoadF(d, ex_x + i), vm));
    if (ex_out) hn::StoreU(e, d, ex_out + i);
    return e;
  };
  auto grad = [&](VF e, std::size_t i, std::size_t n) HWY_ATTR_ALWAYS_INLINE {
    if (!smooth) return hn::Mul(va, e);
    if (!w) return hn::Sub(hn::Mul(va, e), vb);
    const VF wv = n == N ? hn::LoadU(d, w + i) : LoadTailF(d, w + i, n, 0.0f);
    return hn::NegMulAdd(vb, wv, hn::Mul(va, e));
  };
  auto write = [&](std::size_t i) HWY_ATTR_ALWAYS_INLINE {  // full vector at i (aligned when streaming)
    const VF gv = grad(hn::LoadU(d, wr_e + i), i, N);
    if (stream) StreamF(d, gv, wr_g + i);
    else StoreF(d, gv, wr_g + i);
  };
  auto write_part = [&](std::size_t i, std::size_t n) HWY_ATTR_ALWAYS_INLINE {  // n < N entries at i
    if (n) StoreTailF(d, grad(LoadTailF(d, wr_e + i, n, 0.0f), i, n), wr_g + i, n);
  };

  constexpr std::size_t kAhead = 16384 / sizeof(T);
  std::size_t i = 0, wi = h;  // wi: where the gradient stage stands (it starts after its head)
  for (; i + 4 * N <= C; i += 4 * N) {
    if constexpr (kS) {
      // The scanned row comes from memory: fetch ahead (lines past the row's end are harmless).
      for (std::size_t j = 0; j < 4 * N; j += 64 / sizeof(T)) __builtin_prefetch(sx + i + j + kAhead, 0, 3);
      scan(i), scan(i + N), scan(i + 2 * N), scan(i + 3 * N);
    }
    if constexpr (kE) {
      const VF e0 = expv(i), e1 = expv(i + N), e2 = expv(i + 2 * N), e3 = expv(i + 3 * N);
      es.add(hn::Add(hn::Add(e0, e1), hn::Add(e2, e3)));  // four exps in float32, then float64
    }
    if constexpr (kW) {
      if (wi + 4 * N <= C) {
        write(wi), write(wi + N), write(wi + 2 * N), write(wi + 3 * N);
        wi += 4 * N;
      }
    }
  }
  for (; i + N <= C; i += N) {
    if constexpr (kS) scan(i);
    if constexpr (kE) es.add(expv(i));
  }
  if (i < C) {
    const std::size_t n = C - i;
    if constexpr (kS) {
      const VF v0 = LoadTailF(d, sx + i, n, 0.0f);
      sa.vmax = hn::Max(sa.vmax, hn::IfThenElse(hn::FirstN(d, n), v0, hn::Set(d, kNegInf)));
      sa.vsum = hn::Add(sa.vsum, v0);
      if (smooth) sa.ws.add(w ? hn::Mul(v0, LoadTailF(d, w + i, n, 0.0f)) : v0);
    }
    if constexpr (kE) {
      const VF e = ExpNonPos(d, hn::Sub(LoadTailF(d, ex_x + i, n, kNegInf), vm));
      es.add(e);
      if (ex_out) StoreTailF(d, e, ex_out + i, n);
    }
  }
  if constexpr (kW) {
    for (; wi + N <= C; wi += N) write(wi);
    write_part(wi, C - wi);
    write_part(0, h);
  }
  sa_out = sa;
  es_out = es;
}

template <class T, class G>
using FusedFn = void (*)(std::size_t, const float*, bool, const T*, ScanAcc&, const Flight<T, G>*, AccD&,
                         const Flight<T, G>*);

/// Rows idx[0..n) (none ignored, all of length C > lanes) through the pipeline; fills parts.
template <class T, class G>
HWY_INLINE void CePipeline(const CeIdsRows<T, G>& a, const std::int64_t* idx, std::size_t n, RowPart* parts,
                           float* scratch) {
  const DF d;
  const std::size_t C = static_cast<std::size_t>(a.C);
  const bool smooth = a.k.e > 0;
  const bool inplace = static_cast<const void*>(a.g) == static_cast<const void*>(a.x);
  const bool use_scratch = a.g && (!std::is_same_v<G, float> || (a.stream && !inplace));
  static const FusedFn<T, G> kFns[8] = {
      nullptr,
      FusedSweeps<true, false, false, T, G>,
      FusedSweeps<false, true, false, T, G>,
      FusedSweeps<true, true, false, T, G>,
      FusedSweeps<false, false, true, T, G>,
      FusedSweeps<true, false, true, T, G>,
      FusedSweeps<false, true, true, T, G>,
      FusedSweeps<true, true, true, T, G>};
  constexpr std::size_t kMax = 64;
  Flight<T, G> f[kMax];
  for (std::size_t k = 0; k < n + 2; ++k) {
    Flight<T, G>* sr = nullptr;
    ScanAcc sa{hn::Set(d, -std::numeric_limits<float>::infinity()), hn::Zero(d), AccD()};
    if (k < n) {
      sr = &f[k];
      const std::int64_t i = idx[k];
      sr->x = a.x + i * a.sx;
      sr->g = a.g ? a.g + i * a.sg : nullptr;
      sr->y = a.y[i * a.sy];
      sr->gs = a.gvec ? static_cast<double>(a.gvec[i * a.sgv]) : a.gs;
      sr->part = &parts[k];
      sr->ex = use_scratch ? scratch + (k % 2) * C : reinterpret_cast<float*>(sr->g);
    }
    Flight<T, G>* er = k >= 1 && k - 1 < n && f[k - 1].fast ? &f[k - 1] : nullptr;
    Flight<T, G>* wr = a.g && k >= 2 && f[k - 2].fast ? &f[k - 2] : nullptr;
    AccD es;
    const int which = (sr ? 1 : 0) | (er ? 2 : 0) | (wr ? 4 : 0);
    if (which) kFns[which](C, a.w, smooth, sr ? sr->x : nullptr, sa, er, es, wr);

    if (wr) wr->g[wr->y] = from_f64<G>(wr->gy);  // the target entry, exactly
    if (er) {
      RowPart& p = *er->part;
      p.S = es.sum();
      if (er->g) {
        const double A = ((1.0 - a.k.e) * p.wy + a.k.eC * a.k.W) * er->gs, B = a.k.eC * er->gs;
        const double ey = static_cast<double>(er->ex[er->y]);
        er->a = static_cast<float>(A / p.S), er->b = static_cast<float>(B);
        er->gy = A * (ey / p.S) - B * p.wy - (1.0 - a.k.e) * p.wy * er->gs;
        er->stream = a.stream && !inplace;
        er->head = er->stream ? StreamHead(d, er->g, C) : 0;
        if (er->head >= C) er->stream = false, er->head = 0;  // never aligns: plain stores
      }
    }
    if (sr) {
      RowPart& p = *sr->part;
      p = RowPart{};
      p.xy = to_f64(sr->x[sr->y]);  // read before an in-place gradient overwrites it
      p.wy = a.w ? static_cast<double>(a.w[sr->y]) : 1.0;
      const float m = hn::GetLane(hn::MaxOfLanes(d, sa.vmax));
      if (!hn::AllFalse(d, hn::IsNaN(sa.vsum)) || !std::isfinite(m)) {
        p.done = true;
        p.loss = ce_ids_row_ref(sr->x, 1, a.C, sr->y, a.w, a.k, sr->g, 1, sr->gs);
        sr->fast = false;
      } else {
        sr->fast = true;
        sr->m = m;
        p.m = static_cast<double>(m);
        if (smooth) p.ws = sa.ws.sum();
      }
    }
  }
}

/// out[j] = log(v[j]) for j < n (float64 vectors; Highway Log, max 4 ULP).
HWY_INLINE void LogBatch(const double* v, double* out, std::size_t n) {
  const hn::ScalableTag<double> dd;
  const std::size_t N = hn::Lanes(dd);
  std::size_t j = 0;
  for (; j + N <= n; j += N) hn::StoreU(hn::Log(dd, hn::LoadU(dd, v + j)), dd, out + j);
  for (; j < n; ++j) out[j] = std::log(v[j]);
}

template <class T, class G>
HWY_INLINE void CeIdsRowsT(const CeIdsRows<T, G>& a, std::int64_t begin, std::int64_t end, std::int64_t bs,
                           double* block_sums, std::int64_t stride) {
  const DF d;
  const std::size_t C = static_cast<std::size_t>(a.C);
  const bool short_rows = C <= hn::Lanes(d);
  const bool inplace = static_cast<const void*>(a.g) == static_cast<const void*>(a.x);
  const bool stream = a.stream && a.g && !inplace;
  // Exps of two rows live here when not in the gradient rows: per thread, grown once, reused.
  thread_local std::vector<float> scratch;
  const bool need_scratch = !short_rows && a.g && (stream || !std::is_same_v<G, float>);
  if (need_scratch && scratch.size() < 2 * C) scratch.resize(2 * C);
  constexpr std::size_t kBatch = 64;
  RowPart parts[kBatch];
  std::int64_t idx[kBatch];
  double S[kBatch], logS[kBatch];
  for (std::int64_t i = begin; i < end;) {
    // Rows of one batch: gradients written, log-sum-exp parts kept.
    std::size_t nb = 0;
    for (; i < end && nb < kBatch; ++i) {
      G* g = a.g ? a.g + i * a.sg : nullptr;
      const std::int64_t y = a.y[i * a.sy];
      if (y == a.ignore_index) {
        if (g) std::fill_n(g, C, G{});
        if (a.out) a.out[i * a.so] = 0.0f;
        continue;
      }
      if (short_rows) {
        const double gs = a.gvec ? static_cast<double>(a.gvec[i * a.sgv]) : a.gs;
        parts[nb] = CeRowShort(a.x + i * a.sx, C, y, a.w, a.k, g, gs);
      }
      idx[nb++] = i;
    }
    if (!short_rows) CePipeline(a, idx, nb, parts, scratch.data());
    for (std::size_t j = 0; j < nb; ++j) S[j] = parts[j].S;
    LogBatch(S, logS, nb);
    // Their losses, added in row order.
    for (std::size_t j = 0; j < nb; ++j) {
      const RowPart& p = parts[j];
      double l = p.loss;
      if (!p.done) {
        const double lse = p.m + logS[j];
        l = (1.0 - a.k.e) * p.wy * (lse - p.xy);
        if (a.k.e > 0) l += a.k.eC * (a.k.W * lse - p.ws);
      }
      if (a.out) a.out[idx[j] * a.so] = static_cast<float>(l);
      else block_sums[(idx[j] - begin) / bs * stride] += l;
    }
  }
  if (stream) hwy::FlushStream();
}

void CeIdsF32(const CeIdsRows<float, float>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
              std::int64_t stride) {
  CeIdsRowsT(a, b, e, bs, sums, stride);
}
void CeIdsBF16(const CeIdsRows<bfloat16, bfloat16>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
              std::int64_t stride) {
  CeIdsRowsT(a, b, e, bs, sums, stride);
}
void CeIdsBF16G32(const CeIdsRows<bfloat16, float>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
              std::int64_t stride) {
  CeIdsRowsT(a, b, e, bs, sums, stride);
}
void CeIdsF16(const CeIdsRows<float16, float16>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
              std::int64_t stride) {
  CeIdsRowsT(a, b, e, bs, sums, stride);
}
void CeIdsF16G32(const CeIdsRows<float16, float>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
              std::int64_t stride) {
  CeIdsRowsT(a, b, e, bs, sums, stride);
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
  for (i = 0; i + N <= n; i += N) s.add(ExpNonPos(d, hn::Sub(hn::LoadU(d, x + i), vm)));
  if (i < n) s.add(ExpNonPos(d, hn::Sub(LoadTailF(d, x + i, n - i, kNegInf), vm)));
  return static_cast<double>(m) + std::log(s.sum());
}

void ExpNonPosN(const float* x, float* y, std::size_t n) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(ExpNonPos(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StoreTailF(d, ExpNonPos(d, LoadTailF(d, x + i, n - i, 0.0f)), y + i, n - i);
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
HWY_EXPORT(ExpNonPosN);
HWY_EXPORT(TargetName);

void ce_ids_rows(const CeIdsRows<float, float>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
                 std::int64_t stride) {
  HWY_DYNAMIC_DISPATCH(CeIdsF32)(a, b, e, bs, sums, stride);
}
void ce_ids_rows(const CeIdsRows<bfloat16, bfloat16>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
                 std::int64_t stride) {
  HWY_DYNAMIC_DISPATCH(CeIdsBF16)(a, b, e, bs, sums, stride);
}
void ce_ids_rows(const CeIdsRows<bfloat16, float>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
                 std::int64_t stride) {
  HWY_DYNAMIC_DISPATCH(CeIdsBF16G32)(a, b, e, bs, sums, stride);
}
void ce_ids_rows(const CeIdsRows<float16, float16>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
                 std::int64_t stride) {
  HWY_DYNAMIC_DISPATCH(CeIdsF16)(a, b, e, bs, sums, stride);
}
void ce_ids_rows(const CeIdsRows<float16, float>& a, std::int64_t b, std::int64_t e, std::int64_t bs, double* sums,
                 std::int64_t stride) {
  HWY_DYNAMIC_DISPATCH(CeIdsF16G32)(a, b, e, bs, sums, stride);
}
double row_lse(const float* x, std::int64_t C) { return HWY_DYNAMIC_DISPATCH(RowLse)(x, C); }
void exp_nonpos(const float* x, float* y, std::size_t n) { HWY_DYNAMIC_DISPATCH(ExpNonPosN)(x, y, n); }
const char* simd_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace losskit::kernels

namespace losskit {
std::string simd_target() { return kernels::simd_target_name(); }
}  // namespace losskit
#endif  // HWY_ONCE
