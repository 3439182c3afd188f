// sparsemax_loss and multiclass_sparsemax_loss (optax): values on every branch and at the
// boundaries, numbers computed with optax 0.2.8 on JAX (float64), float64 finite differences,
// the four calls agreeing, the vector kernel on every SIMD target against the scalar Op, NaN,
// bad inputs. Python tests compare with optax itself (python/tests/test_classification_extra.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <losskit/losskit.hpp>

#include "support/targets.hpp"
#include "support/testing.hpp"

using losskit::ConstView;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::SparsemaxLossOptions;
using losskit::TensorView;
using lktest::Rng;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double sparse_plus(double z) { return z <= -1 ? 0.0 : z >= 1 ? z : (z + 1) * (z + 1) / 4; }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const losskit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(SparsemaxLoss, BranchesBoundariesAndGradient) {
  // z = x for label 0, -x for label 1 (any nonzero label, NaN included, counts as 1).
  const std::vector<double> x{-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 0.25, -0.25, 0.7, kNaN, 0.4};
  const std::vector<double> y{0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, kNaN};
  const std::size_t n = x.size();
  std::vector<double> want(n), dwant(n);
  for (std::size_t i = 0; i < n; ++i) {
    const bool pos = y[i] != 0;
    const double z = pos ? -x[i] : x[i];
    want[i] = sparse_plus(z);
    const double s = z <= -1 ? 0.0 : z >= 1 ? 1.0 : (z + 1) / 2;
    dwant[i] = pos ? -s : s;
  }
  for (int dt = 0; dt < 2; ++dt) {
    auto run = [&]<class T>() {
      const auto xt = lktest::cast<T>(x), yt = lktest::cast<T>(y);
      std::vector<T> out(n), g(n), gy(n, T(-7));
      const SparsemaxLossOptions o{.reduction = Reduction::None};
      losskit::sparsemax_loss_forward_backward(ConstView<T>(xt.data(), {static_cast<std::int64_t>(n)}),
                                               ConstView<T>(yt.data(), {static_cast<std::int64_t>(n)}),
                                               TensorView<T>(out.data(), {static_cast<std::int64_t>(n)}),
                                               TensorView<T>(g.data(), {static_cast<std::int64_t>(n)}),
                                               TensorView<T>(gy.data(), {static_cast<std::int64_t>(n)}), o);
      for (std::size_t i = 0; i < n; ++i) {
        if (std::isnan(want[i])) {
          EXPECT_TRUE(std::isnan(out[i]) && std::isnan(g[i])) << i;
          continue;
        }
        EXPECT_NEAR(out[i], want[i], 1e-7) << i;
        EXPECT_NEAR(g[i], dwant[i], 1e-7) << i;
        EXPECT_EQ(gy[i], T(0)) << i;
      }
    };
    if (dt) run.template operator()<float>();
    else run.template operator()<double>();
  }
  // Reductions and finite differences away from the branch points.
  Rng rng(601);
  const auto xs = rng.normal(40, 0, 1.5);
  auto ys = rng.uniform(40, 0, 1);
  for (double& v : ys) v = v < 0.5 ? 0.0 : 1.0;
  for (const Reduction r : {Reduction::Mean, Reduction::Sum}) {
    const SparsemaxLossOptions o{.reduction = r};
    double sum = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) sum += sparse_plus(ys[i] != 0 ? -xs[i] : xs[i]);
    const auto v = losskit::sparsemax_loss(ConstView<double>(xs.data(), {8, 5}), ConstView<double>(ys.data(), {8, 5}), o);
    EXPECT_NEAR(v.item(), r == Reduction::Sum ? sum : sum / 40, 1e-14);
    std::vector<double> g(40);
    const double one = 1.0;
    losskit::sparsemax_loss_backward(ConstView<double>(&one, {}), ConstView<double>(xs.data(), {8, 5}),
                                     ConstView<double>(ys.data(), {8, 5}), TensorView<double>(g.data(), {8, 5}), o);
    EXPECT_TRUE(lktest::check_gradient(
        [&](const std::vector<double>& a) {
          return losskit::sparsemax_loss(ConstView<double>(a.data(), {8, 5}), ConstView<double>(ys.data(), {8, 5}), o).item();
        },
        xs, g));
  }
}

TEST(SparsemaxLoss, VectorKernelMatchesScalarOnEveryTarget) {
  Rng rng(602);
  const std::int64_t n = 203;
  const auto xd = rng.normal(static_cast<std::size_t>(n), 0, 1.5);
  auto yd = rng.uniform(static_cast<std::size_t>(n), 0, 1);
  for (double& v : yd) v = v < 0.5 ? 0.0 : 1.0;
  const auto x = lktest::cast<float>(xd), y = lktest::cast<float>(yd);
  std::vector<float> xs(2 * x.size()), ys(2 * y.size());
  for (std::size_t i = 0; i < x.size(); ++i) xs[2 * i] = x[i], ys[2 * i] = y[i];
  lktest::for_each_target([&] {
    const SparsemaxLossOptions o{.reduction = Reduction::None};
    std::vector<float> out(x.size()), g(x.size()), outs(2 * x.size()), gs(2 * x.size());
    losskit::sparsemax_loss_forward_backward(ConstView<float>(x.data(), {n}), ConstView<float>(y.data(), {n}),
                                             TensorView<float>(out.data(), {n}), TensorView<float>(g.data(), {n}), o);
    losskit::sparsemax_loss_forward_backward(ConstView<float>(xs.data(), {n}, {2}), ConstView<float>(ys.data(), {n}, {2}),
                                             TensorView<float>(outs.data(), {n}, {2}), TensorView<float>(gs.data(), {n}, {2}), o);
    for (std::size_t i = 0; i < x.size(); ++i) {
      EXPECT_FLOAT_EQ(out[i], outs[2 * i]) << i;
      EXPECT_FLOAT_EQ(g[i], gs[2 * i]) << i;
    }
  });
}

