// sigmoid_focal_loss (torchvision semantics) and softmax_focal_loss (Keras' categorical focal
// cross-entropy on logits): gradients for every option, the references' formulas written out,
// saturated and infinite logits for every gamma, empty batches, bad inputs.
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

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

/// torchvision.ops.sigmoid_focal_loss, written out for one element.
double torchvision_focal(double x, double y, double alpha, double gamma) {
  const double p = sigmoid(x);
  const double ce = -(y * std::log(p) + (1 - y) * std::log(1 - p));
  const double p_t = p * y + (1 - p) * (1 - y);
  double loss = ce * std::pow(1 - p_t, gamma);
  if (alpha >= 0) loss *= alpha * y + (1 - alpha) * (1 - y);
  return loss;
}
}  // namespace

// ---------------------------------------------------------------------------- sigmoid focal -----
TEST(SigmoidFocalLoss, GradientsEveryOption) {
  Rng rng(1);
  const auto x = rng.normal(12, 0, 2);
  auto y = rng.uniform(12, 0, 1);
  for (int i = 0; i < 12; i += 2) y[i] = (i % 4 == 0) ? 1 : 0;  // hard and soft labels
  const ConstView<double> yv(y.data(), {3, 4});
  for (double gamma : {0.0, 0.5, 2.0})
    for (double alpha : {0.25, -1.0}) {
      SCOPED_TRACE(testing::Message() << "gamma " << gamma << " alpha " << alpha);
      auto opts = [&](Reduction r) { return SigmoidFocalOptions{.alpha = alpha, .gamma = gamma, .reduction = r}; };
      lktest::check_loss_calls(Shape{3, 4}, x, Shape{3, 4}, LKTEST_CALLS(sigmoid_focal_loss, yv, opts));
    }
}

TEST(SigmoidFocalLoss, TorchvisionFormula) {
  Rng rng(2);
  const auto x = rng.normal(10, 0, 2), y = rng.uniform(10, 0, 1);
  for (double gamma : {0.0, 0.5, 2.0, 3.0})
    for (double alpha : {0.25, 0.9, -1.0}) {
      auto l = sigmoid_focal_loss(ConstView<double>(x.data(), {10}), ConstView<double>(y.data(), {10}), {.alpha = alpha, .gamma = gamma});
      ASSERT_EQ(l.numel(), 10);  // reduction defaults to None, as in torchvision
      for (int i = 0; i < 10; ++i) EXPECT_NEAR(l[i], torchvision_focal(x[i], y[i], alpha, gamma), 1e-13);
    }
}

TEST(SigmoidFocalLoss, SaturatedAndInfiniteLogitsEveryGamma) {
  const double xs[] = {-kInf, -800, -100, -30, 30, 100, 800, kInf};
  for (double gamma : {0.0, 0.25, 0.5, 1.0, 2.0}) {
    for (double y : {0.0, 1.0}) {
      SCOPED_TRACE(testing::Message() << "gamma " << gamma << " y " << y);
      std::vector<double> yy(8, y), l(8), g(8);
      sigmoid_focal_loss_forward_backward(ConstView<double>(xs, {8}), ConstView<double>(yy.data(), {8}), TensorView<double>(l.data(), {8}),
                                          TensorView<double>(g.data(), {8}), {.gamma = gamma});
      const double a_t = y == 1 ? 0.25 : 0.75;
      for (int i = 0; i < 8; ++i) {
        EXPECT_FALSE(std::isnan(l[i])) << i;
        EXPECT_TRUE(std::isfinite(g[i])) << i << " " << g[i];
      }
      // The easy side: loss and gradient go to 0. The hard side: the gradient tends to -+a_t.
      const int easy = y == 1 ? 7 : 0, hard = y == 1 ? 0 : 7;
      EXPECT_EQ(l[easy], 0);
      EXPECT_EQ(g[easy], 0);
      EXPECT_EQ(l[hard], kInf);
      EXPECT_EQ(g[hard], y == 1 ? -a_t : a_t);
    }
  }
  // Close to saturation the gradient still matches finite differences (gamma < 1).
  for (double y : {0.0, 1.0}) {
    const std::vector<double> x = {y == 1 ? 9.0 : -9.0, y == 1 ? 14.0 : -14.0};
    std::vector<double> yy(2, y), g(2), one(2, 1.0);
    const SigmoidFocalOptions o{.gamma = 0.5};
    sigmoid_focal_loss_backward(ConstView<double>(one.data(), {2}), ConstView<double>(x.data(), {2}), ConstView<double>(yy.data(), {2}),
                                TensorView<double>(g.data(), {2}), o);
    auto f = [&](const std::vector<double>& xv) {
      return sigmoid_focal_loss(ConstView<double>(xv.data(), {2}), ConstView<double>(yy.data(), {2}), {.gamma = 0.5, .reduction = Reduction::Sum}).item();
    };
    EXPECT_TRUE(lktest::check_gradient(f, x, g, 1e-4, 1e-5, 1e-300));
  }
  // float
  const float xf[] = {-INFINITY, 50.f, INFINITY}, yf[] = {1, 1, 1};
  std::vector<float> lf(3), gf(3);
  sigmoid_focal_loss_forward_backward(ConstView<float>(xf, {3}), ConstView<float>(yf, {3}), TensorView<float>(lf.data(), {3}), TensorView<float>(gf.data(), {3}), {.gamma = 0.5});
  for (float v : gf) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(lf[2], 0.f);
}

