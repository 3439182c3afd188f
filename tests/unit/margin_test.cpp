// soft_margin_loss, multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss:
// gradients for every option, hand-computed values, extreme inputs, empty batches, bad inputs.
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

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
double softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::fabs(z))); }
}  // namespace

// ------------------------------------------------------------------------------ soft margin -----
TEST(SoftMarginLoss, Gradients) {
  Rng rng(1);
  const auto x = rng.normal(12, 0, 2);
  std::vector<double> y(12);
  for (int i = 0; i < 12; ++i) y[i] = (i % 3 == 0) ? -1 : 1;
  const ConstView<double> yv(y.data(), {3, 4});
  auto opts = [](Reduction r) { return SoftMarginOptions{.reduction = r}; };
  lktest::check_loss_calls(Shape{3, 4}, x, Shape{3, 4}, LKTEST_CALLS(soft_margin_loss, yv, opts));
}

TEST(SoftMarginLoss, ValuesAndExtremes) {
  const double x[] = {0.5, -1000, 1000, kInf, -kInf, 2}, y[] = {1, 1, 1, -1, -1, 0};
  std::vector<double> l(6), g(6);
  soft_margin_loss_forward_backward(ConstView<double>(x, {6}), ConstView<double>(y, {6}), TensorView<double>(l.data(), {6}),
                                    TensorView<double>(g.data(), {6}), {.reduction = Reduction::None});
  EXPECT_NEAR(l[0], std::log1p(std::exp(-0.5)), 1e-15);
  EXPECT_EQ(l[1], 1000);  // PyTorch 1.13: inf
  EXPECT_EQ(l[2], 0);
  EXPECT_EQ(l[3], kInf);
  EXPECT_EQ(l[4], 0);
  EXPECT_NEAR(l[5], std::log(2.0), 1e-15);
  EXPECT_NEAR(g[0], -1 / (1 + std::exp(0.5)), 1e-15);
  EXPECT_EQ(g[1], -1);    // PyTorch 1.13: NaN
  EXPECT_EQ(g[2], 0);
  EXPECT_EQ(g[3], 1);
  EXPECT_EQ(g[4], 0);
  EXPECT_EQ(g[5], 0);
  std::vector<double> none;
  EXPECT_TRUE(std::isnan(soft_margin_loss(ConstView<double>(none.data(), {0}), ConstView<double>(none.data(), {0})).item()));
}

TEST(MultilabelSoftMarginLoss, GradientsEveryOption) {
  Rng rng(2);
  const auto x = rng.normal(24, 0, 2);
  const auto y = rng.uniform(24, 0, 1);
  const auto w = rng.uniform(4, 0.5, 2), wrow = rng.uniform(6, 0.5, 2);
  for (int variant = 0; variant < 4; ++variant) {
    SCOPED_TRACE(variant);
    // (6, 4) and (2, 3, 4): the class dim is the last.
    const Shape s = variant == 3 ? Shape{2, 3, 4} : Shape{6, 4};
    const Shape ls = variant == 3 ? Shape{2, 3} : Shape{6};
    const ConstView<double> yv(y.data(), s);
    ConstView<double> wv{};
    if (variant == 1 || variant == 3) wv = ConstView<double>(w.data(), {4});
    if (variant == 2) wv = ConstView<double>(wrow.data(), {6, 1});
    auto opts = [&](Reduction r) { return MultilabelSoftMarginOptions<double>{.weight = wv, .reduction = r}; };
    lktest::check_loss_calls(s, x, ls, LKTEST_CALLS(multilabel_soft_margin_loss, yv, opts));
  }
}

TEST(MultilabelSoftMarginLoss, ValuesAndExtremes) {
  const double x[] = {0.3, -kInf, kInf, 1.0}, y[] = {1, 0, 1, 0.5}, w[] = {1, 2, 3, 4};
  auto l = multilabel_soft_margin_loss(ConstView<double>(x, {4}), ConstView<double>(y, {4}),
                                       {.weight = ConstView<double>(w, {4}), .reduction = Reduction::None});
  EXPECT_EQ(l.shape().ndim(), 0);
  const double expect = (softplus(-0.3) + 0 + 0 + 4 * (0.5 * softplus(-1.0) + 0.5 * softplus(1.0))) / 4;
  EXPECT_NEAR(l.item(), expect, 1e-15);
  std::vector<double> none;
  auto e = multilabel_soft_margin_loss(ConstView<double>(none.data(), {0, 3}), ConstView<double>(none.data(), {0, 3}),
                                       {.reduction = Reduction::Sum});
  EXPECT_EQ(e.item(), 0);
}

