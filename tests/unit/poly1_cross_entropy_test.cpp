// poly1_cross_entropy (optax poly_loss_cross_entropy): gradients for every option, optax's
// formula written out, cross_entropy at epsilon = 0, masked logits, bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/loss_checks.hpp"
#include "support/f32_rows.hpp"
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
// (twice: ce, then the gradient scaled by 1 + eps p_y); float64 the scalar rows.
TEST(Poly1CrossEntropy, Float32SimdRowsMatchFloat64) {
  for (const double eps : {2.0, -1.0, 0.0}) {
    SCOPED_TRACE("eps = " + std::to_string(eps));
    const Poly1Options o{.epsilon = eps, .reduction = Reduction::None};
    lktest::check_f32_id_rows_match_f64(
        [&](auto x, auto t, auto l, auto g) { poly1_cross_entropy_forward_backward(x, t, l, g, o); },
        [&](auto up, auto x, auto t, auto g) { poly1_cross_entropy_backward(up, x, t, g, o); }, 1 + std::abs(eps));
  }
}
