// Row kernels for softmax-based losses: log-sum-exp of a (strided) row and the softmax gradient.
// Scalar reference versions; accumulation in double.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace losskit::kernels {

struct RowStats {
  double lse = 0;     ///< log(sum_c exp(x_c))
  double wsum_x = 0;  ///< sum_c w_c x_c (only when asked)
};

/// lse of x[0], x[sx], ..., x[(C-1) sx]; with want_wsum also sum_c w_c x_c (w null means 1).
/// A row of -inf gives lse = -inf; a +inf or NaN entry gives NaN, as in PyTorch.
template <class T>
RowStats row_stats(const T* x, std::int64_t sx, std::int64_t C, const T* w, bool want_wsum) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(x[c * sx]));
  RowStats st;
  if (std::isinf(m) && m < 0) {
    st.lse = m;
  } else {
    double s = 0;
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(x[c * sx]) - m);
    st.lse = m + std::log(s);
  }
  if (want_wsum) {
    double ws = 0;
    for (std::int64_t c = 0; c < C; ++c) ws += (w ? static_cast<double>(w[c]) : 1.0) * static_cast<double>(x[c * sx]);
    st.wsum_x = ws;
  }
  return st;
}

/// g_c = alpha * exp(x_c - lse) - beta * w_c   (w null means 1). g may alias x exactly.
template <class T>
void softmax_grad_row(const T* x, std::int64_t sx, T* g, std::int64_t sg, std::int64_t C, double lse, double alpha,
                      double beta, const T* w) {
  for (std::int64_t c = 0; c < C; ++c) {
    const double p = std::exp(static_cast<double>(x[c * sx]) - lse);
    g[c * sg] = static_cast<T>(alpha * p - beta * (w ? static_cast<double>(w[c]) : 1.0));
  }
}

/// g_c = v for c in [0, C).
template <class T>
void fill_row(T* g, std::int64_t sg, std::int64_t C, T v) {
  for (std::int64_t c = 0; c < C; ++c) g[c * sg] = v;
}

}  // namespace losskit::kernels
