// SIMD softmax cross-entropy with probability targets (interface and semantics:
// kernels/softmax_probs.hpp), float32 rows with contiguous classes.
//
// Compiled once per instruction set by Highway's foreach_target; the best one for the running
// CPU is picked at the first call (HWY_DYNAMIC_DISPATCH).
//
// One row of C logits x and C targets t, three sweeps (the row stays in L1/L2 after the first):
//   1. a_c = w_c ((1 - e) t_c + eC) (float32); max m; A = sum a_c and X = sum_{a_c != 0} a_c x_c
//      (a select drops the a_c == 0 lanes, so a -inf logit with zero weight adds 0, not NaN);
//      four vectors' float32 partials at a time, added into float64 lanes; a float32 sum of the
//      logits detects NaN (and +inf with -inf). x and t are fetched 16 KiB ahead.
//   2. e_c = exp(x_c - m) with ExpNonPos (kernels/simd-inl.h, under 1 ULP), where x_c - m is
//      taken exactly: its float32 rounding error r (TwoSum) is put back as e_c (1 + r); so a
//      large |x_c - m| costs no accuracy. S = sum e_c (float32 over four vectors, then float64
//      lanes). e_c is kept in the float32 gradient row (or a per-thread scratch row when the
//      gradient is streamed). loss = A log S + (A m - X) in float64.
//   3. g_c = alpha e_c - gs a_c with alpha = gs A / S rounded to float32 (one multiply and one
//      fused multiply-add per entry), streamed with non-temporal stores for large gradients.
//
// Accuracy against the float64 reference (ce_probs_row_ref): a_c and a_c x_c carry one or two
// float32 roundings each, so A and X are within about 2^-23 of sum_c |a_c| and sum_c |a_c x_c|;
// S is within about 2 float32 ULP, so log S is within about 2.4e-7 absolute; the row loss is
// within about 2.4e-7 (A |m + log S| + sum_c |a_c x_c| + A) absolute (relative 1e-6 or better unless
// the loss itself cancels to far below its terms). Gradient entries are within a few float32
// ULP of max(|g_c|, gs A p_c): e_c under 1 ULP plus the compensation's rounding, alpha 0.5 ULP,
// gs a_c 0.5 ULP, the FMA 0.5 ULP; exps below 2^-126 are flushed to zero (an absolute error
// under gs A 1.2e-38). tests/unit/cross_entropy_probs_test.cpp checks these bounds.
//
// Rows holding NaN or +inf logits, only -inf logits, a non-finite a_c (NaN / inf targets or
// weights, or float32 overflow of w_c t'_c), a non-finite X (a -inf logit where a_c != 0, or
// float32 overflow of a_c x_c) or a non-finite upstream gradient take the scalar float64
// reference, so special values behave exactly as there.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax_probs.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/simd-inl.h"
#include "kernels/softmax_probs.hpp"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

/// exp(x - m) for x <= m: e^s (1 + r) with s = x - m in float32 and r its rounding error
/// (TwoSum, exact): |r| <= 2^-24 |s|, so the first-order correction is exact to float32
/// precision. Where e^s is 0 (s below -87.33, or -inf, where r is NaN) the result is 0.
HWY_INLINE VF ExpDiff(DF d, VF x, VF m) {
  const VF s = hn::Sub(x, m);
  const VF xb = hn::Add(s, m);           // the part of s that came from x
  const VF mb = hn::Sub(s, xb);          // ... and from -m
  const VF r = hn::Add(hn::Sub(x, xb), hn::Sub(hn::Neg(m), mb));
  const VF e = ExpNonPos(d, s);
  return hn::IfThenElse(hn::Eq(e, hn::Zero(d)), e, hn::MulAdd(e, r, e));
}

