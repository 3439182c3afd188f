// generalized_dice_loss (MONAI GeneralizedDiceLoss on the dice engine): a hand-computed value,
// the empty-class weight rule, float64 finite differences, the 'none' shapes, bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "losskit/segmentation.hpp"
#include "support/testing.hpp"

namespace {
using losskit::ConstView;
using losskit::GdlWeight;
using losskit::GeneralizedDiceLossOptions;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using Vec = std::vector<double>;

TEST(GeneralizedDiceLoss, HandComputedWithAnEmptyClass) {
  // one item, 3 channels, 2 positions; class 2 never appears in the target (infinite weight ->
  // the largest finite weight)
  const Vec p{0.6, 0.2, 0.3, 0.7, 0.1, 0.1};  // (1, 3, 2): channel-major
  const Vec t{1, 0, 0, 1, 0, 0};
  const auto out = losskit::generalized_dice_loss(ConstView<double>(p.data(), Shape{1, 3, 2}), ConstView<double>(t.data(), Shape{1, 3, 2}),
                                                  {.reduction = Reduction::None, .smooth_nr = 0, .smooth_dr = 0});
  ASSERT_EQ(out.view().shape(), (Shape{1, 1, 1}));
  // G = (1, 1, 0): w = (1, 1, max = 1); tp = (0.6, 0.7, 0); P + G = (1.8, 2.0, 0.2)
  const double want = 1 - 2 * (0.6 + 0.7) / (1.8 + 2.0 + 0.2);
  EXPECT_NEAR(out.view().flat(0), want, 1e-7);  // the weights are float32, as MONAI's
}

TEST(GeneralizedDiceLoss, FiniteDifferencesAndShapes) {
  lktest::Rng rng(4);
  const Shape shape{2, 3, 4, 3};
  const Vec z = rng.normal(72), t = rng.uniform(72, 0, 1);
  for (const GeneralizedDiceLossOptions& o :
       {GeneralizedDiceLossOptions{.softmax = true}, GeneralizedDiceLossOptions{.sigmoid = true, .w_type = GdlWeight::Simple, .batch = true},
        GeneralizedDiceLossOptions{.include_background = false, .softmax = true, .w_type = GdlWeight::Uniform, .soft_label = true}}) {
    Vec out(1), g(72);
    losskit::generalized_dice_loss_forward_backward(ConstView<double>(z.data(), shape), ConstView<double>(t.data(), shape),
                                                    TensorView<double>(out.data(), Shape{}), TensorView<double>(g.data(), shape), o);
    auto f = [&](const Vec& zz) {
      return losskit::generalized_dice_loss(ConstView<double>(zz.data(), shape), ConstView<double>(t.data(), shape), o).view().flat(0);
    };
    EXPECT_TRUE(lktest::check_gradient(f, z, g));
  }
  const auto none = losskit::generalized_dice_loss(ConstView<double>(z.data(), shape), ConstView<double>(t.data(), shape),
                                                   {.reduction = Reduction::None});
  EXPECT_EQ(none.view().shape(), (Shape{2, 1, 1, 1}));
  const auto none_b = losskit::generalized_dice_loss(ConstView<double>(z.data(), shape), ConstView<double>(t.data(), shape),
                                                     {.reduction = Reduction::None, .batch = true});
  EXPECT_EQ(none_b.view().shape(), (Shape{1, 1, 1}));  // MONAI: f.shape[0:2] + ones, f of shape (1)
}

TEST(GeneralizedDiceLoss, BadInputsLeaveBuffersUntouched) {
  Vec x(24, 0.5), out(1), g(24);
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] {
        losskit::generalized_dice_loss_forward_backward(ConstView<double>(x.data(), Shape{2, 3, 4}), ConstView<double>(x.data(), Shape{2, 4, 3}),
                                                        TensorView<double>(out.data(), Shape{}), TensorView<double>(g.data(), Shape{2, 3, 4}));
      },
      losskit::ErrorKind::Shape, "generalized_dice_loss: target has shape [2, 4, 3]", {&out, &g}, 42.0));
}

}  // namespace
