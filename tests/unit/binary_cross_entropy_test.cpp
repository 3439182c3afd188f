// binary_cross_entropy and binary_cross_entropy_with_logits: gradients for every option,
// PyTorch's clamps, infinite logits, empty batches, bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/loss_checks.hpp"
#include "support/testing.hpp"

using namespace losskit;
using lktest::Rng;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
const Shape kShape{3, 4};

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
}  // namespace

TEST(BinaryCrossEntropy, GradientsEveryOption) {
  Rng rng(1);
  const auto x = rng.uniform(12, 0.05, 0.95);
  const auto y = rng.uniform(12, 0, 1);
  const auto w = rng.uniform(4, 0.5, 2);
  const ConstView<double> yv(y.data(), kShape), wv(w.data(), Shape{4});
  for (bool weighted : {false, true}) {
    SCOPED_TRACE(weighted);
    auto opts = [&](Reduction r) { return BCEOptions<double>{.weight = weighted ? wv : ConstView<double>{}, .reduction = r}; };
    lktest::check_loss_calls(kShape, x, kShape, LKTEST_CALLS(binary_cross_entropy, yv, opts));
  }
}

TEST(BinaryCrossEntropy, ValuesAndClamps) {
  // x = 0 or 1 against y = 0 or 1: the logs clamp at -100.
  const double x[] = {0, 1, 0, 1, 0.3}, y[] = {1, 0, 0, 1, 0.25};
  auto l = binary_cross_entropy(ConstView<double>(x, {5}), ConstView<double>(y, {5}), {.reduction = Reduction::None});
  EXPECT_EQ(l[0], 100);
  EXPECT_EQ(l[1], 100);
  EXPECT_EQ(l[2], 0);
  EXPECT_EQ(l[3], 0);
  EXPECT_NEAR(l[4], -(0.25 * std::log(0.3) + 0.75 * std::log(0.7)), 1e-15);
  std::vector<double> g(5), one(5, 1.0);
  binary_cross_entropy_backward(ConstView<double>(one.data(), {5}), ConstView<double>(x, {5}), ConstView<double>(y, {5}),
                                TensorView<double>(g.data(), {5}), {.reduction = Reduction::None});
  const double eps = static_cast<double>(1e-12f);  // PyTorch's EPSILON is a float
  EXPECT_EQ(g[0], -1 / eps);  // (x - y) / max(x (1 - x), 1e-12)
  EXPECT_EQ(g[1], 1 / eps);
  EXPECT_EQ(g[2], 0);
  EXPECT_EQ(g[3], 0);
  EXPECT_NEAR(g[4], (0.3 - 0.25) / (0.3 * 0.7), 1e-15);
  // Weighted mean is the plain mean of w * l.
  const double w[] = {2, 3};
  auto m = binary_cross_entropy(ConstView<double>(x + 3, {2}), ConstView<double>(y + 3, {2}), {.weight = ConstView<double>(w, {2})});
  EXPECT_NEAR(m.item(), 3 * l[4] / 2, 1e-15);
  // float
  const float xf[] = {0.f, 0.5f}, yf[] = {1.f, 1.f};
  auto lf = binary_cross_entropy(ConstView<float>(xf, {2}), ConstView<float>(yf, {2}), {.reduction = Reduction::Sum});
  EXPECT_NEAR(lf.item(), 100 + std::log(2.0), 1e-4);
}

TEST(BinaryCrossEntropy, EmptyBatch) {
  std::vector<double> none;
  const ConstView<double> e(none.data(), Shape{0, 4});
  EXPECT_TRUE(std::isnan(binary_cross_entropy(e, e).item()));
  EXPECT_EQ(binary_cross_entropy(e, e, {.reduction = Reduction::Sum}).item(), 0);
  EXPECT_EQ(binary_cross_entropy(e, e, {.reduction = Reduction::None}).numel(), 0);
  EXPECT_TRUE(std::isnan(binary_cross_entropy_with_logits(e, e).item()));
}

