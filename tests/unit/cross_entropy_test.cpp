// cross_entropy (class-id and probability targets): the notebook numbers, a direct formula as
// reference for every option, float64 finite-difference gradients, the four call forms
// agreeing, extreme inputs, bad inputs, in-place gradients and thread-count determinism.
// Parity with libtorch lives in tests/torch/seed_torch_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <losskit/losskit.hpp>

#include "support/testing.hpp"

using losskit::ConstView;
using losskit::CrossEntropyOptions;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using lktest::Rng;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ------------------------------------------------------------------------------ helpers -----

/// N, C, D of a contiguous input shape (class dim 1, or 0 for 1-D).
struct NCDims {
  std::int64_t N = 1, C = 1, D = 1;
};
NCDims dims_of(const Shape& s) {
  NCDims r;
  if (s.ndim() == 1) {
    r.C = s[0];
    return r;
  }
  r.N = s[0];
  r.C = s[1];
  for (int k = 2; k < s.ndim(); ++k) r.D *= s[k];
  return r;
}
Shape loss_shape_of(const Shape& s) {
  Shape r;
  for (int k = 0; k < s.ndim(); ++k)
    if (k != (s.ndim() == 1 ? 0 : 1)) r.push_back(s[k]);
  return r;
}

/// One option combination.
struct Case {
  Shape shape;
  std::vector<double> weight;  // empty: none
  std::int64_t ignore = -100;
  double smoothing = 0;
  Reduction reduction = Reduction::Mean;
  std::string str() const {
    return "shape " + shape.str() + (weight.empty() ? "" : " weighted") + " ignore_index " + std::to_string(ignore) +
           " smoothing " + std::to_string(smoothing) + " reduction " + std::string(losskit::to_string(reduction));
  }
};

template <class T>
CrossEntropyOptions<T> opts_of(const Case& c, const std::vector<T>& w) {
  return {.weight = w, .ignore_index = c.ignore, .reduction = c.reduction, .label_smoothing = c.smoothing};
}

/// Log-softmax of row (n, d) of a contiguous (N, C, D) array.
std::vector<double> log_softmax_row(const std::vector<double>& x, const NCDims& g, std::int64_t n, std::int64_t d) {
  std::vector<double> r(static_cast<std::size_t>(g.C));
  double m = -kInf;
  for (std::int64_t c = 0; c < g.C; ++c) m = std::max(m, x[static_cast<std::size_t>((n * g.C + c) * g.D + d)]);
  double s = 0;
  for (std::int64_t c = 0; c < g.C; ++c) s += std::exp(x[static_cast<std::size_t>((n * g.C + c) * g.D + d)] - m);
  for (std::int64_t c = 0; c < g.C; ++c)
    r[static_cast<std::size_t>(c)] = x[static_cast<std::size_t>((n * g.C + c) * g.D + d)] - m - std::log(s);
  return r;
}

/// The documented formula, class-id targets: per-element losses (None) or the reduced value.
std::vector<double> reference_ids(const std::vector<double>& x, const std::vector<std::int64_t>& y, const Case& c) {
  const NCDims g = dims_of(c.shape);
  std::vector<double> per;
  double sum = 0, denom = 0;
  const double e = c.smoothing;
  auto w = [&](std::int64_t k) { return c.weight.empty() ? 1.0 : c.weight[static_cast<std::size_t>(k)]; };
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t d = 0; d < g.D; ++d) {
      const std::int64_t t = y[static_cast<std::size_t>(n * g.D + d)];
      if (t == c.ignore) {
        per.push_back(0);
        continue;
      }
      const auto lp = log_softmax_row(x, g, n, d);
      double li = (1 - e) * (-w(t) * lp[static_cast<std::size_t>(t)]);
      if (e > 0) {
        double smooth = 0;
        for (std::int64_t k = 0; k < g.C; ++k) smooth -= w(k) * lp[static_cast<std::size_t>(k)];
        li += e / static_cast<double>(g.C) * smooth;
      }
      per.push_back(li);
      sum += li;
      denom += w(t);
    }
  if (c.reduction == Reduction::None) return per;
  return {c.reduction == Reduction::Sum ? sum : sum / denom};
}

/// The documented formula, probability targets.
std::vector<double> reference_probs(const std::vector<double>& x, const std::vector<double>& t, const Case& c) {
  const NCDims g = dims_of(c.shape);
  std::vector<double> per;
  double sum = 0;
  const double e = c.smoothing;
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t d = 0; d < g.D; ++d) {
      const auto lp = log_softmax_row(x, g, n, d);
      double li = 0;
      for (std::int64_t k = 0; k < g.C; ++k) {
        const double tk = (1 - e) * t[static_cast<std::size_t>((n * g.C + k) * g.D + d)] + e / static_cast<double>(g.C);
        const double a = (c.weight.empty() ? 1.0 : c.weight[static_cast<std::size_t>(k)]) * tk;
        if (a != 0) li -= a * lp[static_cast<std::size_t>(k)];
      }
      per.push_back(li);
      sum += li;
    }
  if (c.reduction == Reduction::None) return per;
  return {c.reduction == Reduction::Sum ? sum : sum / static_cast<double>(g.N * g.D)};
}

/// Compares two arrays elementwise (NaN matches NaN, inf matches the same inf).
::testing::AssertionResult close(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                                 double atol = 0) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    if (std::isnan(a) && std::isnan(b)) continue;
    if (a == b) continue;
    if (!(std::fabs(a - b) <= atol + rtol * std::max(std::fabs(a), std::fabs(b))))
      return ::testing::AssertionFailure() << "at " << i << ": " << a << " vs " << b;
  }
  return ::testing::AssertionSuccess();
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

