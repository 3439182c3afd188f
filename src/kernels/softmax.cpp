// SIMD softmax cross-entropy rows (interface and semantics: kernels/softmax.hpp).
//
// Compiled once per instruction set by Highway's foreach_target; the best one for the running
// CPU is picked at the first call (HWY_DYNAMIC_DISPATCH).
//
// One row of C logits, three sweeps over memory that stays in L1/L2 after the first:
//   1. max m (and sum_c w_c x_c for label smoothing; NaN detection), reading the row from RAM;
//   2. e_c = exp(x_c - m), S = sum_c e_c; e_c is kept in the float32 gradient row, or in a
//      per-thread scratch row (16-bit gradients, streamed gradients);
//   3. g_c = (A/S) e_c - B w_c, then g_y is recomputed in float64 (it holds p_y - 1, where a
//      float32 difference would lose digits).
// So the logits are read from memory once and the gradient is written once; with inplace_grad
// the gradient overwrites the logits row in cache. Long rows run the sweeps of three rows in
// one loop (CePipeline); rows that fit one vector go 16 at a time, one per lane (CeShortBlock).
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

// ---- short rows (C <= lanes), many at once: one row per lane ----
/// Rows r0 .. r0 + Lanes of a float32 call with C <= Lanes, transposed: class c of every row is
/// gathered into one vector, so max, exps and sums are lane-wise (no horizontal reductions, no
/// per-row latency chain), and the rows' sums, log-sum-exp, losses and target entries are formed
/// in float64 lanes as in the per-row path. Ignored rows give zero gradients and a zero loss.
/// Returns false, having written nothing, when a row that is not ignored holds NaN, +inf, or
/// only -inf (the per-row path then takes the block), or when offsets do not fit 32 bits.
template <class T, class G>
HWY_INLINE bool CeShortBlock(const CeIdsRows<T, G>& a, std::int64_t r0, double* loss) {
#if HWY_TARGET == HWY_SCALAR
  (void)a, (void)r0, (void)loss;
  return false;
#else
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<G, float>) {
    (void)a, (void)r0, (void)loss;
    return false;
  } else {
    const DF d;
    const hn::RebindToSigned<DF> di;
    const hn::Half<DF> dh;
    const DD dd;
    using VI = hn::Vec<decltype(di)>;
    constexpr std::size_t kMax = kMaxLanesF;
    const std::size_t N = hn::Lanes(d), C = static_cast<std::size_t>(a.C);
    if (a.sx * static_cast<std::int64_t>(N) >= (std::int64_t{1} << 30) ||
        (a.g && a.sg * static_cast<std::int64_t>(N) >= (std::int64_t{1} << 30)))
      return false;
    const float kNegInf = -std::numeric_limits<float>::infinity();
    const bool smooth = a.k.e > 0;
    // Targets (ignored rows: class 0 for the gathers, masked out after).
    alignas(64) std::int32_t yv[kMax];
    alignas(64) float ig[kMax];
    alignas(64) float gsv[kMax];
    for (std::size_t j = 0; j < N; ++j) {
      const std::int64_t r = r0 + static_cast<std::int64_t>(j);
      const std::int64_t y = a.y[r * a.sy];
      const bool ignored = y == a.ignore_index;
      yv[j] = ignored ? 0 : static_cast<std::int32_t>(y);
      ig[j] = ignored ? 1.0f : 0.0f;
      gsv[j] = a.gvec ? a.gvec[r * a.sgv] : 0.0f;
    }
    const VI yvec = hn::Load(di, yv);
    const auto ign = hn::Gt(hn::Load(d, ig), hn::Zero(d));
    const VI xrow = hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<std::int32_t>(a.sx)));
    const float* xb = a.x + r0 * a.sx;

    VF xs[kMax];
    VF vmax = hn::Set(d, kNegInf), vsum = hn::Zero(d);
    for (std::size_t c = 0; c < C; ++c) {
      xs[c] = hn::GatherIndex(d, xb + c, xrow);
      vmax = hn::Max(vmax, xs[c]);
      vsum = hn::Add(vsum, xs[c]);
    }
    const auto bad = hn::AndNot(ign, hn::Or(hn::IsNaN(vsum), hn::Not(hn::IsFinite(vmax))));
    if (!hn::AllFalse(d, bad)) return false;
    vmax = hn::IfThenZeroElse(ign, vmax);  // ignored rows: anything finite

    VF e[kMax];
    VF ey = hn::Zero(d);
    VD slo = hn::Zero(dd), shi = slo, wlo = slo, whi = slo;
    for (std::size_t c = 0; c < C; ++c) {
      e[c] = ExpNonPos(d, hn::Sub(xs[c], vmax));
      slo = hn::Add(slo, hn::PromoteTo(dd, hn::LowerHalf(dh, e[c])));
      shi = hn::Add(shi, hn::PromoteTo(dd, hn::UpperHalf(dh, e[c])));
      ey = hn::IfThenElse(hn::RebindMask(d, hn::Eq(yvec, hn::Set(di, static_cast<std::int32_t>(c)))), e[c], ey);
      if (smooth) {
        const VD wc = hn::Set(dd, a.w ? static_cast<double>(a.w[c]) : 1.0);
        wlo = hn::MulAdd(wc, hn::PromoteTo(dd, hn::LowerHalf(dh, xs[c])), wlo);
        whi = hn::MulAdd(wc, hn::PromoteTo(dd, hn::UpperHalf(dh, xs[c])), whi);
      }
    }
    const VF xy = hn::GatherIndex(d, xb, hn::Add(xrow, yvec));
    const VF wyf = a.w ? hn::GatherIndex(d, a.w, yvec) : hn::Set(d, 1.0f);
    const VF gsf = a.gvec ? hn::Load(d, gsv) : hn::Set(d, static_cast<float>(a.gs));

    // float64 lanes, two halves: loss, a = A / S, the target entry.
    alignas(64) float af[kMax], gyf[kMax];
    const double e1 = 1.0 - a.k.e;
    auto half = [&](VD S, VD m, VD xyd, VD wy, VD gs, VD ws, VD eyd, std::size_t off) LOSSKIT_ALWAYS_INLINE {
      const VD logS = hn::Log(dd, S);  // (m - x_y) + log S, as in the per-row path
      VD l = hn::Mul(hn::Mul(hn::Set(dd, e1), wy), hn::Add(hn::Sub(m, xyd), logS));
      if (smooth) {
        const VD W = hn::Set(dd, a.k.W);
        l = hn::Add(l, hn::Mul(hn::Set(dd, a.k.eC), hn::Add(hn::Mul(W, logS), hn::Sub(hn::Mul(W, m), ws))));
      }
      hn::StoreU(l, dd, loss + off);
      if (!a.g) return;
      const VD gs_used = a.gvec ? gs : hn::Set(dd, a.gs);  // the exact float64 scale when uniform
      const VD A = hn::Mul(hn::Add(hn::Mul(hn::Set(dd, e1), wy), hn::Set(dd, a.k.eC * a.k.W)), gs_used);
      const VD B = hn::Mul(hn::Set(dd, a.k.eC), gs_used);
      const VD aS = hn::Div(A, S);
      const VD gy = hn::Sub(hn::Sub(hn::Mul(aS, eyd), hn::Mul(B, wy)), hn::Mul(hn::Mul(hn::Set(dd, e1), wy), gs_used));
      const hn::Rebind<float, DD> df;
      hn::StoreU(hn::DemoteTo(df, aS), df, af + off);
      hn::StoreU(hn::DemoteTo(df, gy), df, gyf + off);
    };
    auto lo = [&](VF v) LOSSKIT_ALWAYS_INLINE { return hn::PromoteTo(dd, hn::LowerHalf(dh, v)); };
    auto hi = [&](VF v) LOSSKIT_ALWAYS_INLINE { return hn::PromoteTo(dd, hn::UpperHalf(dh, v)); };
    half(slo, lo(vmax), lo(xy), lo(wyf), lo(gsf), wlo, lo(ey), 0);
    half(shi, hi(vmax), hi(xy), hi(wyf), hi(gsf), whi, hi(ey), N / 2);
    for (std::size_t j = 0; j < N; ++j)
      if (ig[j] != 0.0f) loss[j] = 0.0;
    if (!a.g) return true;

    const VF va = hn::Load(d, af);
    const VF vb = hn::Mul(hn::Set(d, static_cast<float>(a.k.eC)), a.gvec ? gsf : hn::Set(d, static_cast<float>(a.gs)));
    const VI grow = hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<std::int32_t>(a.sg)));
    float* gb = a.g + r0 * a.sg;
    for (std::size_t c = 0; c < C; ++c) {
      VF gv = hn::Mul(va, e[c]);
      if (smooth) gv = hn::NegMulAdd(vb, hn::Set(d, a.w ? a.w[c] : 1.0f), gv);
      hn::ScatterIndex(hn::IfThenZeroElse(ign, gv), d, gb + c, grow);
    }
    // The target entries last (ignored rows: 0 into their class-0 entry, which is 0 anyway).
    hn::ScatterIndex(hn::IfThenZeroElse(ign, hn::Load(d, gyf)), d, gb, hn::Add(grow, yvec));
    return true;
  }
