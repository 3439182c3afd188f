// Softmax cross-entropy row kernels: the plain interface (pointers, counts, strides).
//
// The SIMD versions live in kernels/softmax.cpp, compiled once per instruction set (Highway
// foreach_target) and chosen at run time (HWY_DYNAMIC_DISPATCH): AVX-512, AVX2, SSE4, ... .
// ce_ids_row_ref is the scalar reference (double accumulation, any strides, any dtype); the
// SIMD kernels fall back to it for rows holding NaN or +inf, or only -inf.
//
// Row semantics (class-id targets, e = label smoothing, eC = e/C, W = sum_c w_c):
//   loss = (1-e) w_y (lse - x_y) + eC (W lse - sum_c w_c x_c)
//   g_c  = gs [ ((1-e) w_y + eC W) p_c - (1-e) w_y [c == y] - eC w_c ],  p = softmax(x)
// w null means all weights 1.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/stream.hpp"
#include "losskit/dtype.hpp"

namespace losskit::kernels {

template <class T>
inline double to_f64(T v) {
  return static_cast<double>(static_cast<float>(v));
}
template <>
inline double to_f64(double v) {
  return v;
}
template <class T>
inline T from_f64(double v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else if constexpr (std::is_same_v<T, float>) return static_cast<float>(v);
  else return T(static_cast<float>(v));
}

/// Per-call constants of a class-id cross-entropy.
struct CeConsts {
  double e = 0;   ///< label smoothing
  double eC = 0;  ///< e / C
  double W = 0;   ///< sum of class weights (C without weights)
};

/// Scalar reference of one class-id row (see the file comment). x has stride sx, g (null: no
/// gradient) stride sg; g may be x itself (in-place). Returns the row's loss.
template <class T, class G, class WT>
double ce_ids_row_ref(const T* x, std::int64_t sx, std::int64_t C, std::int64_t y, const WT* w, const CeConsts& k,
                      G* g, std::int64_t sg, double gs) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t c = 0; c < C; ++c) m = std::max(m, to_f64(x[c * sx]));
  // log p_c = (x_c - m) - log S, as PyTorch's log_softmax: m + log S would round log S away
  // next to huge logits (|x| > ~1e16 in float64).
  double log_s = 0;
  if (!(std::isinf(m) && m < 0)) {
    double s = 0;
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(to_f64(x[c * sx]) - m);
    log_s = std::log(s);
  }
  const double wy = w ? to_f64(w[y]) : 1.0;
  const double xy = to_f64(x[y * sx]);
  double loss = (1.0 - k.e) * wy * ((m - xy) + log_s);
  if (k.e > 0) {
    double ws = 0;
    for (std::int64_t c = 0; c < C; ++c) ws += (w ? to_f64(w[c]) : 1.0) * to_f64(x[c * sx]);
    loss += k.eC * (k.W * log_s + (k.W * m - ws));
  }
  if (g) {
    const double A = ((1.0 - k.e) * wy + k.eC * k.W) * gs, B = k.eC * gs;
    for (std::int64_t c = 0; c < C; ++c) {
      const double p = std::exp((to_f64(x[c * sx]) - m) - log_s);
      double v = A * p;
      if (k.e > 0) v -= B * (w ? to_f64(w[c]) : 1.0);  // (B = 0 without smoothing; w_c may be inf)
      if (c == y) v -= (1.0 - k.e) * wy * gs;
      g[c * sg] = from_f64<G>(v);
    }
  }
  return loss;
}

/// One call's worth of class-id rows, each a contiguous run of C logits.
template <class T, class G>
struct CeIdsRows {
  const T* x = nullptr;           ///< row i at x + i * sx
  std::int64_t sx = 0, C = 0;
  const std::int64_t* y = nullptr;  ///< target of row i at y[i * sy]
  std::int64_t sy = 0;
  std::int64_t ignore_index = -100;
  const float* w = nullptr;       ///< class weights (float32), null for none
  CeConsts k{};
  G* g = nullptr;                 ///< gradient row i at g + i * sg (null: none); may equal x
  std::int64_t sg = 0;
  double gs = 1.0;                ///< upstream gradient scale (times 1/denominator)
  const float* gvec = nullptr;    ///< per-row upstream gradient (Reduction::None backward)
  std::int64_t sgv = 0;
  float* out = nullptr;           ///< per-row loss (Reduction::None), else summed
  std::int64_t so = 0;
  /// Write the gradient with non-temporal stores (for gradients much larger than the caches:
  /// saves reading each line before writing it). Ignored when g == x (in-place).
  bool stream = false;
};

/// Rows [begin, end): writes gradients/per-row losses and adds the row losses (ignored rows
/// count 0) of each block of bs rows, in row order, into block_sums[k * stride] for the k-th
/// block from begin. SIMD, dynamically dispatched.
void ce_ids_rows(const CeIdsRows<float, float>& a, std::int64_t begin, std::int64_t end, std::int64_t bs,
                 double* block_sums, std::int64_t stride);
void ce_ids_rows(const CeIdsRows<bfloat16, bfloat16>& a, std::int64_t begin, std::int64_t end, std::int64_t bs,
                 double* block_sums, std::int64_t stride);
void ce_ids_rows(const CeIdsRows<bfloat16, float>& a, std::int64_t begin, std::int64_t end, std::int64_t bs,
                 double* block_sums, std::int64_t stride);
void ce_ids_rows(const CeIdsRows<float16, float16>& a, std::int64_t begin, std::int64_t end, std::int64_t bs,
                 double* block_sums, std::int64_t stride);
void ce_ids_rows(const CeIdsRows<float16, float>& a, std::int64_t begin, std::int64_t end, std::int64_t bs,
                 double* block_sums, std::int64_t stride);

/// Rows [begin, end) as one block: returns the sum of their losses.
template <class T, class G>
double ce_ids_rows(const CeIdsRows<T, G>& a, std::int64_t begin, std::int64_t end) {
  double sum = 0;
  ce_ids_rows(a, begin, end, std::max<std::int64_t>(end - begin, 1), &sum, 1);
  return sum;
}

/// One float32 class-id row (C contiguous logits, target *y in [0, C)) of a loss that depends on
/// the row only through ce = lse - x_y (poly1, softmax focal with class ids): returns ce
/// (float64, from the SIMD row kernel), calls factor(ce) once, and when g is not null writes
/// cross-entropy's gradient p - onehot(y) times factor(ce) to g (a second pass of the kernel).
template <class F>
double ce_id_row_scaled(const float* x, std::int64_t C, const std::int64_t* y, float* g, F&& factor) {
  CeIdsRows<float, float> a{.x = x, .sx = C, .C = C, .y = y, .sy = 0,
                            .ignore_index = std::numeric_limits<std::int64_t>::min(),
                            .k = {.W = static_cast<double>(C)}};
  const double ce = ce_ids_rows(a, 0, 1);
  const double f = factor(ce);
  if (g) {
    a.g = g;
    a.sg = C;
    a.gs = f;
    ce_ids_rows(a, 0, 1);
  }
  return ce;
}

/// log-sum-exp of a contiguous float row (SIMD); NaN/inf handled as the reference does.
double row_lse(const float* x, std::int64_t C);

/// y[i] = exp(x[i]) for x[i] <= 0 with the row kernels' exp (kernels/simd-inl.h ExpNonPos):
/// under 1 float32 ULP on [-87.33, 0], 0 below. For tests.
void exp_nonpos(const float* x, float* y, std::size_t n);

/// Name of the instruction set the dispatcher picks on this machine (e.g. "AVX3").
const char* simd_target_name();

}  // namespace losskit::kernels