/// Runs the four calls of a target kind in T and checks they agree; returns (value, gradient
/// with upstream `up` (scalar for Mean/Sum, per-element for None)).
template <class T, class TT>
std::pair<std::vector<double>, std::vector<double>> run_all(const std::vector<double>& xd, const std::vector<TT>& y,
                                                            const Shape& y_shape, const Case& c,
                                                            const std::vector<double>& up) {
  const auto x = lktest::cast<T>(xd);
  const auto w = lktest::cast<T>(c.weight);
  const auto o = opts_of<T>(c, w);
  const Shape ls = loss_shape_of(c.shape);
  const Shape out_shape = c.reduction == Reduction::None ? ls : Shape{};
  const ConstView<T> xin(x.data(), c.shape);
  const ConstView<TT> yin(y.data(), y_shape);
  // forward into a buffer
  std::vector<T> out(static_cast<std::size_t>(out_shape.numel()), T(-7));
  losskit::cross_entropy(xin, yin, TensorView<T>(out.data(), out_shape), o);
  // the Tensor overload
  const auto t = losskit::cross_entropy(xin, yin, o);
  EXPECT_EQ(t.shape(), out_shape) << c.str();
  EXPECT_TRUE(close(to_double(t.values()), to_double(out), 0)) << c.str();
  // backward
  const auto upT = lktest::cast<T>(up);
  std::vector<T> grad(x.size(), T(-7));
  losskit::cross_entropy_backward(ConstView<T>(upT.data(), out_shape), xin, yin,
                                  TensorView<T>(grad.data(), c.shape), o);
  // fused: value identical to forward, gradient identical to backward with an upstream of 1.
  std::vector<T> fout(out.size(), T(-7)), fgrad(x.size(), T(-7)), gone(x.size(), T(-7));
  losskit::cross_entropy_forward_backward(xin, yin, TensorView<T>(fout.data(), out_shape),
                                          TensorView<T>(fgrad.data(), c.shape), o);
  const std::vector<T> ones(out.size(), T(1));
  losskit::cross_entropy_backward(ConstView<T>(ones.data(), out_shape), xin, yin,
                                  TensorView<T>(gone.data(), c.shape), o);
  EXPECT_TRUE(close(to_double(fout), to_double(out), 0)) << "fused value, " << c.str();
  EXPECT_TRUE(close(to_double(fgrad), to_double(gone), 0)) << "fused gradient, " << c.str();
  return {to_double(out), to_double(grad)};
}

/// Every shape the tests sweep: (C), (N, C), (N, C, d1..dK) with K up to 3.
const std::vector<Shape> kShapes{{5}, {3, 4}, {2, 3, 4}, {2, 3, 2, 2}, {2, 2, 1, 2, 3}};

/// Every option combination of class-id targets on one shape, with targets to match.
struct IdCase {
  Case c;
  std::vector<std::int64_t> y;
};
std::vector<IdCase> id_cases(Rng& rng) {
  std::vector<IdCase> all;
  for (const Shape& s : kShapes) {
    const NCDims g = dims_of(s);
    const auto n = static_cast<std::size_t>(loss_shape_of(s).numel());
    for (bool weighted : {false, true})
      for (int ig = 0; ig < 4; ++ig)  // none ignored, some (-100), some (ignore_index 1 in range), all
        for (double e : {0.0, 0.2})
          for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
            IdCase k;
            k.c.shape = s;
            if (weighted) k.c.weight = rng.uniform(static_cast<std::size_t>(g.C), 0.2, 2.0);
            k.c.smoothing = e;
            k.c.reduction = r;
            k.c.ignore = ig == 2 ? 1 : -100;
            k.y = rng.classes(n, g.C, ig == 1 ? 0.3 : 0.0);
            if (ig == 1 && n > 1) k.y[0] = -100;  // at least one ignored
            if (ig == 3) std::fill(k.y.begin(), k.y.end(), -100);
            all.push_back(std::move(k));
          }
  }
  return all;
}

bool all_ignored(const std::vector<std::int64_t>& y, std::int64_t ig) {
  return std::all_of(y.begin(), y.end(), [&](std::int64_t v) { return v == ig; });
}

}  // namespace

// ------------------------------------------------------------------------ notebook values -----

TEST(CrossEntropy, NotebookValue) {
  // The seed notebook: the probabilities fed to cross_entropy as if they were logits.
  const std::vector<double> logits{0.1, 0.9, 0.2, 0.8};
  const std::vector<std::int64_t> target{0, 1};
  const auto d = losskit::cross_entropy(ConstView<double>(logits.data(), {2, 2}),
                                        ConstView<std::int64_t>(target.data(), {2}));
  EXPECT_NEAR(d.item(), 0.804294, 1e-6);
  const auto lf = lktest::cast<float>(logits);
  const auto f = losskit::cross_entropy(ConstView<float>(lf.data(), {2, 2}), ConstView<std::int64_t>(target.data(), {2}));
  EXPECT_NEAR(f.item(), 0.804294, 1e-6);
  // Per element: log(1 + e^0.8) and log(1 + e^-0.6).
  const auto per = losskit::cross_entropy(ConstView<double>(logits.data(), {2, 2}),
                                          ConstView<std::int64_t>(target.data(), {2}),
                                          {.reduction = Reduction::None});
  ASSERT_EQ(per.shape(), (Shape{2}));
  EXPECT_NEAR(per[0], std::log1p(std::exp(0.8)), 1e-15);
  EXPECT_NEAR(per[1], std::log1p(std::exp(-0.6)), 1e-15);
  // The same numbers as one-hot probability targets give the same loss.
  const std::vector<double> onehot{1, 0, 0, 1};
  const auto p = losskit::cross_entropy(ConstView<double>(logits.data(), {2, 2}), ConstView<double>(onehot.data(), {2, 2}));
  EXPECT_NEAR(p.item(), 0.804294, 1e-6);
}

// ------------------------------------------------------------- formula, every option -----

TEST(CrossEntropy, ClassIdsMatchFormulaEveryOption) {
  Rng rng(11);
  for (const auto& k : id_cases(rng)) {
    const auto x = rng.normal(static_cast<std::size_t>(k.c.shape.numel()), 0, 2);
    const Shape ls = loss_shape_of(k.c.shape);
    const std::vector<double> up(k.c.reduction == Reduction::None ? static_cast<std::size_t>(ls.numel()) : 1, 1.0);
    const auto want = reference_ids(x, k.y, k.c);
    const auto [vd, gd] = run_all<double>(x, k.y, ls, k.c, up);
    EXPECT_TRUE(close(vd, want, 1e-12, 1e-14)) << k.c.str();
    // float: same numbers rounded to float.
    const auto xf = to_double(lktest::cast<float>(x));
    Case cf = k.c;
    cf.weight = to_double(lktest::cast<float>(k.c.weight));
    const auto [vf, gf] = run_all<float>(xf, k.y, ls, cf, up);
    EXPECT_TRUE(close(vf, reference_ids(xf, k.y, cf), 2e-6, 1e-6)) << "float " << k.c.str();
    EXPECT_TRUE(close(gf, gd, 1e-4, 1e-6)) << "float gradient " << k.c.str();
    if (all_ignored(k.y, k.c.ignore)) {
      // PyTorch: Mean of nothing is NaN, Sum is 0, None is all zeros; the gradient is 0.
      for (double v : vd) EXPECT_TRUE(k.c.reduction == Reduction::Mean ? std::isnan(v) : v == 0) << k.c.str();
      for (double g : gd) EXPECT_EQ(g, 0.0) << k.c.str();
    }
  }
}