TEST(MulticlassSparsemaxLoss, OptaxNumbersAndGradient) {
  // optax.losses.multiclass_sparsemax_loss and jax.grad of its sum (optax 0.2.8, float64).
  const std::vector<double> s{1.0, 0.5, -2.0, 0.9, 0, 0, 0, 0, 3, -1, -1, 2.5};
  const std::vector<std::int64_t> y{1, 2, 0};
  const std::vector<double> want{0.70333333333333337, 0.375, 0.0625};
  const std::vector<double> gwant{0.53333333333333333, -0.96666666666666667, 0, 0.43333333333333333,
                                  0.25, 0.25, -0.75, 0.25, -0.25, 0, 0, 0.25};
  for (int dt = 0; dt < 2; ++dt) {
    auto run = [&]<class T>() {
      const auto st = lktest::cast<T>(s);
      std::vector<T> out(3), g(12);
      losskit::multiclass_sparsemax_loss_forward_backward(ConstView<T>(st.data(), {3, 4}), ConstView<std::int64_t>(y.data(), {3}),
                                                          TensorView<T>(out.data(), {3}), TensorView<T>(g.data(), {3, 4}),
                                                          {.reduction = Reduction::None});
      for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(out[i], want[i], dt ? 1e-6 : 1e-15) << i;
      for (std::size_t i = 0; i < 12; ++i) EXPECT_NEAR(g[i], gwant[i], dt ? 1e-6 : 1e-15) << i;
    };
    if (dt) run.template operator()<float>();
    else run.template operator()<double>();
  }
  // Finite differences (rows of 7 classes, a few in the support), every reduction.
  Rng rng(603);
  const auto x = rng.normal(35, 0, 1);
  const std::vector<std::int64_t> labels{0, 3, 6, 2, 5};
  for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    const SparsemaxLossOptions o{.reduction = r};
    const Shape os = r == Reduction::None ? Shape{5} : Shape{};
    const auto up = rng.uniform(static_cast<std::size_t>(os.numel()), 0.5, 1.5);
    std::vector<double> g(35);
    losskit::multiclass_sparsemax_loss_backward(ConstView<double>(up.data(), os), ConstView<double>(x.data(), {5, 7}),
                                                ConstView<std::int64_t>(labels.data(), {5}), TensorView<double>(g.data(), {5, 7}), o);
    EXPECT_TRUE(lktest::check_gradient(
        [&](const std::vector<double>& a) {
          const auto v = losskit::multiclass_sparsemax_loss(ConstView<double>(a.data(), {5, 7}),
                                                            ConstView<std::int64_t>(labels.data(), {5}), o);
          double acc = 0;
          for (std::int64_t i = 0; i < v.numel(); ++i) acc += up[static_cast<std::size_t>(i)] * v[i];
          return acc;
        },
        x, g));
  }
  // A NaN score: the row's loss and gradient are NaN, the other rows untouched by it.
  std::vector<double> sn = s;
  sn[5] = kNaN;
  std::vector<double> out(3), g(12);
  losskit::multiclass_sparsemax_loss_forward_backward(ConstView<double>(sn.data(), {3, 4}), ConstView<std::int64_t>(y.data(), {3}),
                                                      TensorView<double>(out.data(), {3}), TensorView<double>(g.data(), {3, 4}),
                                                      {.reduction = Reduction::None});
  EXPECT_TRUE(std::isnan(out[1]) && std::isnan(g[4]) && std::isnan(g[7]));
  EXPECT_NEAR(out[0], want[0], 1e-15);
  EXPECT_NEAR(out[2], want[2], 1e-15);
}

TEST(MulticlassSparsemaxLoss, BadInputsTable) {
  using V = ConstView<double>;
  using O = TensorView<double>;
  std::vector<double> x(12, 0.5), out(12), gi(12);
  const std::vector<std::int64_t> y{0, 4, 1}, y2{0, 1}, y3{0, 1, 2};
  const std::string fn = "multiclass_sparsemax_loss: ";
  struct Bad {
    std::string name;
    std::function<void()> call;
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Bad> table{
      {"label out of range",
       [&] { losskit::multiclass_sparsemax_loss(V(x.data(), {3, 4}), ConstView<std::int64_t>(y.data(), {3}), O(out.data(), {})); },
       ErrorKind::Index, fn + "target[1] = 4 is outside [0, 4)"},
      {"target shape",
       [&] { losskit::multiclass_sparsemax_loss(V(x.data(), {3, 4}), ConstView<std::int64_t>(y2.data(), {2}), O(out.data(), {})); },
       ErrorKind::Shape, fn + "expected target of shape [3]"},
      {"grad_input shape",
       [&] {
         losskit::multiclass_sparsemax_loss_forward_backward(V(x.data(), {3, 4}), ConstView<std::int64_t>(y3.data(), {3}),
                                                             O(out.data(), {}), O(gi.data(), {4, 3}));
       },
       ErrorKind::Shape, fn + "grad_input has shape [4, 3], expected [3, 4]"},
  };
  for (const Bad& b : table) {
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.message, {&out, &gi}, -3.5)) << b.name;
    EXPECT_EQ(message_of(b.call).substr(0, b.message.size()), b.message) << b.name;
  }
  // sparsemax_loss: the pointwise driver's checks.
  std::vector<double> t(12, 1.0);
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] { losskit::sparsemax_loss(V(x.data(), {3, 4}), V(t.data(), {4, 3}), O(out.data(), {})); }, ErrorKind::Shape,
      "sparsemax_loss: input and target must have the same shape", {&out}, -3.5));
}
