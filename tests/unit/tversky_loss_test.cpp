// tversky_loss (MONAI TverskyLoss on the dice engine): its relation to Dice and Jaccard, float64
// finite differences for each activation and form, the (B, C) 'none' shape, bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "losskit/segmentation.hpp"
#include "support/testing.hpp"

namespace {
using losskit::ConstView;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using losskit::TverskyLossOptions;
using Vec = std::vector<double>;

const Shape kShape{2, 3, 4, 5};

TEST(TverskyLoss, DiceAndJaccardAreSpecialCases) {
  lktest::Rng rng(1);
  const Vec x = rng.uniform(120, 0.05, 0.95), t = rng.uniform(120, 0, 1);
  const ConstView<double> xv(x.data(), kShape), tv(t.data(), kShape);
  const auto tv_half = losskit::tversky_loss(xv, tv, TverskyLossOptions{.reduction = Reduction::None, .smooth_nr = 0, .smooth_dr = 0});
  const auto dice = losskit::dice_loss(xv, tv, {.reduction = Reduction::None, .smooth_nr = 0, .smooth_dr = 0});
  const auto tv_one = losskit::tversky_loss(
      xv, tv, TverskyLossOptions{.alpha = 1, .beta = 1, .reduction = Reduction::None, .smooth_nr = 0, .smooth_dr = 0});
  const auto jac = losskit::dice_loss(xv, tv, {.jaccard = true, .reduction = Reduction::None, .smooth_nr = 0, .smooth_dr = 0});
  ASSERT_EQ(tv_half.view().shape(), (Shape{2, 3}));  // MONAI TverskyLoss: (B, C), no trailing ones
  for (std::int64_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(tv_half.view().flat(i), dice.view().flat(i), 1e-14);
    EXPECT_NEAR(tv_one.view().flat(i), jac.view().flat(i), 1e-14);
  }
}

TEST(TverskyLoss, FiniteDifferences) {
  lktest::Rng rng(2);
  const Vec z = rng.normal(120), t = rng.uniform(120, 0, 1);
  for (const TverskyLossOptions& o :
       {TverskyLossOptions{.softmax = true, .alpha = 0.3, .beta = 0.7},
        TverskyLossOptions{.sigmoid = true, .alpha = 0.9, .beta = 0.2, .reduction = Reduction::Sum, .batch = true},
        TverskyLossOptions{.include_background = false, .sigmoid = true, .alpha = 0.6, .soft_label = true}}) {
    Vec out(1), g(120);
    losskit::tversky_loss_forward_backward(ConstView<double>(z.data(), kShape), ConstView<double>(t.data(), kShape),
                                           TensorView<double>(out.data(), Shape{}), TensorView<double>(g.data(), kShape), o);
    auto f = [&](const Vec& zz) {
      return losskit::tversky_loss(ConstView<double>(zz.data(), kShape), ConstView<double>(t.data(), kShape), o).view().flat(0);
    };
    EXPECT_TRUE(lktest::check_gradient(f, z, g));
  }
}

TEST(TverskyLoss, BadInputsLeaveBuffersUntouched) {
  Vec x(120, 0.5), out(1), g(120);
  const ConstView<double> xv(x.data(), kShape);
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] {
        losskit::tversky_loss_forward_backward(xv, xv, TensorView<double>(out.data(), Shape{}), TensorView<double>(g.data(), kShape),
                                               {.alpha = std::nan("")});
      },
      ErrorKind::Value, "tversky_loss: alpha = nan must be finite", {&out, &g}, 42.0));
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] {
        losskit::tversky_loss_forward_backward(xv, ConstView<double>(x.data(), Shape{2, 2, 4, 5}), TensorView<double>(out.data(), Shape{}),
                                               TensorView<double>(g.data(), kShape), {});
      },
      ErrorKind::Shape, "tversky_loss: target has shape [2, 2, 4, 5]", {&out, &g}, 42.0));
}

}  // namespace