// ----------------------------------------------------------------------------- multi margin -----
TEST(MultiMarginLoss, GradientsEveryOption) {
  Rng rng(3);
  const auto x = rng.normal(20, 0, 1);
  const auto t = rng.classes(5, 4);
  const auto w = rng.uniform(4, 0.5, 2);
  const ConstView<std::int64_t> tv(t.data(), {5});
  for (int p : {1, 2})
    for (double margin : {1.0, 0.3})
      for (bool weighted : {false, true}) {
        SCOPED_TRACE(testing::Message() << "p " << p << " margin " << margin << " weighted " << weighted);
        auto opts = [&](Reduction r) {
          return MultiMarginOptions<double>{.p = p, .margin = margin,
                                            .weight = weighted ? std::span<const double>(w) : std::span<const double>{},
                                            .reduction = r};
        };
        lktest::check_loss_calls(Shape{5, 4}, x, Shape{5}, LKTEST_CALLS(multi_margin_loss, tv, opts));
      }
}

TEST(MultiMarginLoss, Values) {
  // PyTorch 1.13: multi_margin_loss([[.2,.9,.1],[.4,.3,.8]], [1,2], p, weight=[1,2,3]) = (none)
  //   p=1: [0.3333, 1.1000], p=2: [0.0867, 0.6100]; the weight multiplies after the power.
  const double x[] = {0.2, 0.9, 0.1, 0.4, 0.3, 0.8}, w[] = {1, 2, 3};
  const std::int64_t t[] = {1, 2};
  const ConstView<double> xv(x, {2, 3});
  const ConstView<std::int64_t> tv(t, {2});
  auto l1 = multi_margin_loss(xv, tv, {.weight = w, .reduction = Reduction::None});
  EXPECT_NEAR(l1[0], 2 * (0.3 + 0.2) / 3, 1e-15);
  EXPECT_NEAR(l1[1], 3 * (0.6 + 0.5) / 3, 1e-15);
  auto l2 = multi_margin_loss(xv, tv, {.p = 2, .weight = w, .reduction = Reduction::None});
  EXPECT_NEAR(l2[0], 2 * (0.09 + 0.04) / 3, 1e-15);
  EXPECT_NEAR(l2[1], 3 * (0.36 + 0.25) / 3, 1e-15);
  // Mean is the plain mean, not divided by weights.
  EXPECT_NEAR(multi_margin_loss(xv, tv, {.weight = w}).item(), (l1[0] + l1[1]) / 2, 1e-15);
  // A 1-D input with its target as () or (1).
  const std::int64_t t1[] = {1};
  EXPECT_NEAR(multi_margin_loss(ConstView<double>(x, {3}), ConstView<std::int64_t>(t1, {1})).item(), 0.5 / 3, 1e-15);
  EXPECT_NEAR(multi_margin_loss(ConstView<double>(x, {3}), ConstView<std::int64_t>(t1, Shape{})).item(), 0.5 / 3, 1e-15);
  // Huge scores stay finite; an empty batch gives NaN for Mean and 0 for Sum.
  const double big[] = {1e300, -1e300};
  const std::int64_t t0[] = {0};
  EXPECT_EQ(multi_margin_loss(ConstView<double>(big, {1, 2}), ConstView<std::int64_t>(t0, {1})).item(), 0);
  std::vector<double> none;
  std::vector<std::int64_t> nt;
  EXPECT_TRUE(std::isnan(multi_margin_loss(ConstView<double>(none.data(), {0, 3}), ConstView<std::int64_t>(nt.data(), {0})).item()));
  EXPECT_EQ(multi_margin_loss(ConstView<double>(none.data(), {0, 3}), ConstView<std::int64_t>(nt.data(), {0}), {.reduction = Reduction::Sum}).item(), 0);
}