TEST(SigmoidFocalLoss, EmptyAndBadInputs) {
  std::vector<double> none;
  EXPECT_TRUE(std::isnan(sigmoid_focal_loss(ConstView<double>(none.data(), {0}), ConstView<double>(none.data(), {0}), {.reduction = Reduction::Mean}).item()));
  std::vector<double> x(4, 0.1), y(4, 1), out(4), gi(4);
  const ConstView<double> xv(x.data(), {4}), yv(y.data(), {4});
  TensorView<double> o(out.data(), {4}), g(gi.data(), {4});
  EXPECT_TRUE(expect_error_untouched<double>([&] { sigmoid_focal_loss_forward_backward(xv, yv, o, g, {.gamma = -1}); }, ErrorKind::Value,
                                             "sigmoid_focal_loss: gamma = -1 must be >= 0", {&out, &gi}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { sigmoid_focal_loss(xv, yv, o, {.alpha = std::nan("")}); }, ErrorKind::Value, "alpha = nan must be finite", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { sigmoid_focal_loss(xv, ConstView<double>(y.data(), {2, 2}), o); }, ErrorKind::Shape, "input and target must have the same shape", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { sigmoid_focal_loss(xv, yv, TensorView<double>(out.data(), {2})); }, ErrorKind::Shape, "out has shape [2], expected [4]", {&out}, -7.0));
}

// ---------------------------------------------------------------------------- softmax focal -----
namespace {
/// Keras' categorical_focal_crossentropy on logits (without its clip), class dim 1 of (N, C, D).
double keras_focal_row(const std::vector<double>& x, std::int64_t n, std::int64_t d, std::int64_t C, std::int64_t D,
                       const std::vector<double>& t, double alpha, const std::vector<double>& class_alpha, double gamma,
                       double ls) {
  double m = -kInf;
  for (std::int64_t c = 0; c < C; ++c) m = std::max(m, x[(n * C + c) * D + d]);
  double s = 0;
  for (std::int64_t c = 0; c < C; ++c) s += std::exp(x[(n * C + c) * D + d] - m);
  double l = 0;
  for (std::int64_t c = 0; c < C; ++c) {
    const double p = std::exp(x[(n * C + c) * D + d] - m) / s;
    const double tc = t[(n * C + c) * D + d] * (1 - ls) + ls / C;
    const double a = class_alpha.empty() ? alpha : class_alpha[c];
    l += -a * tc * std::pow(1 - p, gamma) * std::log(p);
  }
  return l;
}
}  // namespace

TEST(SoftmaxFocalLoss, GradientsEveryOption) {
  Rng rng(3);
  const std::int64_t N = 3, C = 4, D = 2;
  const auto x = rng.normal(N * C * D, 0, 2);
  const auto ids = rng.classes(N * D, C, 0.2);
  const auto probs = rng.uniform(N * C * D, 0, 1);
  const std::vector<double> class_alpha = {0.1, 0.5, 1.0, 2.0};
  for (double gamma : {0.0, 0.5, 2.0})
    for (double ls : {0.0, 0.1})
      for (bool per_class : {false, true}) {
        SCOPED_TRACE(testing::Message() << "gamma " << gamma << " smoothing " << ls << " per-class " << per_class);
        auto opts = [&](Reduction r) {
          return SoftmaxFocalOptions<double>{.alpha = 0.25,
                                             .class_alpha = per_class ? std::span<const double>(class_alpha) : std::span<const double>{},
                                             .gamma = gamma, .label_smoothing = ls, .reduction = r};
        };
        const ConstView<std::int64_t> iv(ids.data(), {N, D});
        lktest::check_loss_calls(Shape{N, C, D}, x, Shape{N, D}, LKTEST_CALLS(softmax_focal_loss, iv, opts));
        const ConstView<double> pv(probs.data(), {N, C, D});
        lktest::check_loss_calls(Shape{N, C, D}, x, Shape{N, D}, LKTEST_CALLS(softmax_focal_loss, pv, opts));
      }
}

