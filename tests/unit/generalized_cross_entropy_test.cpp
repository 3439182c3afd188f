// categorical_generalized_cross_entropy (Keras 3 CategoricalGeneralizedCrossEntropy): the formula
// for every reduction, float64 finite differences, the four calls agreeing, Keras' special values
// (p = 0, inf off the label), bad inputs. Python tests compare with Keras itself
// (python/tests/test_classification_extra.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <losskit/losskit.hpp>

#include "support/testing.hpp"

using losskit::ConstView;
using losskit::ErrorKind;
using losskit::GCEOptions;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using lktest::Rng;

namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const losskit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(GeneralizedCrossEntropy, FormulaAndFiniteDifferences) {
  Rng rng(701);
  const std::int64_t N = 6, C = 5;
  auto x = rng.uniform(static_cast<std::size_t>(N * C), 0.05, 1.0);
  const std::vector<std::int64_t> y{0, 4, 2, 2, 1, 3};
  for (const double q : {0.1, 0.5, 0.9})
    for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
      const GCEOptions o{.q = q, .reduction = r};
      std::vector<double> rows;
      double sum = 0;
      for (std::int64_t n = 0; n < N; ++n) {
        rows.push_back((1 - std::pow(x[static_cast<std::size_t>(n * C + y[static_cast<std::size_t>(n)])], q)) / q);
        sum += rows.back();
      }
      const ConstView<double> xin(x.data(), {N, C});
      const ConstView<std::int64_t> yin(y.data(), {N});
      const auto v = losskit::categorical_generalized_cross_entropy(xin, yin, o);
      if (r == Reduction::None)
        for (std::int64_t n = 0; n < N; ++n) EXPECT_NEAR(v[n], rows[static_cast<std::size_t>(n)], 1e-14);
      else
        EXPECT_NEAR(v.item(), r == Reduction::Sum ? sum : sum / N, 1e-14);
      const Shape os = r == Reduction::None ? Shape{N} : Shape{};
      const auto up = rng.uniform(static_cast<std::size_t>(os.numel()), 0.5, 1.5);
      std::vector<double> g(x.size()), fg(x.size()), fo(static_cast<std::size_t>(os.numel())), og(x.size());
      losskit::categorical_generalized_cross_entropy_backward(ConstView<double>(up.data(), os), xin, yin,
                                                              TensorView<double>(g.data(), {N, C}), o);
      losskit::categorical_generalized_cross_entropy_forward_backward(xin, yin, TensorView<double>(fo.data(), os),
                                                                      TensorView<double>(fg.data(), {N, C}), o);
      const std::vector<double> ones(fo.size(), 1.0);
      losskit::categorical_generalized_cross_entropy_backward(ConstView<double>(ones.data(), os), xin, yin,
                                                              TensorView<double>(og.data(), {N, C}), o);
      EXPECT_TRUE(fg == og);
      for (std::size_t i = 0; i < fo.size(); ++i) EXPECT_EQ(fo[i], v[static_cast<std::int64_t>(i)]);
      EXPECT_TRUE(lktest::check_gradient(
          [&](const std::vector<double>& a) {
            const auto l = losskit::categorical_generalized_cross_entropy(ConstView<double>(a.data(), {N, C}), yin, o);
            double acc = 0;
            for (std::int64_t i = 0; i < l.numel(); ++i) acc += up[static_cast<std::size_t>(i)] * l[i];
            return acc;
          },
          x, g));
      const auto xf = lktest::cast<float>(x);
      const auto vf = losskit::categorical_generalized_cross_entropy(ConstView<float>(xf.data(), {N, C}), yin, o);
      for (std::int64_t i = 0; i < vf.numel(); ++i) EXPECT_NEAR(vf[i], v[i], 1e-6 * (1 + std::fabs(v[i])));
    }
}

TEST(GeneralizedCrossEntropy, KerasSpecialValues) {
  // p = 0: loss 1/q, gradient -inf at the label and NaN (0 * inf) off it, as Keras on torch; an
  // inf probability off the label makes p NaN (Keras' sum of x * onehot).
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> x{0.0, 0.5, 0.5, 0.2, inf, 0.8};
  const std::vector<std::int64_t> y{0, 0};
  std::vector<double> out(2), g(6);
  losskit::categorical_generalized_cross_entropy_forward_backward(
      ConstView<double>(x.data(), {2, 3}), ConstView<std::int64_t>(y.data(), {2}), TensorView<double>(out.data(), {2}),
      TensorView<double>(g.data(), {2, 3}), {.q = 0.5, .reduction = Reduction::None});
  EXPECT_EQ(out[0], 2.0);
  EXPECT_EQ(g[0], -inf);
  EXPECT_TRUE(std::isnan(g[1]) && std::isnan(g[2]));
  EXPECT_TRUE(std::isnan(out[1]));
}

TEST(GeneralizedCrossEntropy, BadInputsTable) {
  using V = ConstView<double>;
  using O = TensorView<double>;
  std::vector<double> x(12, 0.25), out(12), gi(12);
  const std::vector<std::int64_t> y{0, 4, 1}, ok{0, 1, 2};
  const std::string fn = "categorical_generalized_cross_entropy: ";
  struct Bad {
    std::string name;
    std::function<void()> call;
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Bad> table{
      {"q = 1", [&] { losskit::categorical_generalized_cross_entropy(V(x.data(), {3, 4}), ConstView<std::int64_t>(ok.data(), {3}), O(out.data(), {}), {.q = 1.0}); },
       ErrorKind::Value, fn + "q = 1 is outside (0, 1)"},
      {"q = 0", [&] { losskit::categorical_generalized_cross_entropy_forward_backward(V(x.data(), {3, 4}), ConstView<std::int64_t>(ok.data(), {3}), O(out.data(), {}), O(gi.data(), {3, 4}), {.q = 0.0}); },
       ErrorKind::Value, fn + "q = 0 is outside (0, 1)"},
      {"label out of range", [&] { losskit::categorical_generalized_cross_entropy(V(x.data(), {3, 4}), ConstView<std::int64_t>(y.data(), {3}), O(out.data(), {})); },
       ErrorKind::Index, fn + "target[1] = 4 is outside [0, 4)"},
  };
  for (const Bad& b : table) {
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.message, {&out, &gi}, -3.5)) << b.name;
    EXPECT_EQ(message_of(b.call).substr(0, b.message.size()), b.message) << b.name;
  }
}