TEST(CrossEntropy, ProbabilitiesMatchFormulaEveryOption) {
  Rng rng(12);
  for (const Shape& s : kShapes)
    for (bool weighted : {false, true})
      for (double e : {0.0, 0.3})
        for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
          Case c{.shape = s, .smoothing = e, .reduction = r};
          const NCDims g = dims_of(s);
          if (weighted) c.weight = rng.uniform(static_cast<std::size_t>(g.C), 0.2, 2.0);
          const auto x = rng.normal(static_cast<std::size_t>(s.numel()), 0, 2);
          // Probabilities along the class dim (not row-major rows): normalise each (n, d).
          auto t = rng.uniform(static_cast<std::size_t>(s.numel()), 0, 1);
          t[0] = 0;  // a zero mass
          for (std::int64_t n = 0; n < g.N; ++n)
            for (std::int64_t d = 0; d < g.D; ++d) {
              double z = 0;
              for (std::int64_t k = 0; k < g.C; ++k) z += t[static_cast<std::size_t>((n * g.C + k) * g.D + d)];
              for (std::int64_t k = 0; k < g.C; ++k) t[static_cast<std::size_t>((n * g.C + k) * g.D + d)] /= z;
            }
          const Shape ls = loss_shape_of(s);
          const std::vector<double> up(r == Reduction::None ? static_cast<std::size_t>(ls.numel()) : 1, 1.0);
          const auto [vd, gd] = run_all<double>(x, t, s, c, up);
          EXPECT_TRUE(close(vd, reference_probs(x, t, c), 1e-12, 1e-14)) << c.str();
          const auto xf = to_double(lktest::cast<float>(x)), tf = to_double(lktest::cast<float>(t));
          Case cf = c;
          cf.weight = to_double(lktest::cast<float>(c.weight));
          const auto [vf, gf] = run_all<float>(xf, lktest::cast<float>(t), s, cf, up);
          EXPECT_TRUE(close(vf, reference_probs(xf, tf, cf), 2e-6, 1e-6)) << "float " << c.str();
          EXPECT_TRUE(close(gf, gd, 1e-4, 1e-6)) << "float gradient " << c.str();
        }
}

// ------------------------------------------------------- float64 finite differences -----

TEST(CrossEntropy, ClassIdsGradientFiniteDifferences) {
  Rng rng(21);
  for (const auto& k : id_cases(rng)) {
    const Case& c = k.c;
    if (c.reduction == Reduction::Mean && all_ignored(k.y, c.ignore)) continue;  // NaN value (checked above)
    const Shape ls = loss_shape_of(c.shape);
    const auto x = rng.normal(static_cast<std::size_t>(c.shape.numel()), 0, 1.5);
    // A random upstream gradient: a scalar, or a per-element vector for None.
    const auto up = rng.uniform(c.reduction == Reduction::None ? static_cast<std::size_t>(ls.numel()) : 1, -2, 2);
    const auto grad = run_all<double>(x, k.y, ls, c, up).second;
    auto f = [&](const std::vector<double>& xs) {
      const auto v = losskit::cross_entropy(ConstView<double>(xs.data(), c.shape),
                                            ConstView<std::int64_t>(k.y.data(), ls), opts_of<double>(c, c.weight));
      double s = 0;
      for (std::int64_t i = 0; i < v.numel(); ++i) s += up[static_cast<std::size_t>(i)] * v[i];
      return s;
    };
    EXPECT_TRUE(lktest::check_gradient(f, x, grad)) << c.str();
  }
}

TEST(CrossEntropy, ProbabilitiesGradientFiniteDifferences) {
  Rng rng(22);
  for (const Shape& s : kShapes)
    for (bool weighted : {false, true})
      for (double e : {0.0, 0.25})
        for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
          Case c{.shape = s, .smoothing = e, .reduction = r};
          const NCDims g = dims_of(s);
          if (weighted) c.weight = rng.uniform(static_cast<std::size_t>(g.C), 0.2, 2.0);
          const Shape ls = loss_shape_of(s);
          const auto x = rng.normal(static_cast<std::size_t>(s.numel()), 0, 1.5);
          // Soft targets that need not sum to 1 (the formula does not assume it).
          const auto t = rng.uniform(static_cast<std::size_t>(s.numel()), 0, 1);
          const auto up = rng.uniform(r == Reduction::None ? static_cast<std::size_t>(ls.numel()) : 1, -2, 2);
          const auto grad = run_all<double>(x, t, s, c, up).second;
          auto f = [&](const std::vector<double>& xs) {
            const auto v = losskit::cross_entropy(ConstView<double>(xs.data(), s), ConstView<double>(t.data(), s),
                                                  opts_of<double>(c, c.weight));
            double acc = 0;
            for (std::int64_t i = 0; i < v.numel(); ++i) acc += up[static_cast<std::size_t>(i)] * v[i];
            return acc;
          };
          EXPECT_TRUE(lktest::check_gradient(f, x, grad)) << c.str();
        }
}

// -------------------------------------------------------------------- extreme inputs -----

TEST(CrossEntropy, HugeLogitsStayFinite) {
  for (double big : {1e4, -1e4}) {
    const std::vector<double> x{big, -big, 0, big, 0.5 * big, -big};
    const std::vector<std::int64_t> y{1, 2};
    const std::vector<double> t{0, 1, 0, 0.5, 0, 0.5};
    for (double e : {0.0, 0.1}) {
      Case c{.shape = {2, 3}, .smoothing = e, .reduction = Reduction::Sum};
      const auto [v, g] = run_all<double>(x, y, {2}, c, {1.0});
      const auto [vf, gf] = run_all<float>(x, y, {2}, c, {1.0});
      const auto [vp, gp] = run_all<double>(x, t, {2, 3}, c, {1.0});
      for (const auto* arr : {&v, &g, &vf, &gf, &vp, &gp})
        for (double a : *arr) EXPECT_TRUE(std::isfinite(a)) << big << " " << e;
      EXPECT_TRUE(close(v, reference_ids(x, y, c), 1e-12)) << big;
      EXPECT_TRUE(close(vp, reference_probs(x, t, c), 1e-12)) << big;
      EXPECT_TRUE(close(vf, v, 1e-6)) << big;
    }
  }
  // Row 0 with target 1: loss = 2e4 exactly (class 0 dominates).
  const std::vector<double> x{1e4, -1e4};
  const std::vector<std::int64_t> y{1};
  const auto v = losskit::cross_entropy(ConstView<double>(x.data(), {1, 2}), ConstView<std::int64_t>(y.data(), {1}));
  EXPECT_DOUBLE_EQ(v.item(), 2e4);
}

