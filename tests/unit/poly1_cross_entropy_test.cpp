// poly1_cross_entropy (optax poly_loss_cross_entropy): gradients for every option, optax's
// formula written out, cross_entropy at epsilon = 0, masked logits, bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/loss_checks.hpp"
#include "support/testing.hpp"

using namespace losskit;
using lktest::Rng;
using lktest::expect_error_untouched;

TEST(Poly1CrossEntropy, GradientsEveryOption) {
  Rng rng(1);
  const std::int64_t N = 3, C = 4, D = 2;
  const auto x = rng.normal(N * C * D, 0, 2);
  const auto ids = rng.classes(N * D, C, 0.2);
  const auto probs = rng.uniform(N * C * D, 0, 1);
  for (double eps : {2.0, -1.0, 0.0}) {
    SCOPED_TRACE(eps);
    auto opts = [&](Reduction r) { return Poly1Options{.epsilon = eps, .reduction = r}; };
    const ConstView<std::int64_t> iv(ids.data(), {N, D});
    lktest::check_loss_calls(Shape{N, C, D}, x, Shape{N, D}, LKTEST_CALLS(poly1_cross_entropy, iv, opts));
    const ConstView<double> pv(probs.data(), {N, C, D});
    lktest::check_loss_calls(Shape{N, C, D}, x, Shape{N, D}, LKTEST_CALLS(poly1_cross_entropy, pv, opts));
  }
}

TEST(Poly1CrossEntropy, OptaxFormulaAndCrossEntropy) {
  Rng rng(2);
  const std::int64_t N = 5, C = 4;
  const auto x = rng.normal(N * C, 0, 2);
  const auto labels = rng.simplex(N, C);
  const auto ids = rng.classes(N, C);
  const ConstView<double> xv(x.data(), {N, C});
  for (double eps : {2.0, 0.5}) {
    auto l = poly1_cross_entropy(xv, ConstView<double>(labels.data(), {N, C}), {.epsilon = eps});
    auto li = poly1_cross_entropy(xv, ConstView<std::int64_t>(ids.data(), {N}), {.epsilon = eps});
    ASSERT_EQ(l.numel(), N);  // reduction defaults to None, as optax
    for (std::int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (std::int64_t c = 0; c < C; ++c) s += std::exp(x[n * C + c]);
      double ce = 0, omp = 0;
      for (std::int64_t c = 0; c < C; ++c) {
        const double p = std::exp(x[n * C + c]) / s;
        ce -= labels[n * C + c] * std::log(p);
        omp += labels[n * C + c] * (1 - p);
      }
      EXPECT_NEAR(l[n], ce + eps * omp, 1e-13);
      const double py = std::exp(x[n * C + ids[n]]) / s;
      EXPECT_NEAR(li[n], -std::log(py) + eps * (1 - py), 1e-13);
    }
  }
  // epsilon = 0 is cross_entropy (mean over kept ids).
  auto a = poly1_cross_entropy(xv, ConstView<std::int64_t>(ids.data(), {N}), {.epsilon = 0, .reduction = Reduction::Mean});
  auto b = cross_entropy(xv, ConstView<std::int64_t>(ids.data(), {N}));
  EXPECT_NEAR(a.item(), b.item(), 1e-14);
}

TEST(Poly1CrossEntropy, MaskedLogitsIgnoredAndEmpty) {
  const double inf = std::numeric_limits<double>::infinity();
  const double x[] = {-inf, 2, 1, 0.5, 0.1, 0.2};
  const std::int64_t t[] = {1, -100};
  std::vector<double> l(2), g(6);
  poly1_cross_entropy_forward_backward(ConstView<double>(x, {2, 3}), ConstView<std::int64_t>(t, {2}), TensorView<double>(l.data(), {2}),
                                       TensorView<double>(g.data(), {2, 3}), {});
  EXPECT_TRUE(std::isfinite(l[0]));
  EXPECT_EQ(l[1], 0);
  for (double v : g) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(g[0], 0);
  const double onehot[] = {0, 1, 0};
  auto lp = poly1_cross_entropy(ConstView<double>(x, {3}), ConstView<double>(onehot, {3}));
  EXPECT_NEAR(lp.item(), l[0], 1e-15);
  std::vector<double> none;
  std::vector<std::int64_t> nt;
  EXPECT_TRUE(std::isnan(poly1_cross_entropy(ConstView<double>(none.data(), {0, 3}), ConstView<std::int64_t>(nt.data(), {0}), {.reduction = Reduction::Mean}).item()));
}

