// A check for row losses whose float32 class-id rows with contiguous classes run a SIMD row
// kernel while float64 rows run the scalar code: the two on the same values must agree.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/testing.hpp"

namespace lktest {

// fb(x, t, loss, grad) runs forward_backward with Reduction::None, bwd(up, x, t, grad) the
// backward with a per-row upstream gradient; both are called for float and double views.
// Widths around the vector lengths and a vocabulary-sized one; row 1 has a masked (-inf)
// class, row 2 a masked target, row 3 is ignored (-100), row 4 holds a NaN. `scale` bounds
// the gradient's magnitude relative to cross-entropy's (tolerances grow with it).
template <class FB, class BW>
void check_f32_id_rows_match_f64(FB fb, BW bwd, double scale) {
  using losskit::ConstView;
  using losskit::TensorView;
  Rng rng(9);
  const float inf = std::numeric_limits<float>::infinity();
  for (const std::int64_t C : {1, 2, 7, 16, 17, 33, 64, 1000, 4099}) {
    SCOPED_TRACE("C = " + std::to_string(C));
    const std::int64_t N = 6;
    const std::vector<double> x0 = rng.normal(static_cast<std::size_t>(N * C), 0, 3);
    std::vector<float> x(x0.begin(), x0.end());
    std::vector<std::int64_t> t(N);
    for (std::int64_t n = 0; n < N; ++n) t[n] = (n * 5 + 3) % C;
    if (C > 2) x[static_cast<std::size_t>(C + (t[1] + 1) % C)] = -inf;
    if (C > 1) x[static_cast<std::size_t>(2 * C + t[2])] = -inf;
    t[3] = -100;
    x[static_cast<std::size_t>(4 * C)] = std::numeric_limits<float>::quiet_NaN();
    const std::vector<double> xd(x.begin(), x.end());
    std::vector<float> up(N);
    for (std::int64_t n = 0; n < N; ++n) up[n] = 0.5f + 0.25f * static_cast<float>(n);
    const std::vector<double> upd(up.begin(), up.end());
    const ConstView<std::int64_t> tv(t.data(), {N});
    std::vector<float> l(N), g(x.size()), gb(x.size());
    std::vector<double> ld(N), gd(x.size()), gbd(x.size());
    fb(ConstView<float>(x.data(), {N, C}), tv, TensorView<float>(l.data(), {N}), TensorView<float>(g.data(), {N, C}));
    fb(ConstView<double>(xd.data(), {N, C}), tv, TensorView<double>(ld.data(), {N}),
       TensorView<double>(gd.data(), {N, C}));
    bwd(ConstView<float>(up.data(), {N}), ConstView<float>(x.data(), {N, C}), tv, TensorView<float>(gb.data(), {N, C}));
    bwd(ConstView<double>(upd.data(), {N}), ConstView<double>(xd.data(), {N, C}), tv,
        TensorView<double>(gbd.data(), {N, C}));
    for (std::int64_t n = 0; n < N; ++n) {
      SCOPED_TRACE("row " + std::to_string(n));
      if (std::isnan(ld[n]) || std::isinf(ld[n])) {
        EXPECT_EQ(std::isnan(l[n]), std::isnan(ld[n]));
        if (!std::isnan(ld[n])) EXPECT_EQ(l[n], static_cast<float>(ld[n]));
      } else {
        EXPECT_NEAR(l[n], ld[n], 1e-6 * std::abs(ld[n]) + 4e-7 * scale);
      }
      for (std::int64_t c = 0; c < C; ++c) {
        const std::size_t i = static_cast<std::size_t>(n * C + c);
        if (std::isnan(gd[i])) {
          EXPECT_TRUE(std::isnan(g[i])) << c;
          EXPECT_TRUE(std::isnan(gb[i])) << c;
          continue;
        }
        EXPECT_NEAR(g[i], gd[i], 1e-6 * std::abs(gd[i]) + 3e-7 * scale) << c;
        EXPECT_NEAR(gb[i], gbd[i], 1e-6 * std::abs(gbd[i]) + 3e-7 * scale * up[n]) << c;
      }
    }
    EXPECT_EQ(l[3], 0.0f);
    for (std::int64_t c = 0; c < C; ++c) EXPECT_EQ(g[static_cast<std::size_t>(3 * C + c)], 0.0f);
  }
}

}  // namespace lktest
