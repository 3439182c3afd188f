// SIMD row passes of the embedding losses (interface of kernels/rows.cpp; used by
// src/embedding/ for float32 rows): per-row sums of two rows, and a linear combination of up to
// three rows. Both work in float64 lanes (the float32 values promoted), as the scalar code does,
// so they agree with it to float64 rounding; only the order of the additions differs (lanes,
// then a fixed-order horizontal sum, then the tail of fewer than one vector in element order),
// and it is fixed for a given target and row length, whatever the thread count.
#pragma once

#include <cstdint>

namespace losskit::kernels {

/// Which sums row_sums() forms over rows u and w.
enum class RowSum : int {
  Dot3,     ///< s0 = sum u w, s1 = sum u^2, s2 = sum w^2 (cosine similarity)
  SqDiff,   ///< s0 = sum (u - w + eps)^2 (pairwise distance, p = 2)
  AbsDiff,  ///< s0 = sum |u - w + eps| (pairwise distance, p = 1)
};

struct RowSums {
  double s0 = 0, s1 = 0, s2 = 0;
};

/// The sums `kind` over the n values at u and w (u - w + eps formed in float64).
RowSums row_sums(RowSum kind, const float* u, const float* w, double eps, std::int64_t n);

/// A linear combination of up to three rows and a constant: sum_i coef[i] row[i][j] + d.
struct RowLin {
  const float* row[3] = {nullptr, nullptr, nullptr};
  double coef[3] = {0, 0, 0};
  int k = 0;  ///< rows in use
  double d = 0;
  void add(const float* r, double c) {
    row[k] = r;
    coef[k] = c;
    ++k;
  }
};

/// out[j] = float(f.coef[0] f.row[0][j] + ... + f.d) for j < n, formed in float64 as
/// fma(c0, r0, fma(c1, r1, fma(c2, r2, d))), rounded once. out may not overlap the rows.
void row_lin(float* out, const RowLin& f, std::int64_t n);

/// The gradient rows of a combination of p = 1 pairwise distances |u_m - w_m + eps|_1 (m < pairs):
/// with s_m = sgn(u_m[j] - w_m[j] + eps) (formed in float64; sgn(0) = sgn(NaN) = 0),
/// out[o][j] = float(c[o][0] s_0 + c[o][1] s_1 + c[o][2] s_2) for each o with out[o] non-null.
struct SignGrads {
  const float* u[3] = {nullptr, nullptr, nullptr};
  const float* w[3] = {nullptr, nullptr, nullptr};
  int pairs = 0;
  double eps = 0;
  float* out[3] = {nullptr, nullptr, nullptr};
  double c[3][3] = {};
};
void row_sign_grads(const SignGrads& f, std::int64_t n);

/// Rows shorter than this take the callers' scalar loops (a dispatched call per row costs more).
inline constexpr std::int64_t kRowSimdMin = 16;

/// The SIMD target this module dispatches to now (for tests).
const char* rows_target_name();

}  // namespace losskit::kernels
