// generalized / distance / complete box IoU losses: hand-computed values, float64 finite
// differences for both box sets, ties, reductions, no boxes, thread counts, bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

#include "losskit/detection.hpp"
#include "losskit/threading.hpp"
#include "support/testing.hpp"

namespace {
using losskit::BoxIouLossOptions;
using losskit::ConstView;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using Vec = std::vector<double>;

using Fwd = losskit::Tensor<double> (*)(ConstView<double>, ConstView<double>, const BoxIouLossOptions&);
using FwdBwd = void (*)(ConstView<double>, ConstView<double>, TensorView<double>, TensorView<double>, TensorView<double>,
                        const BoxIouLossOptions&);
using Bwd = void (*)(ConstView<double>, ConstView<double>, ConstView<double>, TensorView<double>, TensorView<double>,
                     const BoxIouLossOptions&);
struct Loss {
  const char* name;
  Fwd fwd;
  FwdBwd fb;
  Bwd bwd;
};
const Loss kLosses[] = {
    {"giou", losskit::generalized_box_iou_loss, losskit::generalized_box_iou_loss_forward_backward,
     losskit::generalized_box_iou_loss_backward},
    {"diou", losskit::distance_box_iou_loss, losskit::distance_box_iou_loss_forward_backward,
     losskit::distance_box_iou_loss_backward},
    {"ciou", losskit::complete_box_iou_loss, losskit::complete_box_iou_loss_forward_backward,
     losskit::complete_box_iou_loss_backward},
};

double value(const Loss& l, const Vec& b1, const Vec& b2, const BoxIouLossOptions& o = {}) {
  const auto n = static_cast<std::int64_t>(b1.size() / 4);
  return l.fwd(ConstView<double>(b1.data(), Shape{n, 4}), ConstView<double>(b2.data(), Shape{n, 4}), o).view().flat(0);
}

TEST(BoxIouLoss, HandComputedValues) {
  // unit squares side by side with a gap of 1: I = 0, U = 2, enclosing box 3 x 1, centres 2 apart
  const Vec a{0, 0, 1, 1}, b{2, 0, 3, 1};
  const BoxIouLossOptions e0{.eps = 0};
  EXPECT_NEAR(value(kLosses[0], a, b, e0), 1 + 1.0 / 3, 1e-15);   // 1 - 0 + (3 - 2) / 3
  EXPECT_NEAR(value(kLosses[1], a, b, e0), 1 + 4.0 / 10, 1e-15);  // 1 - 0 + 2^2 / (3^2 + 1^2)
  EXPECT_NEAR(value(kLosses[2], a, b, e0), 1 + 4.0 / (10 + 1e-7), 1e-15);  // same aspect ratio: v = 0
  // half-overlapping: I = 0.5, U = 1.5, C = 1.5, centres 0.5 apart, diagonal^2 = 1.5^2 + 1
  const Vec c{0.5, 0, 1.5, 1};
  EXPECT_NEAR(value(kLosses[0], a, c, e0), 1 - 1.0 / 3, 1e-15);
  EXPECT_NEAR(value(kLosses[1], a, c, e0), 1 - 1.0 / 3 + 0.25 / 3.25, 1e-15);
  // a 2 x 1 box against the unit square at the same corner: v = 4/pi^2 (atan(1) - atan(2))^2
  const Vec d{0, 0, 2, 1};
  const double iou = 1 / (2 + 1e-7), v = 4 / (std::numbers::pi * std::numbers::pi) * std::pow(std::atan(1.0) - std::atan(2.0), 2);
  const double diou = 1 - iou + 0.25 / (5 + 1e-7);
  EXPECT_NEAR(value(kLosses[2], d, a), diou + v / (1 - iou + v + 1e-7) * v, 1e-15);
  // identical boxes: the IoU terms vanish (up to eps)
  for (const auto& l : kLosses) EXPECT_NEAR(value(l, a, a), 0.0, 1e-6) << l.name;
}

Vec random_boxes(lktest::Rng& rng, std::size_t n) {
  Vec b(n * 4);
  const Vec xy = rng.uniform(2 * n, 0, 10), wh = rng.uniform(2 * n, 0.2, 5);
  for (std::size_t i = 0; i < n; ++i) {
    b[4 * i] = xy[2 * i];
    b[4 * i + 1] = xy[2 * i + 1];
    b[4 * i + 2] = xy[2 * i] + wh[2 * i];
    b[4 * i + 3] = xy[2 * i + 1] + wh[2 * i + 1];
  }
  return b;
}

/// The aspect-ratio term of complete_box_iou_loss, for the finite differences of its gradient
/// (alpha held constant, as torchvision's torch.no_grad).
double aspect_v(const double* p, const double* q) {
  const double d = std::atan((q[2] - q[0]) / (q[3] - q[1])) - std::atan((p[2] - p[0]) / (p[3] - p[1]));
  return 4 / (std::numbers::pi * std::numbers::pi) * d * d;
}

TEST(BoxIouLoss, FiniteDifferencesForBothBoxSets) {
  lktest::Rng rng(3);
  const std::size_t n = 12;
  const Vec b1 = random_boxes(rng, n), b2 = random_boxes(rng, n);
  for (const Reduction r : {Reduction::Sum, Reduction::Mean, Reduction::None}) {
    for (int li = 0; li < 3; ++li) {
      const Loss& l = kLosses[li];
      const BoxIouLossOptions o{.reduction = r, .eps = 1e-3};
      const auto N = static_cast<std::int64_t>(n);
      const Vec up = r == Reduction::None ? rng.uniform(n, 0.5, 2) : Vec{1.0};
      Vec out(r == Reduction::None ? n : 1), g1(4 * n), g2(4 * n);
      l.fb(ConstView<double>(b1.data(), Shape{N, 4}), ConstView<double>(b2.data(), Shape{N, 4}),
           TensorView<double>(out.data(), r == Reduction::None ? Shape{N} : Shape{}), TensorView<double>(g1.data(), Shape{N, 4}),
           TensorView<double>(g2.data(), Shape{N, 4}), o);
      if (r == Reduction::None)  // the backward with an upstream gradient
        l.bwd(
            ConstView<double>(up.data(), Shape{N}), ConstView<double>(b1.data(), Shape{N, 4}),
            ConstView<double>(b2.data(), Shape{N, 4}), TensorView<double>(g1.data(), Shape{N, 4}),
            TensorView<double>(g2.data(), Shape{N, 4}), o);
      // alpha of each pair at the point of expansion (complete_box_iou_loss holds it constant)
      Vec alpha(n, 0.0);
      if (li == 2)
        for (std::size_t i = 0; i < n; ++i) {
          const Vec p(b1.begin() + 4 * i, b1.begin() + 4 * i + 4), q(b2.begin() + 4 * i, b2.begin() + 4 * i + 4);
          const double ciou = value(l, p, q, {.eps = 1e-3}), diou = value(kLosses[1], p, q, {.eps = 1e-7});
          alpha[i] = (ciou - diou) / aspect_v(p.data(), q.data());
        }
      auto f = [&](const Vec& x, bool first) {
        const Vec& p = first ? x : b1;
        const Vec& q = first ? b2 : x;
        const auto t = (li == 2 ? kLosses[1] : l).fwd(ConstView<double>(p.data(), Shape{N, 4}), ConstView<double>(q.data(), Shape{N, 4}),
                                                     {.reduction = Reduction::None, .eps = li == 2 ? 1e-7 : 1e-3});
        double s = 0;
        for (std::size_t i = 0; i < n; ++i) {
          double li_ = t.view().flat(static_cast<std::int64_t>(i));
          if (li == 2) li_ += alpha[i] * aspect_v(p.data() + 4 * i, q.data() + 4 * i);
          const double w = r == Reduction::None ? up[i] : (r == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0);
          s += w * li_;
        }
        return s;
      };
      EXPECT_TRUE(lktest::check_gradient([&](const Vec& x) { return f(x, true); }, b1, g1)) << l.name;
      EXPECT_TRUE(lktest::check_gradient([&](const Vec& x) { return f(x, false); }, b2, g2)) << l.name;
    }
  }
}

TEST(BoxIouLoss, TiesSplitTheGradientAndNoBoxesMeanZero) {
  // identical x1: the max of the intersection's left edge splits its gradient in halves
  const Vec a{1, 0, 3, 2}, b{1, 1, 4, 3};
  Vec g1(4), g2(4), out(1);
  losskit::generalized_box_iou_loss_forward_backward(ConstView<double>(a.data(), Shape{4}), ConstView<double>(b.data(), Shape{4}),
                                                     TensorView<double>(out.data(), Shape{}), TensorView<double>(g1.data(), Shape{4}),
                                                     TensorView<double>(g2.data(), Shape{4}), {.eps = 0});
  // x1 == x1g = 1: both the intersection's max(x1, x1g) and the enclosing box's min(x1, x1g) tie.
  // I = 2 (xk 1..3, yk 1..2), U = 4 + 6 - 2 = 8, C = 3 x 3 = 9; L = 2 - I/U - U/C (eps = 0).
  const double I = 2, U = 8, C = 9;
  const double dU = I / (U * U) - 1 / C, dI = -1 / U - dU, dC = U / (C * C);
  const double want_x1 = dU * -(2 - 0) + 0.5 * dI * -(2 - 1) + 0.5 * dC * -(3 - 0);
  const double want_x1g = dU * -(3 - 1) + 0.5 * dI * -(2 - 1) + 0.5 * dC * -(3 - 0);
  EXPECT_NEAR(out[0], 2 - I / U - U / C, 1e-15);
  EXPECT_NEAR(g1[0], want_x1, 1e-15);
  EXPECT_NEAR(g2[0], want_x1g, 1e-15);
  // no boxes: the mean is 0 (torchvision's 0.0 * sum), the sum 0
  const Vec none;
  for (const auto& l : kLosses) {
    EXPECT_EQ(l.fwd(ConstView<double>(none.data(), Shape{0, 4}), ConstView<double>(none.data(), Shape{0, 4}), {.reduction = Reduction::Mean})
                  .view()
                  .flat(0),
              0.0);
  }
}

TEST(BoxIouLoss, SameBitsForAnyThreadCount) {
  lktest::Rng rng(5);
  const std::size_t n = 5000;
  const std::vector<float> b1 = lktest::cast<float>(random_boxes(rng, n)), b2 = lktest::cast<float>(random_boxes(rng, n));
  const int saved = losskit::get_num_threads();
  auto run = [&](int t) {
    losskit::set_num_threads(t);
    std::vector<float> out(1), g1(b1.size()), g2(b2.size());
    const auto N = static_cast<std::int64_t>(n);
    losskit::complete_box_iou_loss_forward_backward(ConstView<float>(b1.data(), Shape{N, 4}), ConstView<float>(b2.data(), Shape{N, 4}),
                                                    TensorView<float>(out.data(), Shape{}), TensorView<float>(g1.data(), Shape{N, 4}),
                                                    TensorView<float>(g2.data(), Shape{N, 4}), {.reduction = Reduction::Mean});
    g1.insert(g1.end(), g2.begin(), g2.end());
    g1.push_back(out[0]);
    return g1;
  };
  const auto one = run(1), two = run(2), three = run(3);
  losskit::set_num_threads(saved);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
}

TEST(BoxIouLoss, BadInputsLeaveBuffersUntouched) {
  Vec b(20, 1.0), out(5), g1(20), g2(20);
  const ConstView<double> v(b.data(), Shape{5, 4});
  const TensorView<double> ov(out.data(), Shape{5}), gv1(g1.data(), Shape{5, 4}), gv2(g2.data(), Shape{5, 4});
  const BoxIouLossOptions none{.reduction = Reduction::None};
  auto fb = [&](ConstView<double> x, ConstView<double> y, TensorView<double> o, TensorView<double> a, TensorView<double> c,
                BoxIouLossOptions opts) { return [=] { losskit::generalized_box_iou_loss_forward_backward(x, y, o, a, c, opts); }; };
  struct Case {
    const char* needle;
    ErrorKind kind;
    std::function<void()> call;
  };
  const std::vector<Case> cases = {
      {"boxes1 must have shape (..., 4)", ErrorKind::Shape,
       fb(ConstView<double>(b.data(), Shape{4, 5}), ConstView<double>(b.data(), Shape{4, 5}), ov, gv1, gv2, none)},
      {"boxes2 must have shape (..., 4)", ErrorKind::Shape, fb(v, ConstView<double>(b.data(), Shape{20}), ov, gv1, gv2, none)},
      {"boxes1 and boxes2 must have the same shape", ErrorKind::Shape,
       fb(v, ConstView<double>(b.data(), Shape{4, 4}), ov, gv1, gv2, none)},
      {"eps = -1 must be finite and >= 0", ErrorKind::Value, fb(v, v, ov, gv1, gv2, {.reduction = Reduction::None, .eps = -1})},
      {"eps = nan", ErrorKind::Value, fb(v, v, ov, gv1, gv2, {.reduction = Reduction::None, .eps = std::nan("")})},
      {"out", ErrorKind::Shape, fb(v, v, TensorView<double>(out.data(), Shape{4}), gv1, gv2, none)},
      {"grad_boxes2", ErrorKind::Shape, fb(v, v, ov, gv1, TensorView<double>(g2.data(), Shape{4, 4}), none)},
      {"grad_boxes1 overlaps boxes1", ErrorKind::Runtime, fb(v, v, ov, TensorView<double>(b.data(), Shape{5, 4}), gv2, none)},
      {"reduction", ErrorKind::Value, fb(v, v, ov, gv1, gv2, {.reduction = Reduction::BatchMean})},
  };
  for (const auto& c : cases)
    EXPECT_TRUE(lktest::expect_error_untouched<double>(c.call, c.kind, c.needle, {&out, &g1, &g2}, 42.0)) << c.needle;
}

}  // namespace