TEST(Poly1CrossEntropy, BadInputs) {
  std::vector<double> x(6, 0.1), p(6, 0.5), out(2), gi(6);
  std::vector<std::int64_t> t = {0, 5};
  const ConstView<double> xv(x.data(), {2, 3});
  TensorView<double> o2(out.data(), {2}), g(gi.data(), {2, 3});
  EXPECT_TRUE(expect_error_untouched<double>([&] { poly1_cross_entropy_forward_backward(xv, ConstView<std::int64_t>(t.data(), {2}), o2, g); }, ErrorKind::Index,
                                             "poly1_cross_entropy: target[1] = 5 is outside [0, 3)", {&out, &gi}, -7.0));
  t[1] = 0;
  EXPECT_TRUE(expect_error_untouched<double>([&] { poly1_cross_entropy(xv, ConstView<std::int64_t>(t.data(), {2}), o2, {.epsilon = INFINITY}); }, ErrorKind::Value, "epsilon = inf must be finite", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { poly1_cross_entropy(xv, ConstView<std::int64_t>(t.data(), {1, 2}), o2); }, ErrorKind::Shape, "expected target of shape [2]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { poly1_cross_entropy(xv, ConstView<double>(p.data(), {2, 3}), o2, {.ignore_index = 1}); }, ErrorKind::Value, "ignore_index = 1 is not supported", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { poly1_cross_entropy(xv, ConstView<double>(p.data(), {2, 3}), TensorView<double>(out.data(), {1})); }, ErrorKind::Shape, "out has shape [1], expected [2]", {&out}, -7.0));
}

// float32 rows with contiguous classes and class ids take the SIMD cross-entropy row kernel
// (twice: ce, then the gradient scaled by 1 + eps p_y); the same values in float64 take the
// scalar rows. Widths around the vector lengths and a vocabulary-sized one, masked (-inf)
// logits, a target logit of -inf, an ignored row, a NaN row and a per-row upstream gradient.
TEST(Poly1CrossEntropy, Float32SimdRowsMatchFloat64) {
  Rng rng(9);
  const float inf = std::numeric_limits<float>::infinity();
  for (const std::int64_t C : {1, 2, 7, 16, 17, 33, 64, 1000, 4099}) {
    SCOPED_TRACE("C = " + std::to_string(C));
    const std::int64_t N = 6;
    const std::vector<double> x0 = rng.normal(static_cast<std::size_t>(N * C), 0, 3);
    std::vector<float> x(x0.begin(), x0.end());
    std::vector<std::int64_t> t(N);
    for (std::int64_t n = 0; n < N; ++n) t[n] = (n * 5 + 3) % C;
    if (C > 2) x[static_cast<std::size_t>(C + (t[1] + 1) % C)] = -inf;  // a masked class in row 1
    if (C > 1) x[static_cast<std::size_t>(2 * C + t[2])] = -inf;        // row 2: its target masked
    t[3] = -100;                                                         // row 3 ignored
    x[static_cast<std::size_t>(4 * C)] = std::numeric_limits<float>::quiet_NaN();  // row 4 NaN
    const std::vector<double> xd(x.begin(), x.end());
    std::vector<float> up(N);
    for (std::int64_t n = 0; n < N; ++n) up[n] = 0.5f + 0.25f * static_cast<float>(n);
    const std::vector<double> upd(up.begin(), up.end());
    for (const double eps : {2.0, -1.0, 0.0}) {
      SCOPED_TRACE("eps = " + std::to_string(eps));
      const Poly1Options o{.epsilon = eps, .reduction = Reduction::None};
      std::vector<float> l(N), g(x.size());
      std::vector<double> ld(N), gd(x.size());
      poly1_cross_entropy_forward_backward(ConstView<float>(x.data(), {N, C}), ConstView<std::int64_t>(t.data(), {N}),
                                           TensorView<float>(l.data(), {N}), TensorView<float>(g.data(), {N, C}), o);
      poly1_cross_entropy_forward_backward(ConstView<double>(xd.data(), {N, C}), ConstView<std::int64_t>(t.data(), {N}),
                                           TensorView<double>(ld.data(), {N}), TensorView<double>(gd.data(), {N, C}), o);
      std::vector<float> gb(x.size());
      std::vector<double> gbd(x.size());
      poly1_cross_entropy_backward(ConstView<float>(up.data(), {N}), ConstView<float>(x.data(), {N, C}),
                                   ConstView<std::int64_t>(t.data(), {N}), TensorView<float>(gb.data(), {N, C}), o);
      poly1_cross_entropy_backward(ConstView<double>(upd.data(), {N}), ConstView<double>(xd.data(), {N, C}),
                                   ConstView<std::int64_t>(t.data(), {N}), TensorView<double>(gbd.data(), {N, C}), o);
      for (std::int64_t n = 0; n < N; ++n) {
        SCOPED_TRACE("row " + std::to_string(n));
        if (std::isnan(ld[n]) || std::isinf(ld[n])) {
          EXPECT_EQ(std::isnan(l[n]), std::isnan(ld[n]));
          if (!std::isnan(ld[n])) EXPECT_EQ(l[n], static_cast<float>(ld[n]));
        } else {
          EXPECT_NEAR(l[n], ld[n], 1e-6 * std::abs(ld[n]) + 4e-7 * (1 + std::abs(eps)));
        }
        for (std::int64_t c = 0; c < C; ++c) {
          const std::size_t i = static_cast<std::size_t>(n * C + c);
          if (std::isnan(gd[i])) {
            EXPECT_TRUE(std::isnan(g[i])) << c;
            EXPECT_TRUE(std::isnan(gb[i])) << c;
            continue;
          }
          const double s = 1 + std::abs(eps);
          EXPECT_NEAR(g[i], gd[i], 1e-6 * std::abs(gd[i]) + 3e-7 * s) << c;
          EXPECT_NEAR(gb[i], gbd[i], 1e-6 * std::abs(gbd[i]) + 3e-7 * s * up[n]) << c;
        }
      }
      EXPECT_EQ(l[3], 0.0f);
      for (std::int64_t c = 0; c < C; ++c) EXPECT_EQ(g[static_cast<std::size_t>(3 * C + c)], 0.0f);
    }
  }
}