TEST(MultiMarginLoss, BadInputs) {
  std::vector<double> x(6, 0.5), out(2), gi(6);
  std::vector<std::int64_t> t = {1, 3};
  const ConstView<double> xv(x.data(), {2, 3});
  const ConstView<std::int64_t> tv(t.data(), {2});
  TensorView<double> o1(out.data(), {1}), g(gi.data(), {2, 3});
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss_forward_backward(xv, tv, o1, g); }, ErrorKind::Index,
                                             "multi_margin_loss: target[1] = 3 is outside [0, 3)", {&out, &gi}, -7.0));
  t[1] = -100;  // there is no ignore_index
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss(xv, tv, o1); }, ErrorKind::Index, "target[1] = -100 is outside [0, 3)", {&out}, -7.0));
  t[1] = 0;
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss(xv, tv, o1, {.p = 3}); }, ErrorKind::Value, "p = 3 is not supported", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss(xv, tv, o1, {.margin = kInf}); }, ErrorKind::Value, "margin = inf", {&out}, -7.0));
  const double w2[] = {1, 2};
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss(xv, tv, o1, {.weight = w2}); }, ErrorKind::Shape, "weight has 2 entries but input has 3 classes", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss(ConstView<double>(x.data(), {1, 2, 3}), tv, o1); }, ErrorKind::Shape, "input must be a vector (C) or a matrix (N, C), got shape [1, 2, 3]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss(xv, ConstView<std::int64_t>(t.data(), {2, 1}), o1); }, ErrorKind::Shape, "expected target of shape [2]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss(xv, tv, TensorView<double>(out.data(), {1}), {.reduction = Reduction::None}); }, ErrorKind::Shape, "out has shape [1], expected [2]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { multi_margin_loss_backward(ConstView<double>(out.data(), {2}), xv, tv, g); }, ErrorKind::Shape, "grad_output has shape [2], expected []", {&gi}, -7.0));
}

// ------------------------------------------------------------------------ multilabel margin -----
TEST(MultilabelMarginLoss, Gradients) {
  Rng rng(4);
  const auto x = rng.normal(20, 0, 1);
  // Rows with 0, 1, 2 and 4 labels, one listed twice, some garbage after the first -1.
  const std::vector<std::int64_t> t = {-1, 2, 0, 0, 1, -1, 3, 2, 3, 0, -1, -1, 0, 1, 2, 3, 2, 2, -1, 0};
  const ConstView<std::int64_t> tv(t.data(), {5, 4});
  auto opts = [](Reduction r) { return MultilabelMarginOptions{.reduction = r}; };
  lktest::check_loss_calls(Shape{5, 4}, x, Shape{5}, LKTEST_CALLS(multilabel_margin_loss, tv, opts));
}

TEST(MultilabelMarginLoss, Values) {
  // PyTorch 1.13: x = [[.2,.9,.1],[.4,.3,.8]], target [[2,0,-1],[1,-1,2]] -> [1.1667, 0.8667];
  // [[2,2,-1],...] -> [1.9333, ...] (a repeated label counts twice).
  const double x[] = {0.2, 0.9, 0.1, 0.4, 0.3, 0.8};
  const std::int64_t t[] = {2, 0, -1, 1, -1, 2}, t2[] = {2, 2, -1, 1, -1, 2};
  auto l = multilabel_margin_loss(ConstView<double>(x, {2, 3}), ConstView<std::int64_t>(t, {2, 3}), {.reduction = Reduction::None});
  EXPECT_NEAR(l[0], (1 - 0.1 + 0.9 + 1 - 0.2 + 0.9) / 3, 1e-15);
  EXPECT_NEAR(l[1], (1 - 0.3 + 0.4 + 1 - 0.3 + 0.8) / 3, 1e-15);
  auto l2 = multilabel_margin_loss(ConstView<double>(x, {2, 3}), ConstView<std::int64_t>(t2, {2, 3}), {.reduction = Reduction::None});
  EXPECT_NEAR(l2[0], 2 * (1 - 0.1 + 0.2 + 1 - 0.1 + 0.9) / 3, 1e-15);
  auto l1 = multilabel_margin_loss(ConstView<double>(x, {3}), ConstView<std::int64_t>(t + 3, {3}));
  EXPECT_NEAR(l1.item(), (1 - 0.9 + 0.2 + 1 - 0.9 + 0.1) / 3, 1e-15);
  std::vector<double> none;
  std::vector<std::int64_t> nt;
  EXPECT_TRUE(std::isnan(multilabel_margin_loss(ConstView<double>(none.data(), {0, 3}), ConstView<std::int64_t>(nt.data(), {0, 3})).item()));
}