// Logits so large that m + log S rounds to m (1e30: ulp about 1.4e14 in float64): log p must
// still be (x - m) - log S, as PyTorch's log_softmax, so two tied top classes give log 2 and
// gradients -1/2, +1/2 (x - lse would give a loss of 0 and p = 1 for both). Every path: the
// scalar float64 row, the float32 pipeline (C = 40), short rows one at a time (C = 3) and in
// groups (20 rows), probability targets, float and double.
TEST(CrossEntropy, HugeLogitsKeepLogSumExp) {
  for (const std::int64_t C : {3, 40}) {
    for (const std::int64_t N : {1, 20}) {
      SCOPED_TRACE("N = " + std::to_string(N) + ", C = " + std::to_string(C));
      std::vector<double> x(static_cast<std::size_t>(N * C), 0.0), t(x.size(), 0.0);
      std::vector<std::int64_t> y(static_cast<std::size_t>(N), 0);
      for (std::int64_t n = 0; n < N; ++n) {
        x[static_cast<std::size_t>(n * C)] = x[static_cast<std::size_t>(n * C + 1)] = 1e30;
        t[static_cast<std::size_t>(n * C)] = 1.0;
      }
      const std::vector<float> xf(x.begin(), x.end()), tf(t.begin(), t.end());
      auto check = [&](auto tag, const auto& xs, const auto& tgt, const Shape& tshape) {
        using T = decltype(tag);
        std::vector<T> out(1), g(xs.size());
        losskit::cross_entropy_forward_backward(ConstView<T>(xs.data(), {N, C}), ConstView<std::remove_cvref_t<decltype(tgt[0])>>(tgt.data(), tshape),
                                                TensorView<T>(out.data(), {}), TensorView<T>(g.data(), {N, C}),
                                                CrossEntropyOptions<T>{.reduction = Reduction::Sum});
        EXPECT_NEAR(out[0], static_cast<double>(N) * std::log(2.0), 1e-6 * static_cast<double>(N));
        for (std::int64_t n = 0; n < N; ++n) {
          EXPECT_NEAR(g[static_cast<std::size_t>(n * C)], -0.5, 1e-6) << n;
          EXPECT_NEAR(g[static_cast<std::size_t>(n * C + 1)], 0.5, 1e-6) << n;
          EXPECT_EQ(g[static_cast<std::size_t>(n * C + 2)], T(0)) << n;
        }
      };
      check(double{}, x, y, {N});
      check(float{}, xf, y, {N});
      check(double{}, x, t, {N, C});
      check(float{}, xf, tf, {N, C});
    }
  }
  // Spatial (N, C, D): classes 0 and 1 at 1e30 in every position, target 0 everywhere.
  const std::int64_t D = 37;
  std::vector<double> xs(3 * D, 0.0);
  for (std::int64_t d = 0; d < 2 * D; ++d) xs[static_cast<std::size_t>(d)] = 1e30;
  const std::vector<float> xsf(xs.begin(), xs.end());
  const std::vector<std::int64_t> ys(static_cast<std::size_t>(D), 0);
  auto spatial = [&](auto tag, const auto& xv) {
    using T = decltype(tag);
    std::vector<T> out(1), g(xv.size());
    losskit::cross_entropy_forward_backward(ConstView<T>(xv.data(), {1, 3, D}), ConstView<std::int64_t>(ys.data(), {1, D}),
                                            TensorView<T>(out.data(), {}), TensorView<T>(g.data(), {1, 3, D}),
                                            CrossEntropyOptions<T>{.reduction = Reduction::Sum});
    EXPECT_NEAR(out[0], static_cast<double>(D) * std::log(2.0), 1e-5);
    for (std::int64_t d = 0; d < D; ++d) {
      EXPECT_NEAR(g[static_cast<std::size_t>(d)], -0.5, 1e-6) << d;
      EXPECT_NEAR(g[static_cast<std::size_t>(D + d)], 0.5, 1e-6) << d;
    }
  };
  spatial(double{}, xs);
  spatial(float{}, xsf);
}

TEST(CrossEntropy, MinusInfinityMaskedClasses) {
  // Classes 1 and 3 are masked (-inf); the targets are not.
  const std::vector<double> x{0.5, -kInf, 1.0, -kInf, -0.3, -kInf, 2.0, -kInf};
  const std::vector<std::int64_t> y{0, 2};
  for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
    for (bool weighted : {false, true}) {
      Case c{.shape = {2, 4}, .reduction = r};
      if (weighted) c.weight = {1.0, 2.0, 0.5, 3.0};
      const std::vector<double> up(r == Reduction::None ? 2 : 1, 1.0);
      for (int dt = 0; dt < 2; ++dt) {
        const auto [v, g] = dt ? run_all<float>(x, y, {2}, c, up) : run_all<double>(x, y, {2}, c, up);
        for (double a : v) EXPECT_TRUE(std::isfinite(a));
        for (double a : g) EXPECT_TRUE(std::isfinite(a));
        EXPECT_TRUE(close(v, reference_ids(x, y, c), dt ? 1e-6 : 1e-12));
        EXPECT_EQ(g[1], 0.0);  // the masked classes get no gradient
        EXPECT_EQ(g[3], 0.0);
      }
      // Probability targets with no mass on the masked classes stay finite too.
      const std::vector<double> t{0.25, 0, 0.75, 0, 1, 0, 0, 0};
      const auto [vp, gp] = run_all<double>(x, t, {2, 4}, c, up);
      for (double a : vp) EXPECT_TRUE(std::isfinite(a));
      for (double a : gp) EXPECT_TRUE(std::isfinite(a));
      EXPECT_TRUE(close(vp, reference_probs(x, t, c), 1e-12));
    }
  // A masked target class has an infinite loss, as in PyTorch.
  const std::vector<std::int64_t> bad{1, 0};
  const auto v = losskit::cross_entropy(ConstView<double>(x.data(), {2, 4}), ConstView<std::int64_t>(bad.data(), {2}));
  EXPECT_EQ(v.item(), kInf);
}