TEST(BinaryCrossEntropy, BadInputs) {
  std::vector<double> x = {0.2, 1.5, 0.3, 0.4}, y = {0, 1, 1, 0}, out(4), gi(4);
  const ConstView<double> xv(x.data(), {2, 2}), yv(y.data(), {2, 2});
  using lktest::expect_error_untouched;
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy_forward_backward(xv, yv, TensorView<double>(out.data(), {1}), TensorView<double>(gi.data(), {2, 2})); },
                                             ErrorKind::Value, "input[0, 1] = 1.5 is outside [0, 1]", {&out, &gi}, -7.0));
  x[1] = std::nan("");
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy(xv, yv, TensorView<double>(out.data(), {2, 2}), {.reduction = Reduction::None}); },
                                             ErrorKind::Value, "input[0, 1] = nan", {&out}, -7.0));
  x[1] = 0.5;
  const std::vector<double> w3 = {1, 2, 3};
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy(xv, yv, TensorView<double>(out.data(), {1}), {.weight = ConstView<double>(w3.data(), {3})}); },
                                             ErrorKind::Shape, "weight of shape [3] does not broadcast to the input shape [2, 2]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy(xv, ConstView<double>(y.data(), {4}), TensorView<double>(out.data(), {1})); },
                                             ErrorKind::Shape, "input and target must have the same shape", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy(xv, yv, TensorView<double>(out.data(), {4}), {.reduction = Reduction::None}); },
                                             ErrorKind::Shape, "out has shape [4], expected [2, 2]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy(xv, yv, TensorView<double>(out.data(), {1}), {.reduction = Reduction::BatchMean}); },
                                             ErrorKind::Value, "batchmean", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy_backward(ConstView<double>(out.data(), {2}), xv, yv, TensorView<double>(gi.data(), {2, 2})); },
                                             ErrorKind::Shape, "grad_output has shape [2], expected []", {&gi}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy_with_logits(xv, yv, TensorView<double>(out.data(), {1}), {.pos_weight = ConstView<double>(w3.data(), {3})}); },
                                             ErrorKind::Shape, "pos_weight of shape [3] does not broadcast", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { binary_cross_entropy_with_logits_forward_backward(xv, yv, TensorView<double>(out.data(), {1}), TensorView<double>(x.data(), {2, 2})); },
                                             ErrorKind::Runtime, "grad_input overlaps input", {&out}, -7.0));
  // A long contiguous input (scanned in blocks): the first bad element is named, in any block.
  std::vector<float> xl(10000, 0.5f), yl(10000, 0.0f), ol(1);
  xl[9001] = -0.25f, xl[9500] = 2.0f;
  EXPECT_TRUE(expect_error_untouched<float>([&] { binary_cross_entropy(ConstView<float>(xl.data(), {10000}), ConstView<float>(yl.data(), {10000}), TensorView<float>(ol.data(), {})); },
                                            ErrorKind::Value, "input[9001] = -0.25 is outside [0, 1]", {&ol}, -7.0f));
  xl[4095] = 1.0f, xl[4096] = std::nanf("");
  EXPECT_TRUE(expect_error_untouched<float>([&] { binary_cross_entropy(ConstView<float>(xl.data(), {10000}), ConstView<float>(yl.data(), {10000}), TensorView<float>(ol.data(), {})); },
                                            ErrorKind::Value, "input[4096] = nan", {&ol}, -7.0f));
  // Several parallel blocks (65536 elements each): the first bad element of the first block.
  std::vector<float> xb(300000, 0.25f), yb(300000, 0.0f);
  xb[250000] = 7.0f, xb[140001] = -1.0f, xb[140002] = 3.0f;
  const int saved = losskit::get_num_threads();
  for (const int threads : {1, 2, 3}) {
    losskit::set_num_threads(threads);
    EXPECT_TRUE(expect_error_untouched<float>([&] { binary_cross_entropy(ConstView<float>(xb.data(), {300000}), ConstView<float>(yb.data(), {300000}), TensorView<float>(ol.data(), {})); },
                                              ErrorKind::Value, "input[140001] = -1 is outside [0, 1]", {&ol}, -7.0f));
  }
  losskit::set_num_threads(saved);
}