TEST(MultilabelMarginLoss, BadInputs) {
  std::vector<double> x(6, 0.5), out(2), gi(6);
  std::vector<std::int64_t> t = {0, -1, 7, 1, -1, 2};
  const ConstView<double> xv(x.data(), {2, 3});
  const ConstView<std::int64_t> tv(t.data(), {2, 3});
  TensorView<double> o1(out.data(), {1}), g(gi.data(), {2, 3});
  EXPECT_TRUE(expect_error_untouched<double>([&] { multilabel_margin_loss_forward_backward(xv, tv, o1, g); }, ErrorKind::Index,
                                             "multilabel_margin_loss: target[0, 2] = 7 is outside [-1, 3)", {&out, &gi}, -7.0));
  t[2] = -2;
  EXPECT_TRUE(expect_error_untouched<double>([&] { multilabel_margin_loss(xv, tv, o1); }, ErrorKind::Index, "target[0, 2] = -2", {&out}, -7.0));
  t[2] = 0;
  EXPECT_TRUE(expect_error_untouched<double>([&] { multilabel_margin_loss(xv, ConstView<std::int64_t>(t.data(), {3, 2}), o1); }, ErrorKind::Shape, "input and target must have the same shape", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { multilabel_margin_loss(ConstView<double>(x.data(), {1, 2, 3}), ConstView<std::int64_t>(t.data(), {1, 2, 3}), o1); }, ErrorKind::Shape, "got shape [1, 2, 3]", {&out}, -7.0));
}

// ------------------------------------------------------------------------ thread count -----
// The row driver (core/rowwise.hpp) and the pointwise driver with a per-element parameter give
// bitwise the same results whatever the thread count.
TEST(ClassificationExtraThreads, ResultsIndependentOfThreadCount) {
  Rng rng(11);
  const std::int64_t N = 20000, C = 6;
  const auto x = rng.normal(N * C, 0, 2), y = rng.uniform(N * C, 0, 1), pw = rng.uniform(C, 0.5, 2);
  const auto ids = rng.classes(N, C, 0.1);
  const ConstView<double> xv(x.data(), {N, C}), yv(y.data(), {N, C});
  auto run = [&](int threads) {
    losskit::set_num_threads(threads);
    std::vector<double> r;
    std::vector<double> g(x.size());
    double v = 0;
    multilabel_soft_margin_loss_forward_backward(xv, yv, TensorView<double>(&v, Shape{}), TensorView<double>(g.data(), {N, C}));
    r.push_back(v);
    r.insert(r.end(), g.begin(), g.end());
    softmax_focal_loss_forward_backward(xv, ConstView<std::int64_t>(ids.data(), {N}), TensorView<double>(&v, Shape{}),
                                        TensorView<double>(g.data(), {N, C}), {.gamma = 0.5});
    r.push_back(v);
    r.insert(r.end(), g.begin(), g.end());
    binary_cross_entropy_with_logits_forward_backward(xv, yv, TensorView<double>(&v, Shape{}), TensorView<double>(g.data(), {N, C}),
                                                      {.pos_weight = ConstView<double>(pw.data(), {C})});
    r.push_back(v);
    r.insert(r.end(), g.begin(), g.end());
    return r;
  };
  const int before = losskit::get_num_threads();
  const auto a = run(1), b = run(2), c = run(3);
  losskit::set_num_threads(before);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i], b[i]) << i;
    ASSERT_EQ(a[i], c[i]) << i;
  }
}

// ------------------------------------------------------------------- multiclass perceptron -----
// optax.losses.multiclass_perceptron_loss: max_c x_c - x_y, JAX's max gradient (ties share it).
TEST(MulticlassPerceptronLoss, GradientsEveryReduction) {
  Rng rng(21);
  const auto x = rng.normal(2 * 3 * 5, 0, 2);  // (2, 3) rows of 5 classes, no ties
  const std::vector<std::int64_t> y = {0, 4, 2, 1, 3, 3};
  const ConstView<std::int64_t> yv(y.data(), {2, 3});
  auto opts = [](Reduction r) { return MulticlassPerceptronOptions{.reduction = r}; };
  lktest::check_loss_calls(Shape{2, 3, 5}, x, Shape{2, 3}, LKTEST_CALLS(multiclass_perceptron_loss, yv, opts));
}