TEST(CrossEntropy, EveryTargetIgnored) {
  const std::vector<double> x{0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  const std::vector<std::int64_t> y{-100, -100};
  for (double e : {0.0, 0.1})
    for (bool weighted : {false, true}) {
      Case c{.shape = {2, 3}, .smoothing = e};
      if (weighted) c.weight = {1, 2, 3};
      for (const Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
        c.reduction = r;
        const std::vector<double> up(r == Reduction::None ? 2 : 1, 1.5);
        const auto [v, g] = run_all<double>(x, y, {2}, c, up);
        if (r == Reduction::Mean) EXPECT_TRUE(std::isnan(v[0]));
        else for (double a : v) EXPECT_EQ(a, 0.0);
        for (double a : g) EXPECT_EQ(a, 0.0);
      }
    }
}

TEST(CrossEntropy, EmptyBatch) {
  const std::vector<double> x;  // (0, 4)
  const std::vector<std::int64_t> y;
  const std::vector<double> t;
  for (const Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    Case c{.shape = {0, 4}, .reduction = r};
    const std::vector<double> up(r == Reduction::None ? 0 : 1, 1.0);
    for (int kind = 0; kind < 2; ++kind) {
      const auto [v, g] = kind ? run_all<double>(x, t, {0, 4}, c, up) : run_all<double>(x, y, {0}, c, up);
      EXPECT_TRUE(g.empty());
      if (r == Reduction::None) EXPECT_TRUE(v.empty());
      else if (r == Reduction::Mean) EXPECT_TRUE(std::isnan(v[0]));
      else EXPECT_EQ(v[0], 0.0);
    }
    // The Tensor overload returns an empty (0)-shaped tensor for None.
    if (r == Reduction::None) {
      const auto tv = losskit::cross_entropy(ConstView<double>(x.data(), {0, 4}), ConstView<std::int64_t>(y.data(), {0}),
                                             {.reduction = r});
      EXPECT_EQ(tv.shape(), (Shape{0}));
      EXPECT_EQ(tv.numel(), 0);
    }
  }
  // Spatial dims with a zero extent: (2, 3, 0).
  const auto v = losskit::cross_entropy(ConstView<double>(nullptr, {2, 3, 0}), ConstView<std::int64_t>(nullptr, {2, 0}),
                                        {.reduction = Reduction::Sum});
  EXPECT_EQ(v.item(), 0.0);
}

TEST(CrossEntropy, SingleClass) {
  // C = 1: log_softmax is 0, so the loss is 0 (smoothing too) and so is the gradient.
  const std::vector<double> x{3.0, -2.0, 7.0};
  const std::vector<std::int64_t> y{0, 0, 0};
  const std::vector<double> t{1, 1, 1};
  for (double e : {0.0, 0.5})
    for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
      Case c{.shape = {3, 1}, .weight = {2.0}, .smoothing = e, .reduction = r};
      const std::vector<double> up(r == Reduction::None ? 3 : 1, 1.0);
      const auto [v, g] = run_all<double>(x, y, {3}, c, up);
      const auto [vp, gp] = run_all<double>(x, t, {3, 1}, c, up);
      for (double a : v) EXPECT_EQ(a, 0.0);
      for (double a : vp) EXPECT_EQ(a, 0.0);
      for (double a : g) EXPECT_EQ(a, 0.0);
      for (double a : gp) EXPECT_EQ(a, 0.0);
    }
}

// -------------------------------------------------------------- non-contiguous views -----

TEST(CrossEntropy, StridedViewsMatchContiguous) {
  Rng rng(31);
  // Transposed (N, C) = (5, 3): stored as a (3, 5) matrix.
  const auto store = rng.normal(15);
  std::vector<double> contig(15);
  for (int n = 0; n < 5; ++n)
    for (int c = 0; c < 3; ++c) contig[static_cast<std::size_t>(n * 3 + c)] = store[static_cast<std::size_t>(c * 5 + n)];
  const auto y = rng.classes(5, 3, 0.2);
  const auto t = rng.simplex(5, 3);
  const ConstView<double> tr(store.data(), {5, 3}, {1, 5});
  for (const Reduction r : {Reduction::None, Reduction::Mean})
    for (double e : {0.0, 0.1}) {
      const CrossEntropyOptions<double> o{.reduction = r, .label_smoothing = e};
      const Shape os = r == Reduction::None ? Shape{5} : Shape{};
      const auto a = losskit::cross_entropy(tr, ConstView<std::int64_t>(y.data(), {5}), o);
      const auto b = losskit::cross_entropy(ConstView<double>(contig.data(), {5, 3}), ConstView<std::int64_t>(y.data(), {5}), o);
      EXPECT_TRUE(close(a.values(), b.values(), 1e-15));
      // A transposed gradient buffer too.
      std::vector<double> gt(15), gc(15), vo(static_cast<std::size_t>(os.numel()));
      losskit::cross_entropy_forward_backward(tr, ConstView<std::int64_t>(y.data(), {5}), TensorView<double>(vo.data(), os),
                                              TensorView<double>(gt.data(), {5, 3}, {1, 5}), o);
      losskit::cross_entropy_forward_backward(ConstView<double>(contig.data(), {5, 3}), ConstView<std::int64_t>(y.data(), {5}),
                                              TensorView<double>(vo.data(), os), TensorView<double>(gc.data(), {5, 3}), o);
      for (int n = 0; n < 5; ++n)
        for (int c = 0; c < 3; ++c)
          EXPECT_NEAR(gt[static_cast<std::size_t>(c * 5 + n)], gc[static_cast<std::size_t>(n * 3 + c)], 1e-15);
      // Probability targets read through a transposed view as well.
      std::vector<double> tstore(15);
      for (int n = 0; n < 5; ++n)
        for (int c = 0; c < 3; ++c) tstore[static_cast<std::size_t>(c * 5 + n)] = t[static_cast<std::size_t>(n * 3 + c)];
      const auto pa = losskit::cross_entropy(tr, ConstView<double>(tstore.data(), {5, 3}, {1, 5}), o);
      const auto pb = losskit::cross_entropy(ConstView<double>(contig.data(), {5, 3}), ConstView<double>(t.data(), {5, 3}), o);
      EXPECT_TRUE(close(pa.values(), pb.values(), 1e-15));
    }
}

// ------------------------------------------------------------------ in-place gradient -----

TEST(CrossEntropy, InplaceGradMatchesOutOfPlace) {
  Rng rng(41);
  for (const Shape& s : {Shape{4, 6}, Shape{2, 3, 2, 2}})
    for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
      for (double e : {0.0, 0.2})
        for (int kind = 0; kind < 2; ++kind) {
          const NCDims g = dims_of(s);
          const Shape ls = loss_shape_of(s);
          const Shape os = r == Reduction::None ? ls : Shape{};
          const auto x = rng.normal(static_cast<std::size_t>(s.numel()));
          const auto y = rng.classes(static_cast<std::size_t>(ls.numel()), g.C, 0.25);
          const auto t = rng.uniform(static_cast<std::size_t>(s.numel()), 0, 1);
          const auto w = rng.uniform(static_cast<std::size_t>(g.C), 0.5, 1.5);
          CrossEntropyOptions<double> o{.weight = w, .reduction = r, .label_smoothing = e};
          std::vector<double> v1(static_cast<std::size_t>(os.numel())), g1(x.size());
          auto call = [&](const std::vector<double>& in, TensorView<double> out, TensorView<double> grad) {
            if (kind == 0)
              losskit::cross_entropy_forward_backward(ConstView<double>(in.data(), s),
                                                      ConstView<std::int64_t>(y.data(), ls), out, grad, o);
            else
              losskit::cross_entropy_forward_backward(ConstView<double>(in.data(), s), ConstView<double>(t.data(), s),
                                                      out, grad, o);
          };
          call(x, TensorView<double>(v1.data(), os), TensorView<double>(g1.data(), s));
          std::vector<double> xin = x, v2(v1.size());
          o.inplace_grad = true;
          call(xin, TensorView<double>(v2.data(), os), TensorView<double>(xin.data(), s));
          EXPECT_EQ(v1, v2);
          EXPECT_EQ(g1, xin) << s.str() << " " << losskit::to_string(r) << " " << e << " kind " << kind;
        }
}