#endif
}


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
  bool staged = false;  ///< ex holds the row's logits widened to float32 (16-bit T)
};

/// Fused sweeps over one row length C: scan (sweep 1) of sx, exps (sweep 2) of ex_row,
/// gradient (sweep 3) of wr. Each stage present when its template flag is set.
template <bool kS, bool kE, bool kW, class T, class G>
HWY_INLINE void FusedSweeps(std::size_t C, const float* w, bool smooth, const T* sx, float* sx_f32, ScanAcc& sa_out,
                            const Flight<T, G>* er, AccD& es_out, const Flight<T, G>* wr) {
  const DF d;
  ScanAcc sa = sa_out;  // accumulators in registers (not through the references) in the loop
  AccD es = es_out;
  const std::size_t N = hn::Lanes(d);
  const float kNegInf = -std::numeric_limits<float>::infinity();
  VF vm = hn::Zero(d), va = vm, vb = vm;
  const T* ex_x = nullptr;
  float* ex_out = nullptr;
  bool ex_staged = false;  // 16-bit logits already widened into ex_out by the scan
  if constexpr (kE) vm = hn::Set(d, er->m), ex_x = er->x, ex_out = er->ex, ex_staged = er->staged;
  const float* wr_e = nullptr;
  G* wr_g = nullptr;
  std::size_t h = 0;
  bool stream = false;
  if constexpr (kW) va = hn::Set(d, wr->a), vb = hn::Set(d, wr->b), wr_e = wr->ex, wr_g = wr->g, h = wr->head, stream = wr->stream;

  auto scan = [&](std::size_t i) LOSSKIT_ALWAYS_INLINE {
    const VF v = LoadF(d, sx + i);
    if constexpr (!std::is_same_v<T, float>) {
      if (sx_f32) hn::StoreU(v, d, sx_f32 + i);
    }
    sa.vmax = hn::Max(sa.vmax, v);
    sa.vsum = hn::Add(sa.vsum, v);
    if (smooth) sa.ws.add(w ? hn::Mul(v, hn::LoadU(d, w + i)) : v);
  };
  auto expv = [&](std::size_t i) LOSSKIT_ALWAYS_INLINE {
    VF x;
    if constexpr (std::is_same_v<T, float>) x = hn::LoadU(d, ex_x + i);
    else x = ex_staged ? hn::LoadU(d, ex_out + i) : LoadF(d, ex_x + i);
    const VF e = ExpNonPos(d, hn::Sub(x, vm));
    if (ex_out) hn::StoreU(e, d, ex_out + i);
    return e;
  };
  auto grad = [&](VF e, std::size_t i, std::size_t n) LOSSKIT_ALWAYS_INLINE {
    if (!smooth) return hn::Mul(va, e);
    if (!w) return hn::Sub(hn::Mul(va, e), vb);
    const VF wv = n == N ? hn::LoadU(d, w + i) : LoadTailF(d, w + i, n, 0.0f);
    return hn::NegMulAdd(vb, wv, hn::Mul(va, e));
  };
  auto write = [&](std::size_t i) LOSSKIT_ALWAYS_INLINE {  // full vector at i (aligned when streaming)
    const VF gv = grad(hn::LoadU(d, wr_e + i), i, N);
    if constexpr (std::is_same_v<G, bfloat16>) {
      // Gradients here are finite: the cheaper rounding (no NaN lanes to keep quiet).
      const hn::Rebind<hwy::bfloat16_t, DF> db;
      const auto b = DemoteBF16Finite(d, gv);
      auto* p = reinterpret_cast<hwy::bfloat16_t*>(wr_g + i);
      if (stream) hn::Stream(b, db, p);
      else hn::StoreU(b, db, p);
    } else {
      if (stream) StreamF(d, gv, wr_g + i);
      else StoreF(d, gv, wr_g + i);
    }
  };
  auto write_part = [&](std::size_t i, std::size_t n) LOSSKIT_ALWAYS_INLINE {  // n < N entries at i
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
      if constexpr (!std::is_same_v<T, float>) {
        if (sx_f32) StoreTailF(d, v0, sx_f32 + i, n);
      }
      sa.vmax = hn::Max(sa.vmax, hn::IfThenElse(hn::FirstN(d, n), v0, hn::Set(d, kNegInf)));
      sa.vsum = hn::Add(sa.vsum, v0);
      if (smooth) sa.ws.add(w ? hn::Mul(v0, LoadTailF(d, w + i, n, 0.0f)) : v0);
    }
    if constexpr (kE) {
      const VF xt = ex_staged ? LoadTailF(d, ex_out + i, n, kNegInf) : LoadTailF(d, ex_x + i, n, kNegInf);
      const VF e = ExpNonPos(d, hn::Sub(xt, vm));
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
using FusedFn = void (*)(std::size_t, const float*, bool, const T*, float*, ScanAcc&, const Flight<T, G>*, AccD&,
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
      // Three rows are in flight (scan of k, exps of k-1, gradient of k-2): one buffer each.
      sr->ex = use_scratch ? scratch + (k % 3) * C : reinterpret_cast<float*>(sr->g);
      // 16-bit logits: the scan widens them into the row's exp buffer, which sweep 2 reads.
      sr->staged = !std::is_same_v<T, float> && sr->ex != nullptr;
    }
    Flight<T, G>* er = k >= 1 && k - 1 < n && f[k - 1].fast ? &f[k - 1] : nullptr;
    Flight<T, G>* wr = a.g && k >= 2 && f[k - 2].fast ? &f[k - 2] : nullptr;
    AccD es;
    const int which = (sr ? 1 : 0) | (er ? 2 : 0) | (wr ? 4 : 0);
    if (which) kFns[which](C, a.w, smooth, sr ? sr->x : nullptr, sr && sr->staged ? sr->ex : nullptr, sa, er, es, wr);

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
  // Exps of the rows in flight live here when not in the gradient rows: per thread, grown once.
  thread_local std::vector<float> scratch;
  const bool need_scratch = !short_rows && a.g && (stream || !std::is_same_v<G, float>);
  if (need_scratch && scratch.size() < 3 * C) scratch.resize(3 * C);
  constexpr std::size_t kBatch = 64;
  RowPart parts[kBatch];
  std::int64_t idx[kBatch];
  double S[kBatch], logS[kBatch];
  auto per_row = [&](std::int64_t i, std::int64_t stop) {
    while (i < stop) {
      // Rows of one batch: gradients written, log-sum-exp parts kept.
      std::size_t nb = 0;
      for (; i < stop && nb < kBatch; ++i) {
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
          // (m - x_y) + log S: m + log S would round log S away next to huge logits.
          l = (1.0 - a.k.e) * p.wy * ((p.m - p.xy) + logS[j]);
          if (a.k.e > 0) l += a.k.eC * (a.k.W * logS[j] + (a.k.W * p.m - p.ws));
        }
        if (a.out) a.out[idx[j] * a.so] = static_cast<float>(l);
        else block_sums[(idx[j] - begin) / bs * stride] += l;
      }
    }
  };
  if (short_rows && C >= 2 && HWY_TARGET != HWY_SCALAR) {
    // Groups of Lanes rows, one row per lane. Groups never cross a block of bs rows (blocks do
    // not depend on the thread count, so neither does which path a row takes); a group the
    // block path refuses (special values) and each block's last rows take the per-row path.
    const std::int64_t NL = static_cast<std::int64_t>(hn::Lanes(d));
    double loss[kMaxLanesF];
    for (std::int64_t b0 = begin; b0 < end; b0 += bs) {
      const std::int64_t b1 = std::min(end, b0 + bs);
      std::int64_t r = b0;
      for (; r + NL <= b1; r += NL) {
        if (!CeShortBlock(a, r, loss)) {
          per_row(r, r + NL);
          continue;
        }
        for (std::int64_t j = 0; j < NL; ++j) {
          if (a.out) a.out[(r + j) * a.so] = static_cast<float>(loss[j]);
          else if (a.y[(r + j) * a.sy] != a.ignore_index) block_sums[(r + j - begin) / bs * stride] += loss[j];
        }
      }
      per_row(r, b1);
    }
  } else {
    per_row(begin, end);
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
