// generalized_kl_divergence (optax.losses.generalized_kl_divergence): values against optax's
// formula in float64 for every reduction, with and without `where`, float64 finite differences,
// the four calls agreeing, optax's special values (t = 0, x = -inf), bad inputs. Python tests
// compare with optax itself on JAX (python/tests/test_distribution.py).
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
using losskit::GeneralizedKLOptions;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using lktest::Rng;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// optax's per-row losses: sum t (where(t == 0, 0, log t) - x) + sum (exp(x) - t) over the last
/// dim, over the entries where `where` is nonzero.
std::vector<double> optax_rows(const std::vector<double>& x, const std::vector<double>& t, std::int64_t C,
                               const std::vector<double>& where) {
  std::vector<double> rows;
  for (std::size_t r = 0; r * static_cast<std::size_t>(C) < x.size(); ++r) {
    double kl = 0, mass = 0;
    for (std::int64_t c = 0; c < C; ++c) {
      const std::size_t i = r * static_cast<std::size_t>(C) + static_cast<std::size_t>(c);
      if (!where.empty() && where[i] == 0) continue;
      kl += t[i] * ((t[i] == 0 ? 0.0 : std::log(t[i])) - x[i]);
      mass += std::exp(x[i]) - t[i];
    }
    rows.push_back(kl + mass);
  }
  return rows;
}

double reduce(const std::vector<double>& rows, Reduction r) {
  double s = 0;
  for (double v : rows) s += v;
  return r == Reduction::Sum ? s : s / static_cast<double>(rows.size());
}

