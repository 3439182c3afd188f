// Row kernels for softmax-based losses: log-sum-exp of a (strided) row and the softmax gradient.
// Scalar reference versions; accumulation in double.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace losskit::kernels {

struct RowStats {
  double lse = 0;     ///< log(sum_c exp(x_c)) = m + log_s
  double m = 0;       ///< max_c x_c
  double log_s = 0;   ///< log(sum_c exp(x_c - m))
  double wsum_x = 0;  ///< sum_c w_c x_c (only when asked)
  /// log softmax at a logit of the row: (x - m) - log_s, as PyTorch's log_softmax (x - lse
  /// would lose log_s next to huge logits).
  double logp(double x) const { return (x - m) - log_s; }
};

/// lse of x[0], x[sx], ..., x[(C-1) sx]; with want_wsum also sum_c w_c x_c (w null means 1).
/// A row of -inf gives lse = -inf; a +inf or NaN entry gives NaN, as in PyTorch.
template <class T>
RowStats row_stats(const T* x, std::int64_t sx, std::int64_t C, const T* w, bool want_wsum) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(x[c * sx]));
  RowStats st;
  st.m = m;
  if (std::isinf(m) && m < 0) {
    st.lse = m;
  } else {
    double s = 0;
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(x[c * sx]) - m);
    st.log_s = std::log(s);
    st.lse = m + st.log_s;
  }
  if (want_wsum) {
    double ws = 0;
    for (std::int64_t c = 0; c < C; ++c) ws += (w ? static_cast<double>(w[c]) : 1.0) * static_cast<double>(x[c * sx]);
    st.wsum_x = ws;
  }
  return st;
}

/// g_c = v for c in [0, C).
template <class T>
void fill_row(T* g, std::int64_t sg, std::int64_t C, T v) {
  for (std::int64_t c = 0; c < C; ++c) g[c * sg] = v;
}

}  // namespace losskit::kernels