// ----------------------------------------------------------------------- determinism -----

TEST(CrossEntropy, BitwiseIdenticalAcrossThreadCounts) {
  Rng rng(51);
  const std::int64_t N = 8192, C = 16;  // grain 1024 rows: 8 blocks; D adds more rows below
  const Shape s{N, C, 3};
  const auto x = rng.normal(static_cast<std::size_t>(s.numel()), 0, 3);
  const auto y = rng.classes(static_cast<std::size_t>(N * 3), C, 0.1);
  const auto t = rng.uniform(static_cast<std::size_t>(s.numel()), 0, 1);
  const auto w = rng.uniform(C, 0.1, 3.0);
  const int before = losskit::get_num_threads();
  for (int kind = 0; kind < 2; ++kind)
    for (const Reduction r : {Reduction::Mean, Reduction::Sum}) {
      const CrossEntropyOptions<double> o{.weight = w, .reduction = r, .label_smoothing = 0.1};
      std::vector<std::vector<double>> vals, grads;
      for (int nt : {1, 2, 3}) {
        losskit::set_num_threads(nt);
        std::vector<double> v(1), g(x.size());
        if (kind == 0)
          losskit::cross_entropy_forward_backward(ConstView<double>(x.data(), s), ConstView<std::int64_t>(y.data(), {N, 3}),
                                                  TensorView<double>(v.data(), {}), TensorView<double>(g.data(), s), o);
        else
          losskit::cross_entropy_forward_backward(ConstView<double>(x.data(), s), ConstView<double>(t.data(), s),
                                                  TensorView<double>(v.data(), {}), TensorView<double>(g.data(), s), o);
        vals.push_back(v);
        grads.push_back(g);
      }
      for (int i = 1; i < 3; ++i) {
        EXPECT_EQ(std::memcmp(vals[0].data(), vals[static_cast<std::size_t>(i)].data(), sizeof(double)), 0) << kind;
        EXPECT_TRUE(grads[0] == grads[static_cast<std::size_t>(i)]) << kind;
      }
    }
  // float too
  const auto xf = lktest::cast<float>(x);
  std::vector<float> v0;
  for (int nt : {1, 2, 3}) {
    losskit::set_num_threads(nt);
    const auto v = losskit::cross_entropy(ConstView<float>(xf.data(), s), ConstView<std::int64_t>(y.data(), {N, 3}));
    if (v0.empty()) v0 = v.values();
    else EXPECT_EQ(std::memcmp(v0.data(), v.data(), sizeof(float)), 0);
  }
  losskit::set_num_threads(before);
}

TEST(CrossEntropy, StridedClassDimFloatTilesMatchRowsAndThreads) {
  // float32 logits whose class dim is strided (a transposed (N, C) matrix) run in tiles copied
  // to a contiguous buffer: the same values as the contiguous rows (up to the sums' grouping),
  // ignored rows included, and bitwise the same whatever the thread count.
  Rng rng(77);
  const std::int64_t N = 3001, C = 37;  // N not a multiple of the 16-row tile
  const auto store = lktest::cast<float>(rng.normal(static_cast<std::size_t>(N * C), 0, 4));
  std::vector<float> contig(store.size());
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c)
      contig[static_cast<std::size_t>(n * C + c)] = store[static_cast<std::size_t>(c * N + n)];
  const auto y = rng.classes(static_cast<std::size_t>(N), C, 0.1);
  const auto w = lktest::cast<float>(rng.uniform(C, 0.1, 3.0));
  const ConstView<float> tr(store.data(), {N, C}, {1, N});
  const ConstView<std::int64_t> yv(y.data(), {N});
  const int before = losskit::get_num_threads();
  for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    const CrossEntropyOptions<float> o{.weight = w, .reduction = r, .label_smoothing = 0.05};
    const Shape os = r == Reduction::None ? Shape{N} : Shape{};
    std::vector<float> v_ref(static_cast<std::size_t>(os.numel())), g_ref(store.size());
    losskit::cross_entropy_forward_backward(ConstView<float>(contig.data(), {N, C}), yv,
                                            TensorView<float>(v_ref.data(), os), TensorView<float>(g_ref.data(), {N, C}), o);
    std::vector<float> v0, g0;
    for (int nt : {1, 2, 3}) {
      losskit::set_num_threads(nt);
      std::vector<float> v(v_ref.size()), g(store.size());
      losskit::cross_entropy_forward_backward(tr, yv, TensorView<float>(v.data(), os), TensorView<float>(g.data(), {N, C}), o);
      for (std::size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], v_ref[i], 2e-6 * (1 + std::abs(v_ref[i])));
      EXPECT_TRUE(g == g_ref) << "gradient rows differ from the contiguous rows' (nt " << nt << ")";
      if (v0.empty()) {
        v0 = v;
        g0 = g;
      } else {
        EXPECT_EQ(std::memcmp(v0.data(), v.data(), v.size() * sizeof(float)), 0) << nt;
        EXPECT_TRUE(g0 == g) << nt;
      }
    }
  }
  losskit::set_num_threads(before);
}