TEST(BinaryCrossEntropyWithLogits, GradientsEveryOption) {
  Rng rng(2);
  const auto x = rng.normal(12, 0, 3);
  const auto y = rng.uniform(12, 0, 1);
  const auto w = rng.uniform(4, 0.5, 2), pw = rng.uniform(4, 0.5, 3), wcol = rng.uniform(3, 0.5, 2);
  const ConstView<double> yv(y.data(), kShape);
  for (int variant = 0; variant < 4; ++variant) {
    SCOPED_TRACE(variant);
    BCEWithLogitsOptions<double> base;
    if (variant & 1) base.weight = ConstView<double>(w.data(), {4});
    if (variant & 2) base.pos_weight = ConstView<double>(pw.data(), {4});
    if (variant == 3) base.weight = ConstView<double>(wcol.data(), {3, 1});
    auto opts = [&](Reduction r) { auto o = base; o.reduction = r; return o; };
    lktest::check_loss_calls(kShape, x, kShape, LKTEST_CALLS(binary_cross_entropy_with_logits, yv, opts));
  }
}

TEST(BinaryCrossEntropyWithLogits, InfiniteAndHugeLogits) {
  // The limits where PyTorch 1.13 gives NaN (pytorch#102894).
  const double x[] = {kInf, -kInf, kInf, -kInf, 1e4, -1e4}, y[] = {1, 0, 0, 1, 1, 1};
  const double pw[] = {3, 3, 3, 3, 3, 3};
  const ConstView<double> xv(x, {6}), yv(y, {6});
  const BCEWithLogitsOptions<double> o{.pos_weight = ConstView<double>(pw, {6}), .reduction = Reduction::None};
  std::vector<double> l(6), g(6);
  binary_cross_entropy_with_logits_forward_backward(xv, yv, TensorView<double>(l.data(), {6}), TensorView<double>(g.data(), {6}), o);
  EXPECT_EQ(l[0], 0);
  EXPECT_EQ(l[1], 0);
  EXPECT_EQ(l[2], kInf);
  EXPECT_EQ(l[3], kInf);
  EXPECT_EQ(l[4], 0);
  EXPECT_EQ(l[5], 3e4);
  EXPECT_EQ(g[0], 0);   // (p y + 1 - y) s - p y = 3 - 3
  EXPECT_EQ(g[1], 0);
  EXPECT_EQ(g[2], 1);
  EXPECT_EQ(g[3], -3);  // -p y
  EXPECT_EQ(g[4], 0);
  EXPECT_EQ(g[5], -3);
  // float: the same limits.
  const float xf[] = {INFINITY, -INFINITY, 100.f}, yf[] = {1, 0, 0};
  auto lf = binary_cross_entropy_with_logits(ConstView<float>(xf, {3}), ConstView<float>(yf, {3}), {.reduction = Reduction::None});
  EXPECT_EQ(lf[0], 0);
  EXPECT_EQ(lf[1], 0);
  EXPECT_EQ(lf[2], 100);
}

TEST(BinaryCrossEntropyWithLogits, AgreesWithBceOfSigmoid) {
  Rng rng(3);
  const auto x = rng.normal(20, 0, 2);
  const auto y = rng.uniform(20, 0, 1);
  std::vector<double> p(20);
  for (int i = 0; i < 20; ++i) p[i] = sigmoid(x[i]);
  const double a = binary_cross_entropy_with_logits(ConstView<double>(x.data(), {20}), ConstView<double>(y.data(), {20})).item();
  const double b = binary_cross_entropy(ConstView<double>(p.data(), {20}), ConstView<double>(y.data(), {20})).item();
  EXPECT_NEAR(a, b, 1e-12);
}

TEST(BinaryCrossEntropyWithLogits, StridedInputAndTensorOverload) {
  Rng rng(4);
  const auto x = rng.normal(12), y = rng.uniform(12, 0, 1);
  // Transposed (4, 3) views of the row-major (3, 4) data.
  const ConstView<double> xt(x.data(), {4, 3}, {1, 4}), yt(y.data(), {4, 3}, {1, 4});
  auto l = binary_cross_entropy_with_logits(xt, yt, {.reduction = Reduction::None});
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) {
      const double xv = x[j * 4 + i], yv = y[j * 4 + i];
      EXPECT_NEAR(l[i * 3 + j], -(yv * std::log(sigmoid(xv)) + (1 - yv) * std::log(1 - sigmoid(xv))), 1e-12);
    }
}
