// SIMD row passes of the embedding losses (interface: kernels/rows.hpp), one Highway target per
// compile of this file (foreach_target) and the best one picked at run time.
//
// Lanes are float64: each step loads Lanes(dd) float32 values per row (a half-width vector) and
// promotes them, so every product and sum is the scalar code's float64 operation; only the
// summation order differs. row_sums keeps two accumulator sets (even and odd steps) to halve the
// FMA latency chain, adds them, sums the lanes in a fixed order, then adds the tail (fewer than
// Lanes(dd) values) in element order. row_lin is lane-parallel; the tail runs the same float64
// operations one value at a time (c0 r0 + c1 r1 + c2 r2 + d as fma(c0, r0, fma(c1, r1, fma(c2,
// r2, d))), rounded once to float32). Without FMA (SSE4) Highway's MulAdd rounds twice.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/rows.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <cmath>
#include <cstdint>

#include "kernels/rows.hpp"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DD = hn::ScalableTag<double>;
using VD = hn::Vec<DD>;
using DFh = hn::Rebind<float, DD>;  // float32 values of one float64 vector

HWY_INLINE VD LoadD(const float* HWY_RESTRICT p) { return hn::PromoteTo(DD(), hn::LoadU(DFh(), p)); }

/// The lanes rounded to float32 and stored. The emulated targets' DemoteTo clamps values out of
/// float32's range to +-FLT_MAX; a cast rounds them to +-inf, as the scalar code does.
HWY_INLINE void StoreF(VD v, float* HWY_RESTRICT p) {
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
  const DD dd;
  double buf[hn::MaxLanes(dd)];
  hn::StoreU(v, dd, buf);
  for (std::size_t i = 0; i < hn::Lanes(dd); ++i) p[i] = static_cast<float>(buf[i]);
#else
  const DFh df;
  hn::StoreU(hn::DemoteTo(df, v), df, p);
#endif
}

/// The per-lane terms of `kind` added into (a0, a1, a2).
template <RowSum kKind>
HWY_INLINE void AddTerms(VD u, VD w, VD veps, VD& a0, VD& a1, VD& a2) {
  if constexpr (kKind == RowSum::Dot3) {
    a0 = hn::MulAdd(u, w, a0);
    a1 = hn::MulAdd(u, u, a1);
    a2 = hn::MulAdd(w, w, a2);
  } else if constexpr (kKind == RowSum::SqDiff) {
    const VD v = hn::Add(hn::Sub(u, w), veps);
    a0 = hn::MulAdd(v, v, a0);
  } else {
    a0 = hn::Add(a0, hn::Abs(hn::Add(hn::Sub(u, w), veps)));
  }
}

template <RowSum kKind>
RowSums SumsOf(const float* HWY_RESTRICT u, const float* HWY_RESTRICT w, double eps, std::int64_t n) {
  const DD dd;
  const auto N = static_cast<std::int64_t>(hn::Lanes(dd));
  const VD veps = hn::Set(dd, eps);
  VD a0 = hn::Zero(dd), a1 = a0, a2 = a0, b0 = a0, b1 = a0, b2 = a0;
  std::int64_t j = 0;
  for (; j + 2 * N <= n; j += 2 * N) {
    AddTerms<kKind>(LoadD(u + j), LoadD(w + j), veps, a0, a1, a2);
    AddTerms<kKind>(LoadD(u + j + N), LoadD(w + j + N), veps, b0, b1, b2);
  }
  if (j + N <= n) {
    AddTerms<kKind>(LoadD(u + j), LoadD(w + j), veps, a0, a1, a2);
    j += N;
  }
  RowSums s;
  s.s0 = hn::GetLane(hn::SumOfLanes(dd, hn::Add(a0, b0)));
  if constexpr (kKind == RowSum::Dot3) {
    s.s1 = hn::GetLane(hn::SumOfLanes(dd, hn::Add(a1, b1)));
    s.s2 = hn::GetLane(hn::SumOfLanes(dd, hn::Add(a2, b2)));
  }
  for (; j < n; ++j) {
    const double uj = u[j], wj = w[j];
    if constexpr (kKind == RowSum::Dot3) {
      s.s0 = std::fma(uj, wj, s.s0);
      s.s1 = std::fma(uj, uj, s.s1);
      s.s2 = std::fma(wj, wj, s.s2);
    } else if constexpr (kKind == RowSum::SqDiff) {
      const double v = uj - wj + eps;
      s.s0 = std::fma(v, v, s.s0);
    } else {
      s.s0 += std::fabs(uj - wj + eps);
    }
  }
  return s;
}