TEST(CrossEntropy, FewClassesFloatTilesMatchDoubleAndThreads) {
  // float32 rows of 2..16 classes run on class-major tiles (the spatial kernel, lanes along the
  // rows): values and gradients as the float64 path within float32 accuracy, NaN / inf rows as
  // the scalar path, and bitwise the same whatever the thread count.
  Rng rng(78);
  const int before = losskit::get_num_threads();
  for (const std::int64_t C : {2, 10, 16}) {
    const std::int64_t N = 2501;
    auto xd = rng.normal(static_cast<std::size_t>(N * C), 0, 3);
    xd[7 * static_cast<std::size_t>(C)] = std::numeric_limits<double>::infinity();  // row 7: +inf logit
    xd[9 * static_cast<std::size_t>(C) + 1] = std::numeric_limits<double>::quiet_NaN();  // row 9: NaN
    const auto xf = lktest::cast<float>(xd);
    const auto xr = lktest::cast<double>(xf);  // the float inputs, exactly, in double
    const auto y = rng.classes(static_cast<std::size_t>(N), C, 0.1);
    const auto wd = rng.uniform(static_cast<std::size_t>(C), 0.1, 3.0);
    const auto wf = lktest::cast<float>(wd);
    const auto wr = lktest::cast<double>(wf);
    const ConstView<std::int64_t> yv(y.data(), {N});
    for (const Reduction r : {Reduction::None, Reduction::Mean}) {
      const CrossEntropyOptions<float> of{.weight = wf, .reduction = r, .label_smoothing = 0.05};
      const CrossEntropyOptions<double> od{.weight = wr, .reduction = r, .label_smoothing = 0.05};
      const Shape os = r == Reduction::None ? Shape{N} : Shape{};
      std::vector<double> vd(static_cast<std::size_t>(os.numel())), gd(xr.size());
      losskit::cross_entropy_forward_backward(ConstView<double>(xr.data(), {N, C}), yv, TensorView<double>(vd.data(), os),
                                              TensorView<double>(gd.data(), {N, C}), od);
      std::vector<float> v0, g0;
      for (int nt : {1, 2, 3}) {
        losskit::set_num_threads(nt);
        std::vector<float> v(vd.size()), g(xf.size());
        losskit::cross_entropy_forward_backward(ConstView<float>(xf.data(), {N, C}), yv, TensorView<float>(v.data(), os),
                                                TensorView<float>(g.data(), {N, C}), of);
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (std::isnan(vd[i])) EXPECT_TRUE(std::isnan(v[i])) << C << " " << i;
          else EXPECT_NEAR(v[i], vd[i], 2e-6 * (1 + std::abs(vd[i]))) << C << " " << i;
        }
        for (std::size_t i = 0; i < g.size(); ++i) {
          if (std::isnan(gd[i])) EXPECT_TRUE(std::isnan(g[i])) << C << " " << i;
          else EXPECT_NEAR(g[i], gd[i], 2e-6) << C << " " << i;
        }
        if (v0.empty()) {
          v0 = v;
          g0 = g;
        } else {
          EXPECT_EQ(std::memcmp(v0.data(), v.data(), v.size() * sizeof(float)), 0) << C << " nt " << nt;
          EXPECT_EQ(std::memcmp(g0.data(), g.data(), g.size() * sizeof(float)), 0) << C << " nt " << nt;
        }
      }
    }
  }
  losskit::set_num_threads(before);
}

// ------------------------------------------------------------------------ bad inputs -----