/// Sweeps 1 to 3 on row i; returns its loss.
HWY_INLINE double ProbsRow(const CeProbsRows& a, std::int64_t row, float* scratch) {
  const DF d;
  const std::size_t N = hn::Lanes(d), C = static_cast<std::size_t>(a.C);
  const float* HWY_RESTRICT x = a.x + row * a.sx;
  const float* HWY_RESTRICT t = a.t + row * a.st;
  const float* w = a.w;
  float* g = a.g ? a.g + row * a.sg : nullptr;
  const double gs = a.gvec ? static_cast<double>(a.gvec[row * a.sgv]) : a.gs;
  auto scalar = [&] { return ce_probs_row_ref<float>(x, 1, t, 1, a.C, w, a.e, a.eC, g, 1, gs); };
  // The scalar row for a non-finite upstream gradient, or one whose gs A overflows float32 (a
  // bound of alpha = gs A / S, S >= 1); decided before anything is written (g may be x).
  if (g && !(std::fabs(gs) <= std::numeric_limits<float>::max())) return scalar();

  const float kNegInf = -std::numeric_limits<float>::infinity();
  const VF ve1 = hn::Set(d, static_cast<float>(1.0 - a.e)), veC = hn::Set(d, static_cast<float>(a.eC));
  const bool smooth = a.e != 0;
  // a_c of the n (<= N) entries at c; lanes from n on are 0.
  auto coef = [&](std::size_t c, std::size_t n) LOSSKIT_ALWAYS_INLINE {
    VF tv = n == N ? hn::LoadU(d, t + c) : LoadTailF(d, t + c, n, 0.0f);
    if (smooth) tv = hn::MulAdd(ve1, tv, veC);
    if (w) return hn::Mul(tv, n == N ? hn::LoadU(d, w + c) : LoadTailF(d, w + c, n, 0.0f));
    if (smooth && n != N) return hn::IfThenElseZero(hn::FirstN(d, n), tv);
    return tv;
  };

  // ---- sweep 1: max, NaN check, A, X ----
  VF vmax0 = hn::Set(d, kNegInf), vmax1 = vmax0, vsum = hn::Zero(d);
  AccD accA, accX;
  const VF zero = hn::Zero(d);
  auto ax = [&](VF av, VF xv) LOSSKIT_ALWAYS_INLINE { return hn::IfThenZeroElse(hn::Eq(av, zero), hn::Mul(av, xv)); };
  constexpr std::size_t kAhead = 16384 / sizeof(float);
  std::size_t c = 0;
  for (; c + 4 * N <= C; c += 4 * N) {
    for (std::size_t j = 0; j < 4 * N; j += 64 / sizeof(float)) {
      hwy::Prefetch(x + c + j + kAhead);
      hwy::Prefetch(t + c + j + kAhead);
    }
    const VF x0 = hn::LoadU(d, x + c), x1 = hn::LoadU(d, x + c + N), x2 = hn::LoadU(d, x + c + 2 * N),
             x3 = hn::LoadU(d, x + c + 3 * N);
    const VF a0 = coef(c, N), a1 = coef(c + N, N), a2 = coef(c + 2 * N, N), a3 = coef(c + 3 * N, N);
    vmax0 = hn::Max(vmax0, hn::Max(x0, x1));
    vmax1 = hn::Max(vmax1, hn::Max(x2, x3));
    vsum = hn::Add(vsum, hn::Add(hn::Add(x0, x1), hn::Add(x2, x3)));
    accA.add(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)));
    accX.add(hn::Add(hn::Add(ax(a0, x0), ax(a1, x1)), hn::Add(ax(a2, x2), ax(a3, x3))));
  }
  for (; c < C; c += N) {
    const std::size_t n = std::min(N, C - c);
    const VF xv = n == N ? hn::LoadU(d, x + c) : LoadTailF(d, x + c, n, kNegInf);
    const VF av = coef(c, n);
    vmax0 = hn::Max(vmax0, xv);
    vsum = hn::Add(vsum, xv);
    accA.add(av);
    accX.add(ax(av, xv));
  }
  const float m = hn::GetLane(hn::MaxOfLanes(d, hn::Max(vmax0, vmax1)));
  const double A = accA.sum(), X = accX.sum();
  if (!hn::AllFalse(d, hn::IsNaN(vsum)) || !std::isfinite(m) || !std::isfinite(A) || !std::isfinite(X) ||
      (g && !(std::fabs(gs * A) <= std::numeric_limits<float>::max())))
    return scalar();

  // ---- sweep 2: exps and their sum ----
  const VF vm = hn::Set(d, m);
  float* ex = g ? (a.stream && g != x ? scratch : g) : nullptr;
  AccD accS;
  c = 0;
  for (; c + 4 * N <= C; c += 4 * N) {
    const VF e0 = ExpDiff(d, hn::LoadU(d, x + c), vm), e1 = ExpDiff(d, hn::LoadU(d, x + c + N), vm);
    const VF e2 = ExpDiff(d, hn::LoadU(d, x + c + 2 * N), vm), e3 = ExpDiff(d, hn::LoadU(d, x + c + 3 * N), vm);
    if (ex) {
      hn::StoreU(e0, d, ex + c), hn::StoreU(e1, d, ex + c + N);
      hn::StoreU(e2, d, ex + c + 2 * N), hn::StoreU(e3, d, ex + c + 3 * N);
    }
    accS.add(hn::Add(hn::Add(e0, e1), hn::Add(e2, e3)));
  }
  for (; c < C; c += N) {
    const std::size_t n = std::min(N, C - c);
    // Padding lanes: x = -inf, so s = -inf, r = NaN, ExpNonPos(-inf) = 0; zero them explicitly.
    VF ev = ExpDiff(d, n == N ? hn::LoadU(d, x + c) : LoadTailF(d, x + c, n, kNegInf), vm);
    if (n != N) ev = hn::IfThenElseZero(hn::FirstN(d, n), ev);
    if (ex) {
      if (n == N) hn::StoreU(ev, d, ex + c);
      else StoreTailF(d, ev, ex + c, n);
    }
    accS.add(ev);
  }
  const double S = accS.sum();
  // A (m + log S) - X, as A log S + (A m - X): m + log S would round log S away next to huge
  // logits (the scalar row takes log p = (x - m) - log S for the same reason).
  const double logS = std::log(S);
  const double loss = A * logS + (A * static_cast<double>(m) - X);
  if (!g) return loss;

  // ---- sweep 3: g_c = alpha e_c - gs a_c ----
  const VF valpha = hn::Set(d, static_cast<float>(gs * A / S)), vgs = hn::Set(d, static_cast<float>(gs));
  auto grad = [&](std::size_t i, std::size_t n) LOSSKIT_ALWAYS_INLINE {
    const VF ev = n == N ? hn::LoadU(d, ex + i) : LoadTailF(d, ex + i, n, 0.0f);
    return hn::MulSub(valpha, ev, hn::Mul(vgs, coef(i, n)));
  };
  c = 0;
  if (ex != g) {  // streamed: plain stores up to the alignment, then non-temporal ones
    const std::size_t head = StreamHead(d, g, C);
    while (c < head) {  // head < N, or C when g never aligns (then all plain stores)
      const std::size_t n = std::min(N, head - c);
      StoreTailF(d, grad(c, n), g + c, n);
      c += n;
    }
    for (; c + N <= C; c += N) StreamF(d, grad(c, N), g + c);
  } else {
    for (; c + 2 * N <= C; c += 2 * N) {
      const VF g0 = grad(c, N), g1 = grad(c + N, N);
      hn::StoreU(g0, d, g + c), hn::StoreU(g1, d, g + c + N);
    }
    for (; c + N <= C; c += N) hn::StoreU(grad(c, N), d, g + c);
  }
  if (c < C) StoreTailF(d, grad(c, C - c), g + c, C - c);
  return loss;
}