TEST(SoftmaxFocalLoss, KerasFormulaAndCrossEntropyAtGammaZero) {
  Rng rng(4);
  const std::int64_t N = 4, C = 5, D = 3;
  const auto x = rng.normal(N * C * D, 0, 2);
  const auto ids = rng.classes(N * D, C);
  std::vector<double> onehot(N * C * D, 0.0);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t d = 0; d < D; ++d) onehot[(n * C + ids[n * D + d]) * D + d] = 1;
  const auto soft = rng.simplex(N * D, C);  // rows of C; used as a (N, C, D) tensor of positive values
  const std::vector<double> class_alpha = {0.1, 0.5, 1.0, 2.0, 0.3};
  const ConstView<double> xv(x.data(), {N, C, D});
  for (double gamma : {0.0, 0.5, 2.0})
    for (double ls : {0.0, 0.2})
      for (bool per_class : {false, true}) {
        const SoftmaxFocalOptions<double> o{.alpha = 0.25,
                                            .class_alpha = per_class ? std::span<const double>(class_alpha) : std::span<const double>{},
                                            .gamma = gamma, .label_smoothing = ls, .reduction = Reduction::None};
        auto li = softmax_focal_loss(xv, ConstView<std::int64_t>(ids.data(), {N, D}), o);
        auto lp = softmax_focal_loss(xv, ConstView<double>(soft.data(), {N, C, D}), o);
        for (std::int64_t n = 0; n < N; ++n)
          for (std::int64_t d = 0; d < D; ++d) {
            EXPECT_NEAR(li[n * D + d], keras_focal_row(x, n, d, C, D, onehot, 0.25, o.class_alpha.empty() ? std::vector<double>{} : class_alpha, gamma, ls), 1e-12);
            EXPECT_NEAR(lp[n * D + d], keras_focal_row(x, n, d, C, D, soft, 0.25, o.class_alpha.empty() ? std::vector<double>{} : class_alpha, gamma, ls), 1e-12);
          }
      }
  // gamma = 0, alpha = 1: cross_entropy, value and gradient.
  const ConstView<std::int64_t> iv(ids.data(), {N, D});
  std::vector<double> g1(x.size()), g2(x.size());
  double v1 = 0, v2 = 0;
  softmax_focal_loss_forward_backward(xv, iv, TensorView<double>(&v1, Shape{}), TensorView<double>(g1.data(), {N, C, D}), {.alpha = 1, .gamma = 0});
  cross_entropy_forward_backward(xv, iv, TensorView<double>(&v2, Shape{}), TensorView<double>(g2.data(), {N, C, D}));
  EXPECT_NEAR(v1, v2, 1e-13);
  for (std::size_t i = 0; i < g1.size(); ++i) EXPECT_NEAR(g1[i], g2[i], 1e-13);
}

TEST(SoftmaxFocalLoss, SaturatedMaskedAndIgnored) {
  // Row 0: one class dominates (p = 1) and one is masked (-inf); row 1: ignored.
  const double x[] = {800, 0, -kInf, 1, 2, 3};
  const std::int64_t t[] = {0, -100};
  for (double gamma : {0.0, 0.25, 0.5, 2.0}) {
    SCOPED_TRACE(gamma);
    std::vector<double> l(2), g(6);
    softmax_focal_loss_forward_backward(ConstView<double>(x, {2, 3}), ConstView<std::int64_t>(t, {2}), TensorView<double>(l.data(), {2}),
                                        TensorView<double>(g.data(), {2, 3}), {.gamma = gamma, .reduction = Reduction::None});
    EXPECT_EQ(l[0], 0);
    EXPECT_EQ(l[1], 0);
    for (double v : g) EXPECT_EQ(v, 0);
    // Label smoothing puts mass on the masked class: the loss is infinite, the gradient finite.
    softmax_focal_loss_forward_backward(ConstView<double>(x, {2, 3}), ConstView<std::int64_t>(t, {2}), TensorView<double>(l.data(), {2}),
                                        TensorView<double>(g.data(), {2, 3}), {.gamma = gamma, .label_smoothing = 0.1, .reduction = Reduction::None});
    EXPECT_EQ(l[0], kInf);
    for (double v : g) EXPECT_FALSE(std::isnan(v));
  }
  // Mean counts kept rows only; all ignored gives NaN.
  const double x2[] = {0.1, 0.2, 0.3, 0.4};
  const std::int64_t t2[] = {1, -100};
  const double one = softmax_focal_loss(ConstView<double>(x2, {1, 2}), ConstView<std::int64_t>(t2, {1})).item();
  EXPECT_NEAR(softmax_focal_loss(ConstView<double>(x2, {2, 2}), ConstView<std::int64_t>(t2, {2})).item(), one, 1e-15);
  const std::int64_t t3[] = {-100, -100};
  EXPECT_TRUE(std::isnan(softmax_focal_loss(ConstView<double>(x2, {2, 2}), ConstView<std::int64_t>(t3, {2})).item()));
}