TEST(MulticlassPerceptronLoss, OptaxValuesTiesAndExtremes) {
  // Rows: the label is the max (loss 0, gradient 0); the label below the max; a tie for the max
  // (the gradient split evenly, as jnp.max's VJP); +inf max off the label (NaN: optax's
  // sum(scores * one_hot) has inf * 0); a NaN; every entry -inf.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> x = {3, 1, 2,  1, 5, 2,  4, 4, 1,  kInf, 0, 1,  0, nan, 1,  -kInf, -kInf, -kInf};
  const std::vector<std::int64_t> y = {0, 2, 2, 1, 0, 1};
  std::vector<double> l(6), g(18);
  multiclass_perceptron_loss_forward_backward(ConstView<double>(x.data(), {6, 3}), ConstView<std::int64_t>(y.data(), {6}),
                                              TensorView<double>(l.data(), {6}), TensorView<double>(g.data(), {6, 3}),
                                              {.reduction = Reduction::None});
  EXPECT_EQ(l[0], 0);
  EXPECT_EQ(l[1], 3);
  EXPECT_EQ(l[2], 3);
  EXPECT_TRUE(std::isnan(l[3]));
  EXPECT_TRUE(std::isnan(l[4]));
  EXPECT_TRUE(std::isnan(l[5]));  // -inf - (-inf), as optax
  const std::vector<double> gref = {0, 0, 0,  0, 1, -1,  0.5, 0.5, -1,  1, -1, 0,  nan, nan, nan,
                                    1.0 / 3, -2.0 / 3, 1.0 / 3};
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(gref[i])) EXPECT_TRUE(std::isnan(g[i])) << i;
    else EXPECT_DOUBLE_EQ(g[i], gref[i]) << i;
  }
  // Mean over rows, float32 alike; an empty batch gives NaN (Mean) and 0 (Sum).
  const float xf[] = {3, 1, 2, 1, 5, 2};
  const std::int64_t yf[] = {0, 2};
  EXPECT_FLOAT_EQ(multiclass_perceptron_loss(ConstView<float>(xf, {2, 3}), ConstView<std::int64_t>(yf, {2})).item(), 1.5f);
  std::vector<double> none;
  std::vector<std::int64_t> noid;
  EXPECT_TRUE(std::isnan(
      multiclass_perceptron_loss(ConstView<double>(none.data(), {0, 3}), ConstView<std::int64_t>(noid.data(), {0})).item()));
  EXPECT_EQ(multiclass_perceptron_loss(ConstView<double>(none.data(), {0, 3}), ConstView<std::int64_t>(noid.data(), {0}),
                                       {.reduction = Reduction::Sum})
                .item(),
            0.0);
}

TEST(MulticlassPerceptronLoss, BadInputs) {
  std::vector<double> x(6, 0.5), out(2), gi(6);
  std::vector<std::int64_t> t = {1, 3};
  const ConstView<double> xv(x.data(), {2, 3});
  const ConstView<std::int64_t> tv(t.data(), {2});
  TensorView<double> o1(out.data(), {1}), g(gi.data(), {2, 3});
  EXPECT_TRUE(expect_error_untouched<double>([&] { multiclass_perceptron_loss_forward_backward(xv, tv, o1, g); },
                                             ErrorKind::Index, "multiclass_perceptron_loss: target[1] = 3 is outside [0, 3)",
                                             {&out, &gi}, -7.0));
  t[1] = -1;
  EXPECT_TRUE(expect_error_untouched<double>([&] { multiclass_perceptron_loss(xv, tv, o1); }, ErrorKind::Index,
                                             "target[1] = -1 is outside [0, 3)", {&out}, -7.0));
  t[1] = 0;
  EXPECT_TRUE(expect_error_untouched<double>(
      [&] { multiclass_perceptron_loss(xv, ConstView<std::int64_t>(t.data(), {2, 1}), o1); }, ErrorKind::Shape,
      "expected target of shape [2]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>(
      [&] { multiclass_perceptron_loss(xv, tv, TensorView<double>(out.data(), {1}), {.reduction = Reduction::None}); },
      ErrorKind::Shape, "out has shape [1], expected [2]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>(
      [&] { multiclass_perceptron_loss(xv, tv, o1, {.reduction = Reduction::BatchMean}); }, ErrorKind::Value,
      "batchmean", {&out}, -7.0));
}