void CeProbsF32(const CeProbsRows& a, std::int64_t begin, std::int64_t end, std::int64_t bs, double* block_sums) {
  thread_local std::vector<float> scratch;
  if (a.g && a.stream && scratch.size() < static_cast<std::size_t>(a.C)) scratch.resize(static_cast<std::size_t>(a.C));
  double acc = 0;
  std::int64_t blk = 0, blk_end = std::min(end, begin + bs);
  for (std::int64_t i = begin; i < end; ++i) {
    if (i == blk_end) {
      block_sums[blk++] = acc;
      acc = 0;
      blk_end = std::min(end, i + bs);
    }
    const double li = ProbsRow(a, i, scratch.data());
    if (a.out) a.out[i * a.so] = static_cast<float>(li);
    else acc += li;
  }
  if (begin < end) block_sums[blk] = acc;
  if (a.stream && a.g) hwy::FlushStream();
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace losskit::kernels {

HWY_EXPORT(CeProbsF32);

void ce_probs_rows(const CeProbsRows& a, std::int64_t begin, std::int64_t end, std::int64_t bs, double* block_sums) {
  HWY_DYNAMIC_DISPATCH(CeProbsF32)(a, begin, end, bs, block_sums);
}

}  // namespace losskit::kernels
#endif  // HWY_ONCE