TEST(SoftmaxFocalLoss, BadInputs) {
  std::vector<double> x(6, 0.1), p(6, 0.5), out(2), gi(6);
  std::vector<std::int64_t> t = {0, 3};
  const ConstView<double> xv(x.data(), {2, 3});
  const ConstView<std::int64_t> tv(t.data(), {2});
  TensorView<double> o1(out.data(), {1}), g(gi.data(), {2, 3});
  EXPECT_TRUE(expect_error_untouched<double>([&] { softmax_focal_loss_forward_backward(xv, tv, o1, g); }, ErrorKind::Index,
                                             "softmax_focal_loss: target[1] = 3 is outside [0, 3) and is not ignore_index (-100)", {&out, &gi}, -7.0));
  t[1] = 1;
  EXPECT_TRUE(expect_error_untouched<double>([&] { softmax_focal_loss(xv, tv, o1, {.gamma = -0.5}); }, ErrorKind::Value, "gamma = -0.5 must be >= 0", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { softmax_focal_loss(xv, tv, o1, {.label_smoothing = 1.5}); }, ErrorKind::Value, "label_smoothing = 1.5 is outside [0, 1]", {&out}, -7.0));
  const double ca[] = {1, 2};
  EXPECT_TRUE(expect_error_untouched<double>([&] { softmax_focal_loss(xv, tv, o1, {.class_alpha = ca}); }, ErrorKind::Shape, "class_alpha has 2 entries but input has 3 classes", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { softmax_focal_loss(xv, ConstView<double>(p.data(), {2, 3}), o1, {.ignore_index = 0}); }, ErrorKind::Value, "ignore_index = 0 is not supported with probability targets", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { softmax_focal_loss(xv, ConstView<double>(p.data(), {3, 2}), o1); }, ErrorKind::Shape, "input and target must have the same shape", {&out}, -7.0));
}

// softmax_focal_loss: float32 rows with contiguous classes, class ids and no smoothing take the
// SIMD cross-entropy row kernel (the gradient is cross-entropy's times -h of the target's term);
// float64 the scalar rows. Scalar and per-class alpha, gamma 0, 2 and 0.5.
TEST(SoftmaxFocalLoss, Float32SimdRowsMatchFloat64) {
  std::vector<float> ca(4099);
  for (std::size_t c = 0; c < ca.size(); ++c) ca[c] = 0.2f + 0.1f * static_cast<float>(c % 9);
  const std::vector<double> cad(ca.begin(), ca.end());
  for (const double gamma : {2.0, 0.0, 0.5}) {
    for (const bool per_class : {false, true}) {
      SCOPED_TRACE("gamma " + std::to_string(gamma) + (per_class ? " class_alpha" : ""));
      auto opts = [&](const auto& x) {
        using T = std::remove_cvref_t<decltype(*x.data())>;
        SoftmaxFocalOptions<T> o{.alpha = 0.25, .gamma = gamma, .reduction = Reduction::None};
        const auto C = static_cast<std::size_t>(x.size(1));
        if (per_class) {
          if constexpr (std::is_same_v<T, float>) o.class_alpha = std::span<const float>(ca.data(), C);
          else o.class_alpha = std::span<const double>(cad.data(), C);
        }
        return o;
      };
      lktest::check_f32_id_rows_match_f64(
          [&](auto x, auto t, auto l, auto g) {
            softmax_focal_loss_forward_backward(x, t, l, g, opts(x));
          },
          [&](auto up, auto x, auto t, auto g) { softmax_focal_loss_backward(up, x, t, g, opts(x)); }, 2.0);
    }
  }
}