RowSums RowSumsN(RowSum kind, const float* u, const float* w, double eps, std::int64_t n) {
  switch (kind) {
    case RowSum::Dot3: return SumsOf<RowSum::Dot3>(u, w, eps, n);
    case RowSum::SqDiff: return SumsOf<RowSum::SqDiff>(u, w, eps, n);
    case RowSum::AbsDiff: return SumsOf<RowSum::AbsDiff>(u, w, eps, n);
  }
  return {};
}

template <int kK>
void LinOf(float* HWY_RESTRICT out, const RowLin& f, std::int64_t n) {
  const DD dd;
  const auto N = static_cast<std::int64_t>(hn::Lanes(dd));
  const float* r[3] = {f.row[0], f.row[1], f.row[2]};
  const VD vd = hn::Set(dd, f.d);
  VD vc[3];
  for (int i = 0; i < 3; ++i) vc[i] = hn::Set(dd, f.coef[i]);
  std::int64_t j = 0;
  for (; j + N <= n; j += N) {
    VD v = vd;
    if constexpr (kK > 2) v = hn::MulAdd(vc[2], LoadD(r[2] + j), v);
    if constexpr (kK > 1) v = hn::MulAdd(vc[1], LoadD(r[1] + j), v);
    if constexpr (kK > 0) v = hn::MulAdd(vc[0], LoadD(r[0] + j), v);
    StoreF(v, out + j);
  }
  for (; j < n; ++j) {
    double v = f.d;
    if constexpr (kK > 2) v = std::fma(f.coef[2], double{r[2][j]}, v);
    if constexpr (kK > 1) v = std::fma(f.coef[1], double{r[1][j]}, v);
    if constexpr (kK > 0) v = std::fma(f.coef[0], double{r[0][j]}, v);
    out[j] = static_cast<float>(v);
  }
}

void RowLinN(float* out, const RowLin& f, std::int64_t n) {
  switch (f.k) {
    case 0: return LinOf<0>(out, f, n);
    case 1: return LinOf<1>(out, f, n);
    case 2: return LinOf<2>(out, f, n);
    default: return LinOf<3>(out, f, n);
  }
}

void RowSignGradsN(const SignGrads& f, std::int64_t n) {
  const DD dd;
  const auto N = static_cast<std::int64_t>(hn::Lanes(dd));
  const VD zero = hn::Zero(dd), one = hn::Set(dd, 1.0), veps = hn::Set(dd, f.eps);
  VD vc[3][3];
  for (int o = 0; o < 3; ++o)
    for (int m = 0; m < 3; ++m) vc[o][m] = hn::Set(dd, f.c[o][m]);
  std::int64_t j = 0;
  for (; j + N <= n; j += N) {
    VD s[3] = {zero, zero, zero};
    for (int m = 0; m < f.pairs; ++m) {
      const VD v = hn::Add(hn::Sub(LoadD(f.u[m] + j), LoadD(f.w[m] + j)), veps);
      s[m] = hn::Sub(hn::IfThenElseZero(hn::Gt(v, zero), one), hn::IfThenElseZero(hn::Lt(v, zero), one));
    }
    for (int o = 0; o < 3; ++o) {
      if (!f.out[o]) continue;
      VD g = hn::Mul(vc[o][0], s[0]);
      for (int m = 1; m < f.pairs; ++m) g = hn::MulAdd(vc[o][m], s[m], g);
      StoreF(g, f.out[o] + j);
    }
  }
  for (; j < n; ++j) {
    double s[3] = {0, 0, 0};
    for (int m = 0; m < f.pairs; ++m) {
      const double v = double{f.u[m][j]} - double{f.w[m][j]} + f.eps;
      s[m] = v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0);
    }
    for (int o = 0; o < 3; ++o) {
      if (!f.out[o]) continue;
      double g = f.c[o][0] * s[0];
      for (int m = 1; m < f.pairs; ++m) g = std::fma(f.c[o][m], s[m], g);
      f.out[o][j] = static_cast<float>(g);
    }
  }
}

const char* RowsTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace losskit::kernels {
HWY_EXPORT(RowSumsN);
HWY_EXPORT(RowLinN);
HWY_EXPORT(RowSignGradsN);
HWY_EXPORT(RowsTargetName);
RowSums row_sums(RowSum kind, const float* u, const float* w, double eps, std::int64_t n) {
  return HWY_DYNAMIC_DISPATCH(RowSumsN)(kind, u, w, eps, n);
}
void row_lin(float* out, const RowLin& f, std::int64_t n) { HWY_DYNAMIC_DISPATCH(RowLinN)(out, f, n); }
void row_sign_grads(const SignGrads& f, std::int64_t n) { HWY_DYNAMIC_DISPATCH(RowSignGradsN)(f, n); }
const char* rows_target_name() { return HWY_DYNAMIC_DISPATCH(RowsTargetName)(); }
}  // namespace losskit::kernels
#endif  // HWY_ONCE
