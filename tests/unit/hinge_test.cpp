// Keras' hinge_loss, squared_hinge_loss, categorical_hinge_loss: gradients, label conversion,
// values written out from Keras' formulas, empty batches, bad inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/loss_checks.hpp"
#include "support/testing.hpp"

using namespace losskit;
using lktest::Rng;
using lktest::expect_error_untouched;

TEST(HingeLoss, GradientsAllThree) {
  Rng rng(1);
  const auto x = rng.normal(24, 0, 1.5);
  std::vector<double> pm(24), onehot(24, 0.0), soft = rng.uniform(24, 0, 1);
  for (int i = 0; i < 24; ++i) pm[i] = (i % 3) ? 1 : -1;
  for (int r = 0; r < 6; ++r) onehot[r * 4 + (r % 4)] = 1;
  auto opts = [](Reduction r) { return HingeOptions{.reduction = r}; };
  for (const auto* y : {&pm, &onehot}) {
    const ConstView<double> yv(y->data(), {2, 3, 4});
    lktest::check_loss_calls(Shape{2, 3, 4}, x, Shape{2, 3}, LKTEST_CALLS(hinge_loss, yv, opts));
    lktest::check_loss_calls(Shape{2, 3, 4}, x, Shape{2, 3}, LKTEST_CALLS(squared_hinge_loss, yv, opts));
  }
  for (const auto* y : {&onehot, &soft}) {
    const ConstView<double> yv(y->data(), {6, 4});
    lktest::check_loss_calls(Shape{6, 4}, x, Shape{6}, LKTEST_CALLS(categorical_hinge_loss, yv, opts));
  }
}

TEST(HingeLoss, KerasValuesAndLabelConversion) {
  const double x[] = {0.3, -0.6, 2.0, 0.1, -1.5, 0.4};
  const double y01[] = {1, 0, 1, 0, 0, 1}, ypm[] = {1, -1, 1, -1, -1, 1};
  const ConstView<double> xv(x, {2, 3});
  auto a = hinge_loss(xv, ConstView<double>(y01, {2, 3}), {.reduction = Reduction::None});
  auto b = hinge_loss(xv, ConstView<double>(ypm, {2, 3}), {.reduction = Reduction::None});
  for (int n = 0; n < 2; ++n) {
    double h = 0, s = 0;
    for (int c = 0; c < 3; ++c) {
      const double m = std::max(0.0, 1 - ypm[n * 3 + c] * x[n * 3 + c]);
      h += m / 3;
      s += m * m / 3;
    }
    EXPECT_NEAR(a[n], h, 1e-15);
    EXPECT_NEAR(b[n], h, 1e-15);
    EXPECT_NEAR(squared_hinge_loss(xv, ConstView<double>(y01, {2, 3}), {.reduction = Reduction::None})[n], s, 1e-15);
  }
  // One label that is not 0 or 1 turns the conversion off for the whole tensor.
  const double ymix[] = {1, 0, 1, 0, 0, 0.5};
  auto c = hinge_loss(xv, ConstView<double>(ymix, {2, 3}), {.reduction = Reduction::Sum});
  double expect = 0;
  for (int i = 0; i < 6; ++i) expect += std::max(0.0, 1 - ymix[i] * x[i]) / 3;
  EXPECT_NEAR(c.item(), expect, 1e-15);
  // categorical_hinge: pos = sum y x, neg = max (1 - y) x.
  const double oh[] = {0, 1, 0, 1, 0, 0};
  auto ch = categorical_hinge_loss(xv, ConstView<double>(oh, {2, 3}), {.reduction = Reduction::None});
  EXPECT_NEAR(ch[0], std::max(0.0, 2.0 - (-0.6) + 1), 1e-15);
  EXPECT_NEAR(ch[1], std::max(0.0, 0.4 - 0.1 + 1), 1e-15);
  // A 1-D input gives one 0-d loss; an empty batch gives NaN (Mean) and 0 (Sum).
  EXPECT_EQ(hinge_loss(ConstView<double>(x, {3}), ConstView<double>(ypm, {3}), {.reduction = Reduction::None}).shape().ndim(), 0);
  std::vector<double> none;
  EXPECT_TRUE(std::isnan(hinge_loss(ConstView<double>(none.data(), {0, 3}), ConstView<double>(none.data(), {0, 3})).item()));
  EXPECT_EQ(categorical_hinge_loss(ConstView<double>(none.data(), {0, 3}), ConstView<double>(none.data(), {0, 3}), {.reduction = Reduction::Sum}).item(), 0);
  // Huge scores stay finite.
  const double big[] = {1e300, -1e300};
  const double yb[] = {1, -1};
  EXPECT_EQ(hinge_loss(ConstView<double>(big, {2}), ConstView<double>(yb, {2})).item(), 0);
}

TEST(HingeLoss, BadInputs) {
  std::vector<double> x(6, 0.5), y(6, 1.0), out(2), gi(6);
  const ConstView<double> xv(x.data(), {2, 3});
  TensorView<double> o1(out.data(), {1}), g(gi.data(), {2, 3});
  EXPECT_TRUE(expect_error_untouched<double>([&] { hinge_loss_forward_backward(xv, ConstView<double>(y.data(), {3, 2}), o1, g); }, ErrorKind::Shape,
                                             "hinge_loss: input and target must have the same shape", {&out, &gi}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { squared_hinge_loss(ConstView<double>(x.data(), Shape{}), ConstView<double>(y.data(), Shape{}), o1); }, ErrorKind::Shape,
                                             "squared_hinge_loss: input must have at least 1 dim", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { categorical_hinge_loss(xv, ConstView<double>(y.data(), {2, 3}), TensorView<double>(out.data(), {2}), {.reduction = Reduction::BatchMean}); }, ErrorKind::Value,
                                             "batchmean", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { categorical_hinge_loss(xv, ConstView<double>(y.data(), {2, 3}), TensorView<double>(out.data(), {3}), {.reduction = Reduction::None}); }, ErrorKind::Shape,
                                             "out has shape [3], expected [2]", {&out}, -7.0));
  EXPECT_TRUE(expect_error_untouched<double>([&] { hinge_loss_backward(ConstView<double>(out.data(), Shape{}), xv, ConstView<double>(y.data(), {2, 3}), TensorView<double>(y.data(), {2, 3})); }, ErrorKind::Runtime,
                                             "grad_input overlaps target", {&gi}, -7.0));
}