namespace {

struct Bad {
  std::string name;
  std::function<void()> call;
  ErrorKind kind;
  std::string message;  // the exact message
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const losskit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(CrossEntropy, BadInputsTable) {
  using V = ConstView<double>;
  using Y = ConstView<std::int64_t>;
  using O = TensorView<double>;
  std::vector<double> x(20, 0.25), t(20, 0.2), x3(2 * 5 * 3, 0.1);
  std::vector<std::int64_t> y{0, 1, 2, 3}, y_bad{0, 1, 2, 7}, y_neg{0, -1, 2, 3}, y3(6, 1);
  y3[5] = 5;  // (1, 2)
  std::vector<double> out(4), grad(20), up(4, 1.0);
  const V xin(x.data(), {4, 5}), tin(t.data(), {4, 5});
  const Y yin(y.data(), {4});
  const O o0(out.data(), {}), g0(grad.data(), {4, 5});
  const std::vector<double> w3{1, 2, 3};
  using CE = CrossEntropyOptions<double>;
  const std::string fn = "cross_entropy: ";
  const std::vector<Bad> table{
      {"target shape", [&] { losskit::cross_entropy(xin, Y(y.data(), {3}), o0); }, ErrorKind::Shape,
       fn + "expected target of shape [4] for input of shape [4, 5], got [3]"},
      {"target 2-D for 2-D input", [&] { losskit::cross_entropy(xin, Y(y.data(), {4, 1}), o0); }, ErrorKind::Shape,
       fn + "expected target of shape [4] for input of shape [4, 5], got [4, 1]"},
      {"target out of range", [&] { losskit::cross_entropy(xin, Y(y_bad.data(), {4}), o0); }, ErrorKind::Index,
       fn + "target[3] = 7 is outside [0, 5) and is not ignore_index (-100)"},
      {"negative target", [&] { losskit::cross_entropy(xin, Y(y_neg.data(), {4}), o0); }, ErrorKind::Index,
       fn + "target[1] = -1 is outside [0, 5) and is not ignore_index (-100)"},
      {"bad target, 2-D position", [&] { losskit::cross_entropy(V(x3.data(), {2, 5, 3}), Y(y3.data(), {2, 3}), o0); },
       ErrorKind::Index, fn + "target[1, 2] = 5 is outside [0, 5) and is not ignore_index (-100)"},
      {"bad target, custom ignore_index",
       [&] { losskit::cross_entropy(xin, Y(y_neg.data(), {4}), o0, CE{.ignore_index = 3}); }, ErrorKind::Index,
       fn + "target[1] = -1 is outside [0, 5) and is not ignore_index (3)"},
      {"bad target in backward",
       [&] { losskit::cross_entropy_backward(V(up.data(), {}), xin, Y(y_bad.data(), {4}), g0); }, ErrorKind::Index,
       fn + "target[3] = 7 is outside [0, 5) and is not ignore_index (-100)"},
      {"weight length", [&] { losskit::cross_entropy(xin, yin, o0, CE{.weight = w3}); }, ErrorKind::Shape,
       fn + "weight has 3 entries but input has 5 classes"},
      {"weight length, probabilities", [&] { losskit::cross_entropy(xin, tin, o0, CE{.weight = w3}); },
       ErrorKind::Shape, fn + "weight has 3 entries but input has 5 classes"},
      {"negative smoothing", [&] { losskit::cross_entropy(xin, yin, o0, CE{.label_smoothing = -0.1}); },
       ErrorKind::Value, fn + "label_smoothing = -0.1 is outside [0, 1]"},
      {"smoothing > 1", [&] { losskit::cross_entropy(xin, tin, o0, CE{.label_smoothing = 1.5}); }, ErrorKind::Value,
       fn + "label_smoothing = 1.5 is outside [0, 1]"},
      {"NaN smoothing", [&] { losskit::cross_entropy(xin, yin, o0, CE{.label_smoothing = kNaN}); }, ErrorKind::Value,
       fn + "label_smoothing = nan is outside [0, 1]"},
      {"ignore_index >= 0 with probabilities", [&] { losskit::cross_entropy(xin, tin, o0, CE{.ignore_index = 0}); },
       ErrorKind::Value, fn + "ignore_index = 0 is not supported with probability targets (it must be negative)"},
      {"probability target shape", [&] { losskit::cross_entropy(xin, V(t.data(), {4, 4}), o0); }, ErrorKind::Shape,
       fn + "input and target (probabilities) must have the same shape (got input: [4, 5], target (probabilities): "
            "[4, 4])"},
      {"batchmean", [&] { losskit::cross_entropy(xin, yin, o0, CE{.reduction = Reduction::BatchMean}); },
       ErrorKind::Value, fn + "reduction = 'batchmean' is only defined for kl_div; use 'none', 'mean' or 'sum'"},
      {"batchmean, probabilities", [&] { losskit::cross_entropy(xin, tin, o0, CE{.reduction = Reduction::BatchMean}); },
       ErrorKind::Value, fn + "reduction = 'batchmean' is only defined for kl_div; use 'none', 'mean' or 'sum'"},
      {"0-d input", [&] { losskit::cross_entropy(V(x.data(), {}), Y(y.data(), {}), o0); }, ErrorKind::Shape,
       fn + "input must have at least 1 dim (the classes), got a 0-d input"},
      {"no classes", [&] { losskit::cross_entropy(V(x.data(), {4, 0}), yin, o0); }, ErrorKind::Shape,
       fn + "input of shape [4, 0] has no classes"},
      {"null input", [&] { losskit::cross_entropy(V(nullptr, {4, 5}), yin, o0); }, ErrorKind::Value,
       fn + "input has shape [4, 5] but a null data pointer"},
      {"null target", [&] { losskit::cross_entropy(xin, Y(nullptr, {4}), o0); }, ErrorKind::Value,
       fn + "target has shape [4] but a null data pointer"},
      {"null out", [&] { losskit::cross_entropy(xin, yin, O(nullptr, {})); }, ErrorKind::Value,
       fn + "out has shape [] but a null data pointer"},
      {"out shape (mean)", [&] { losskit::cross_entropy(xin, yin, O(out.data(), {2})); }, ErrorKind::Shape,
       fn + "out has shape [2], expected []"},
      {"out shape (none)",
       [&] { losskit::cross_entropy(xin, yin, O(out.data(), {3}), CE{.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "out has shape [3], expected [4]"},
      {"out shape (none, probabilities)",
       [&] { losskit::cross_entropy(xin, tin, O(out.data(), {}), CE{.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "out has shape [], expected [4]"},
      {"grad_input shape", [&] { losskit::cross_entropy_backward(V(up.data(), {}), xin, yin, O(grad.data(), {5, 4})); },
       ErrorKind::Shape, fn + "grad_input has shape [5, 4], expected [4, 5]"},
      {"grad_input shape, fused probabilities",
       [&] { losskit::cross_entropy_forward_backward(xin, tin, o0, O(grad.data(), {20})); }, ErrorKind::Shape,
       fn + "grad_input has shape [20], expected [4, 5]"},
      {"null grad_input", [&] { losskit::cross_entropy_forward_backward(xin, yin, o0, O(nullptr, {4, 5})); },
       ErrorKind::Value, fn + "grad_input has shape [4, 5] but a null data pointer"},
      {"grad_output shape", [&] { losskit::cross_entropy_backward(V(up.data(), {2}), xin, yin, g0); },
       ErrorKind::Shape, fn + "grad_output has shape [2], expected []"},
      {"grad_output shape (none)",
       [&] { losskit::cross_entropy_backward(V(up.data(), {}), xin, yin, g0, CE{.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "grad_output has shape [], expected [4]"},
      {"out overlaps input", [&] { losskit::cross_entropy(xin, yin, O(x.data() + 3, {})); }, ErrorKind::Runtime,
       fn + "out overlaps input in memory; outputs must not alias inputs"},
      {"out overlaps target (probabilities)", [&] { losskit::cross_entropy(xin, tin, O(t.data() + 19, {})); },
       ErrorKind::Runtime, fn + "out overlaps target in memory; outputs must not alias inputs"},
      {"grad_input is input (no inplace_grad)",
       [&] { losskit::cross_entropy_forward_backward(xin, yin, o0, O(x.data(), {4, 5})); }, ErrorKind::Runtime,
       fn + "grad_input overlaps input in memory; outputs must not alias inputs"},
      {"inplace_grad in backward",
       [&] {
         losskit::cross_entropy_backward(V(up.data(), {}), xin, yin, O(x.data(), {4, 5}), CE{.inplace_grad = true});
       },
       ErrorKind::Runtime, fn + "inplace_grad is only supported by cross_entropy_forward_backward"},
      {"inplace_grad, grad_input shifted over input",
       [&] {
         losskit::cross_entropy_forward_backward(V(x.data(), {3, 5}), Y(y.data(), {3}), o0, O(x.data() + 5, {3, 5}),
                                                 CE{.inplace_grad = true});
       },
       ErrorKind::Runtime, fn + "grad_input overlaps input in memory; outputs must not alias inputs"},
      {"inplace_grad, grad_input transposed over input",
       [&] {
         losskit::cross_entropy_forward_backward(V(x.data(), {4, 4}), Y(y.data(), {4}), o0,
                                                 O(x.data(), {4, 4}, {1, 4}), CE{.inplace_grad = true});
       },
       ErrorKind::Runtime, fn + "grad_input overlaps input in memory; outputs must not alias inputs"},
      {"grad_input overlaps out",
       [&] { losskit::cross_entropy_forward_backward(xin, yin, O(grad.data() + 1, {}), g0); }, ErrorKind::Runtime,
       fn + "grad_input overlaps out in memory; outputs must not alias inputs"},
      {"grad_input overlaps grad_output",
       [&] { losskit::cross_entropy_backward(V(grad.data(), {}), xin, yin, g0); }, ErrorKind::Runtime,
       fn + "grad_input overlaps grad_output in memory; outputs must not alias inputs"},
  };
  for (const Bad& b : table) {
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.message, {&out, &grad}, -3.5)) << b.name;
    EXPECT_EQ(message_of(b.call), b.message) << b.name;
  }
  // The float overloads validate the same way.
  const auto xf = lktest::cast<float>(x);
  std::vector<float> outf(1), gradf(20);
  EXPECT_TRUE(lktest::expect_error_untouched<float>(
      [&] {
        losskit::cross_entropy_forward_backward(ConstView<float>(xf.data(), {4, 5}), Y(y_bad.data(), {4}),
                                                TensorView<float>(outf.data(), {}), TensorView<float>(gradf.data(), {4, 5}));
      },
      ErrorKind::Index, fn + "target[3] = 7 is outside [0, 5) and is not ignore_index (-100)", {&outf, &gradf}, -3.5f));
}

TEST(CrossEntropy, FirstBadTargetReportedWhateverTheThreads) {
  const std::int64_t n = 40000;
  std::vector<double> x(static_cast<std::size_t>(n * 3), 0.0);
  std::vector<std::int64_t> y(static_cast<std::size_t>(n), 1);
  y[30000] = 9;
  y[12345] = -5;
  const int before = losskit::get_num_threads();
  for (int nt : {1, 2, 3}) {
    losskit::set_num_threads(nt);
    EXPECT_EQ(message_of([&] {
                (void)losskit::cross_entropy(ConstView<double>(x.data(), {n, 3}), ConstView<std::int64_t>(y.data(), {n}));
              }),
              "cross_entropy: target[12345] = -5 is outside [0, 3) and is not ignore_index (-100)");
  }
  losskit::set_num_threads(before);
}
