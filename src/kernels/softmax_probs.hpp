// Softmax cross-entropy with probability targets (soft labels): the plain interface of
// kernels/softmax_probs.cpp, and the scalar reference row that both the SIMD kernel (for rows
// with special values) and cross_entropy.cpp's scalar branch (float64, strided, spatial) call.
//
// Row semantics (e = label smoothing, eC = e / C, w null means all weights 1):
//   t'_c = (1 - e) t_c + eC,  a_c = w_c t'_c,  A = sum_c a_c,  lse = log sum_c exp(x_c)
//   loss = A lse - sum_{c: a_c != 0} a_c x_c          (0 * (-inf) counts 0)
//   g_c  = gs (A p_c - a_c),  p_c = exp(x_c - lse)
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/softmax_row.hpp"

namespace losskit::kernels {

/// Scalar reference of one row, float64 throughout: x, t strided (sx, st), gradient g (null:
/// none) with stride sg; g may be x itself (in-place). Returns the row's loss.
template <class T>
double ce_probs_row_ref(const T* x, std::int64_t sx, const T* t, std::int64_t st, std::int64_t C, const T* w,
                        double e, double eC, T* g, std::int64_t sg, double gs) {
  const RowStats rs = row_stats<T>(x, sx, C, nullptr, false);
  double A = 0, loss = 0;
  for (std::int64_t c = 0; c < C; ++c) {
    const double tc = (1.0 - e) * static_cast<double>(t[c * st]) + eC;
    const double ac = (w ? static_cast<double>(w[c]) : 1.0) * tc;
    if (ac == 0) continue;  // 0 * logp = 0, even where logp = -inf
    A += ac;
    loss -= ac * rs.logp(static_cast<double>(x[c * sx]));
  }
  if (g) {
    for (std::int64_t c = 0; c < C; ++c) {
      const double tc = (1.0 - e) * static_cast<double>(t[c * st]) + eC;
      const double ac = (w ? static_cast<double>(w[c]) : 1.0) * tc;
      const double p = std::exp(rs.logp(static_cast<double>(x[c * sx])));
      g[c * sg] = static_cast<T>(gs * (A * p - ac));
    }
  }
  return loss;
}

/// One call's worth of float32 rows, each a contiguous run of C logits and C target values.
struct CeProbsRows {
  const float* x = nullptr;  ///< row i at x + i * sx
  std::int64_t sx = 0, C = 0;
  const float* t = nullptr;  ///< target row i at t + i * st
  std::int64_t st = 0;
  const float* w = nullptr;  ///< class weights, null for none
  double e = 0, eC = 0;      ///< label smoothing and e / C
  float* g = nullptr;        ///< gradient row i at g + i * sg (null: none); may equal x (in-place)
  std::int64_t sg = 0;
  double gs = 1.0;              ///< upstream gradient scale (times 1/denominator)
  const float* gvec = nullptr;  ///< per-row upstream gradient at gvec[i * sgv] (Reduction::None)
  std::int64_t sgv = 0;
  float* out = nullptr;  ///< per-row loss at out[i * so] (Reduction::None), else summed
  std::int64_t so = 0;
  /// Non-temporal gradient stores (gradients much larger than the caches; see kStreamBytes in
  /// kernels/softmax.hpp). Ignored when g == x.
  bool stream = false;
};

/// Rows [begin, end): writes gradients / per-row losses and adds the row losses of each block of
/// bs rows, in row order, into block_sums[k] for the k-th block from begin (begin a multiple of
/// bs; the parallel_sum_spans contract). SIMD, dynamically dispatched. Rows holding NaN or +inf,
/// only -inf, a non-finite target/weight product, a non-finite sum_c a_c x_c (e.g. -inf where
/// a_c != 0) or a non-finite upstream gradient take ce_probs_row_ref<float>.
void ce_probs_rows(const CeProbsRows& a, std::int64_t begin, std::int64_t end, std::int64_t bs, double* block_sums);

}  // namespace losskit::kernels