bool close(double a, double b, double rtol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b || std::fabs(a - b) <= rtol * std::max(std::fabs(a), std::fabs(b)) + 1e-300;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const losskit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(GeneralizedKL, MatchesOptaxFormulaAndFiniteDifferences) {
  Rng rng(501);
  for (const Shape& s : std::vector<Shape>{{5}, {3, 4}, {2, 3, 6}})
    for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
      for (int masked = 0; masked < 2; ++masked) {
        SCOPED_TRACE("shape " + s.str() + " reduction " + std::string(losskit::to_string(r)) + (masked ? " where" : ""));
        const auto n = static_cast<std::size_t>(s.numel());
        const std::int64_t C = s[s.ndim() - 1];
        const auto x = rng.normal(n, -1, 1);
        auto t = rng.uniform(n, 0.05, 2.0);  // unnormalized
        t[1] = 0.0;                           // a zero target: t log t read as 0
        std::vector<double> where;
        if (masked) {
          where = rng.uniform(n, 0, 1);
          for (double& w : where) w = w < 0.3 ? 0.0 : 1.0;
        }
        GeneralizedKLOptions<double> o{.reduction = r};
        const Shape ls(s.dims().first(static_cast<std::size_t>(s.ndim() - 1)));
        if (masked) o.where = ConstView<double>(where.data(), s);
        const auto rows = optax_rows(x, t, C, where);
        const auto v = losskit::generalized_kl_divergence(ConstView<double>(x.data(), s), ConstView<double>(t.data(), s), o);
        if (r == Reduction::None) {
          ASSERT_EQ(v.shape(), ls);
          for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_TRUE(close(v[static_cast<std::int64_t>(i)], rows[i], 1e-13));
        } else {
          EXPECT_TRUE(close(v.item(), reduce(rows, r), 1e-13));
        }
        // The four calls agree, float32 is close, and the gradient matches finite differences.
        const auto up = rng.uniform(r == Reduction::None ? rows.size() : 1, -2, 2);
        const Shape os = r == Reduction::None ? ls : Shape{};
        std::vector<double> gi(n, -7), fgi(n, -7), fo(static_cast<std::size_t>(os.numel()), -7), ogi(n, -7);
        losskit::generalized_kl_divergence_backward(ConstView<double>(up.data(), os), ConstView<double>(x.data(), s),
                                                    ConstView<double>(t.data(), s), TensorView<double>(gi.data(), s), o);
        losskit::generalized_kl_divergence_forward_backward(ConstView<double>(x.data(), s), ConstView<double>(t.data(), s),
                                                            TensorView<double>(fo.data(), os),
                                                            TensorView<double>(fgi.data(), s), o);
        const std::vector<double> ones(fo.size(), 1.0);
        losskit::generalized_kl_divergence_backward(ConstView<double>(ones.data(), os), ConstView<double>(x.data(), s),
                                                    ConstView<double>(t.data(), s), TensorView<double>(ogi.data(), s), o);
        EXPECT_TRUE(fgi == ogi);
        for (std::size_t i = 0; i < fo.size(); ++i) EXPECT_EQ(fo[i], v[static_cast<std::int64_t>(i)]);
        auto value = [&](const std::vector<double>& xs) {
          const auto l = losskit::generalized_kl_divergence(ConstView<double>(xs.data(), s), ConstView<double>(t.data(), s), o);
          double acc = 0;
          for (std::int64_t i = 0; i < l.numel(); ++i) acc += up[static_cast<std::size_t>(i)] * l[i];
          return acc;
        };
        EXPECT_TRUE(lktest::check_gradient(value, x, gi));
        const auto xf = lktest::cast<float>(x), tf = lktest::cast<float>(t), wf = lktest::cast<float>(where);
        GeneralizedKLOptions<float> of{.reduction = r};
        if (masked) of.where = ConstView<float>(wf.data(), s);
        const auto vf = losskit::generalized_kl_divergence(ConstView<float>(xf.data(), s), ConstView<float>(tf.data(), s), of);
        for (std::int64_t i = 0; i < vf.numel(); ++i) EXPECT_TRUE(close(vf[i], v[i], 1e-5));
      }
}

TEST(GeneralizedKL, OptaxSpecialValuesAndMask) {
  // t = 0: the entry is exp(x) (t log t read as 0); t = 0 against x = -inf is 0 * inf = NaN in
  // optax; a masked entry is never read (a NaN there does not count).
  const std::vector<double> x{std::log(0.5), -1.0, -kInf, 0.0}, t{0.0, 0.0, 0.0, std::nan("")};
  std::vector<double> out(4), g(4);
  const GeneralizedKLOptions<double> none{.reduction = Reduction::None};
  losskit::generalized_kl_divergence_forward_backward(ConstView<double>(x.data(), {4, 1}), ConstView<double>(t.data(), {4, 1}),
                                                      TensorView<double>(out.data(), {4}), TensorView<double>(g.data(), {4, 1}),
                                                      none);
  EXPECT_NEAR(out[0], 0.5, 1e-15);
  EXPECT_NEAR(out[1], std::exp(-1.0), 1e-15);
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_TRUE(std::isnan(out[3]));
  EXPECT_NEAR(g[0], 0.5, 1e-15);
  EXPECT_EQ(g[2], 0.0);  // JAX: exp(-inf) - 0
  const std::vector<double> w{1, 1, 0, 0};
  const GeneralizedKLOptions<double> masked{.reduction = Reduction::Sum, .where = ConstView<double>(w.data(), {4, 1})};
  const auto v = losskit::generalized_kl_divergence(ConstView<double>(x.data(), {4, 1}), ConstView<double>(t.data(), {4, 1}), masked);
  EXPECT_NEAR(v.item(), 0.5 + std::exp(-1.0), 1e-15);
  // Empty rows: 'mean' of no row is NaN, 'sum' 0 (as the other row losses).
  const auto e = losskit::generalized_kl_divergence(ConstView<double>(x.data(), {0, 3}), ConstView<double>(t.data(), {0, 3}));
  EXPECT_TRUE(std::isnan(e.item()));
}

TEST(GeneralizedKL, BadInputsTable) {
  using V = ConstView<double>;
  using O = TensorView<double>;
  std::vector<double> x(12, -1.0), t(12, 0.5), w(12, 1.0), out(12), gi(12);
  const V xin(x.data(), {3, 4}), tin(t.data(), {3, 4});
  const std::string fn = "generalized_kl_divergence: ";
  struct Bad {
    std::string name;
    std::function<void()> call;
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Bad> table{
      {"shape mismatch", [&] { losskit::generalized_kl_divergence(xin, V(t.data(), {4, 3}), O(out.data(), {})); },
       ErrorKind::Shape, fn + "input and target must have the same shape (got input: [3, 4], target: [4, 3])"},
      {"where shape",
       [&] { losskit::generalized_kl_divergence(xin, tin, O(out.data(), {}), {.where = V(w.data(), {4, 3})}); },
       ErrorKind::Shape, fn + "input and where must have the same shape"},
      {"0-d input", [&] { losskit::generalized_kl_divergence(V(x.data(), {}), V(t.data(), {}), O(out.data(), {})); },
       ErrorKind::Shape, fn + "input must have at least 1 dim"},
      {"out shape (none)",
       [&] { losskit::generalized_kl_divergence(xin, tin, O(out.data(), {4}), {.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "out has shape [4], expected [3]"},
      {"batchmean", [&] { losskit::generalized_kl_divergence(xin, tin, O(out.data(), {}), {.reduction = Reduction::BatchMean}); },
       ErrorKind::Value, fn + "reduction = 'batchmean'"},
      {"grad_input is input",
       [&] { losskit::generalized_kl_divergence_forward_backward(xin, tin, O(out.data(), {}), O(x.data(), {3, 4})); },
       ErrorKind::Runtime, fn + "grad_input overlaps input in memory; outputs must not alias inputs"},
  };
  for (const Bad& b : table) {
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.message, {&out, &gi}, -3.5)) << b.name;
    EXPECT_EQ(message_of(b.call).substr(0, b.message.size()), b.message) << b.name;
  }
}
