// box_iou, generalized_box_iou, distance_box_iou, complete_box_iou: hand-computed values, float64
// finite differences of sum(G * matrix) for both box sets, thread counts, bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "losskit/detection.hpp"
#include "losskit/threading.hpp"
#include "support/testing.hpp"

namespace {
using losskit::BoxIouOptions;
using losskit::ConstView;
using losskit::ErrorKind;
using losskit::Shape;
using losskit::TensorView;
using Vec = std::vector<double>;

using Fwd = losskit::Tensor<double> (*)(ConstView<double>, ConstView<double>, const BoxIouOptions&);
using Bwd = void (*)(ConstView<double>, ConstView<double>, ConstView<double>, TensorView<double>, TensorView<double>,
                     const BoxIouOptions&);
struct Matrix {
  const char* name;
  Fwd fwd;
  Bwd bwd;
};
const Matrix kMatrices[] = {
    {"iou", losskit::box_iou, losskit::box_iou_backward},
    {"giou", losskit::generalized_box_iou, losskit::generalized_box_iou_backward},
    {"diou", losskit::distance_box_iou, losskit::distance_box_iou_backward},
};

Vec random_boxes(lktest::Rng& rng, std::size_t n) {
  Vec b(n * 4);
  const Vec xy = rng.uniform(2 * n, 0, 6), wh = rng.uniform(2 * n, 0.5, 4);
  for (std::size_t i = 0; i < n; ++i) {
    b[4 * i] = xy[2 * i];
    b[4 * i + 1] = xy[2 * i + 1];
    b[4 * i + 2] = xy[2 * i] + wh[2 * i];
    b[4 * i + 3] = xy[2 * i + 1] + wh[2 * i + 1];
  }
  return b;
}

TEST(BoxIou, HandComputedValues) {
  const Vec a{0, 0, 1, 1, 0, 0, 2, 2}, b{0.5, 0, 1.5, 1, 2, 0, 3, 1};
  const auto iou = losskit::box_iou(ConstView<double>(a.data(), Shape{2, 4}), ConstView<double>(b.data(), Shape{2, 4}));
  EXPECT_DOUBLE_EQ(iou.view().flat(0), 0.5 / 1.5);  // half overlap of unit squares
  EXPECT_DOUBLE_EQ(iou.view().flat(1), 0.0);        // disjoint
  EXPECT_DOUBLE_EQ(iou.view().flat(2), 1.0 / 4.0);  // the 2x2 box holds the whole unit box
  EXPECT_DOUBLE_EQ(iou.view().flat(3), 0.0);        // touching at x = 2: empty intersection
  const auto giou = losskit::generalized_box_iou(ConstView<double>(a.data(), Shape{1, 4}), ConstView<double>(b.data() + 4, Shape{1, 4}));
  EXPECT_DOUBLE_EQ(giou.view().flat(0), 0 - (3.0 - 2.0) / 3.0);  // IoU 0, enclosing 3, union 2
  const auto diou = losskit::distance_box_iou(ConstView<double>(a.data(), Shape{1, 4}), ConstView<double>(b.data() + 4, Shape{1, 4}),
                                              {.eps = 0});
  EXPECT_DOUBLE_EQ(diou.view().flat(0), 0 - 4.0 / 10.0);
}

TEST(BoxIou, FiniteDifferencesForBothSets) {
  lktest::Rng rng(3);
  const std::size_t n = 5, m = 4;
  const Vec b1 = random_boxes(rng, n), b2 = random_boxes(rng, m), G = rng.uniform(n * m, -1, 1);
  const auto N = static_cast<std::int64_t>(n), M = static_cast<std::int64_t>(m);
  for (const auto& mat : kMatrices) {
    const BoxIouOptions o{.eps = 1e-3};
    Vec g1(4 * n), g2(4 * m);
    mat.bwd(ConstView<double>(G.data(), Shape{N, M}), ConstView<double>(b1.data(), Shape{N, 4}), ConstView<double>(b2.data(), Shape{M, 4}),
            TensorView<double>(g1.data(), Shape{N, 4}), TensorView<double>(g2.data(), Shape{M, 4}), o);
    auto f = [&](const Vec& p, const Vec& q) {
      const auto t = mat.fwd(ConstView<double>(p.data(), Shape{N, 4}), ConstView<double>(q.data(), Shape{M, 4}), o);
      double s = 0;
      for (std::size_t k = 0; k < n * m; ++k) s += G[k] * t.view().flat(static_cast<std::int64_t>(k));
      return s;
    };
    EXPECT_TRUE(lktest::check_gradient([&](const Vec& x) { return f(x, b2); }, b1, g1)) << mat.name;
    EXPECT_TRUE(lktest::check_gradient([&](const Vec& x) { return f(b1, x); }, b2, g2)) << mat.name;
  }
}

TEST(BoxIou, SameBitsForAnyThreadCount) {
  lktest::Rng rng(4);
  const std::size_t n = 300, m = 200;
  const std::vector<float> b1 = lktest::cast<float>(random_boxes(rng, n)), b2 = lktest::cast<float>(random_boxes(rng, m));
  const std::vector<float> G = lktest::cast<float>(rng.uniform(n * m, -1, 1));
  const auto N = static_cast<std::int64_t>(n), M = static_cast<std::int64_t>(m);
  const int saved = losskit::get_num_threads();
  auto run = [&](int t) {
    losskit::set_num_threads(t);
    std::vector<float> g1(4 * n), g2(4 * m);
    losskit::complete_box_iou_backward(ConstView<float>(G.data(), Shape{N, M}), ConstView<float>(b1.data(), Shape{N, 4}),
                                       ConstView<float>(b2.data(), Shape{M, 4}), TensorView<float>(g1.data(), Shape{N, 4}),
                                       TensorView<float>(g2.data(), Shape{M, 4}));
    const auto out = losskit::complete_box_iou(ConstView<float>(b1.data(), Shape{N, 4}), ConstView<float>(b2.data(), Shape{M, 4}));
    g1.insert(g1.end(), g2.begin(), g2.end());
    g1.insert(g1.end(), out.view().data(), out.view().data() + n * m);
    return g1;
  };
  const auto one = run(1), two = run(2), three = run(3);
  losskit::set_num_threads(saved);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
}

TEST(BoxIou, BadInputsLeaveBuffersUntouched) {
  Vec b(12, 1.0), out(9), g1(12), g2(12), go(9, 1.0);
  const ConstView<double> v(b.data(), Shape{3, 4});
  struct Case {
    const char* needle;
    ErrorKind kind;
    std::function<void()> call;
  };
  const std::vector<Case> cases = {
      {"boxes1 must have shape (N, 4)", ErrorKind::Shape,
       [&] { losskit::box_iou(ConstView<double>(b.data(), Shape{4, 3}), v, TensorView<double>(out.data(), Shape{4, 3})); }},
      {"boxes2 must have shape (N, 4)", ErrorKind::Shape,
       [&] { losskit::box_iou(v, ConstView<double>(b.data(), Shape{12}), TensorView<double>(out.data(), Shape{3, 3})); }},
      {"eps = -1", ErrorKind::Value,
       [&] { losskit::distance_box_iou(v, v, TensorView<double>(out.data(), Shape{3, 3}), {.eps = -1}); }},
      {"out", ErrorKind::Shape, [&] { losskit::box_iou(v, v, TensorView<double>(out.data(), Shape{9})); }},
      {"grad_output", ErrorKind::Shape,
       [&] {
         losskit::generalized_box_iou_backward(ConstView<double>(go.data(), Shape{9}), v, v, TensorView<double>(g1.data(), Shape{3, 4}),
                                               TensorView<double>(g2.data(), Shape{3, 4}));
       }},
      {"grad_boxes2 overlaps grad_boxes1", ErrorKind::Runtime,
       [&] {
         losskit::generalized_box_iou_backward(ConstView<double>(go.data(), Shape{3, 3}), v, v, TensorView<double>(g1.data(), Shape{3, 4}),
                                               TensorView<double>(g1.data(), Shape{3, 4}));
       }},
  };
  for (const auto& c : cases)
    EXPECT_TRUE(lktest::expect_error_untouched<double>(c.call, c.kind, c.needle, {&out, &g1, &g2}, 42.0)) << c.needle;
}

}  // namespace
