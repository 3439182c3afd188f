// nll_loss: the notebook number, the formula for every option, float64 finite differences,
// the four call forms agreeing, extreme inputs, bad inputs and thread-count determinism.
// Parity with libtorch lives in tests/torch/seed_torch_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <losskit/losskit.hpp>

#include "support/testing.hpp"

using losskit::ConstView;
using losskit::ErrorKind;
using losskit::NLLLossOptions;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using lktest::Rng;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Case {
  Shape shape;
  std::vector<double> weight;
  std::int64_t ignore = -100;
  Reduction reduction = Reduction::Mean;
  std::string str() const {
    return "shape " + shape.str() + (weight.empty() ? "" : " weighted") + " ignore_index " + std::to_string(ignore) +
           " reduction " + std::string(losskit::to_string(reduction));
  }
};

Shape loss_shape_of(const Shape& s) {
  Shape r;
  for (int k = 0; k < s.ndim(); ++k)
    if (k != (s.ndim() == 1 ? 0 : 1)) r.push_back(s[k]);
  return r;
}
std::int64_t classes_of(const Shape& s) { return s[s.ndim() == 1 ? 0 : 1]; }

template <class T>
NLLLossOptions<T> opts_of(const Case& c, const std::vector<T>& w) {
  return {.weight = w, .ignore_index = c.ignore, .reduction = c.reduction};
}

/// loss_i = -w[y_i] x[i, y_i] on a contiguous input.
std::vector<double> reference(const std::vector<double>& x, const std::vector<std::int64_t>& y, const Case& c) {
  const std::int64_t C = classes_of(c.shape);
  const std::int64_t R = loss_shape_of(c.shape).numel();
  const std::int64_t N = c.shape.ndim() == 1 ? 1 : c.shape[0];
  const std::int64_t D = N == 0 ? 1 : R / N;
  std::vector<double> per;
  double sum = 0, denom = 0;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t d = 0; d < D; ++d) {
      const std::int64_t t = y[static_cast<std::size_t>(n * D + d)];
      if (t == c.ignore) {
        per.push_back(0);
        continue;
      }
      const double w = c.weight.empty() ? 1.0 : c.weight[static_cast<std::size_t>(t)];
      const double li = -w * x[static_cast<std::size_t>((n * C + t) * D + d)];
      per.push_back(li);
      sum += li;
      denom += w;
    }
  if (c.reduction == Reduction::None) return per;
  return {c.reduction == Reduction::Sum ? sum : sum / denom};
}

::testing::AssertionResult close(const std::vector<double>& got, const std::vector<double>& want, double rtol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    if ((std::isnan(a) && std::isnan(b)) || a == b) continue;
    if (!(std::fabs(a - b) <= rtol * std::max(std::fabs(a), std::fabs(b))))
      return ::testing::AssertionFailure() << "at " << i << ": " << a << " vs " << b;
  }
  return ::testing::AssertionSuccess();
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

/// Runs forward (buffer and Tensor), backward with upstream `up` and the fused call in T;
/// checks they agree and returns (value, gradient).
template <class T>
std::pair<std::vector<double>, std::vector<double>> run_all(const std::vector<double>& xd,
                                                            const std::vector<std::int64_t>& y, const Case& c,
                                                            const std::vector<double>& up) {
  const auto x = lktest::cast<T>(xd);
  const auto w = lktest::cast<T>(c.weight);
  const auto o = opts_of<T>(c, w);
  const Shape ls = loss_shape_of(c.shape);
  const Shape os = c.reduction == Reduction::None ? ls : Shape{};
  const ConstView<T> xin(x.data(), c.shape);
  const ConstView<std::int64_t> yin(y.data(), ls);
  std::vector<T> out(static_cast<std::size_t>(os.numel()), T(-7));
  losskit::nll_loss(xin, yin, TensorView<T>(out.data(), os), o);
  const auto t = losskit::nll_loss(xin, yin, o);
  EXPECT_EQ(t.shape(), os);
  EXPECT_TRUE(close(to_double(t.values()), to_double(out), 0)) << c.str();
  const auto upT = lktest::cast<T>(up);
  std::vector<T> grad(x.size(), T(-7)), fgrad(x.size(), T(-7)), gone(x.size(), T(-7)), fout(out.size(), T(-7));
  losskit::nll_loss_backward(ConstView<T>(upT.data(), os), xin, yin, TensorView<T>(grad.data(), c.shape), o);
  losskit::nll_loss_forward_backward(xin, yin, TensorView<T>(fout.data(), os), TensorView<T>(fgrad.data(), c.shape), o);
  const std::vector<T> ones(out.size(), T(1));
  losskit::nll_loss_backward(ConstView<T>(ones.data(), os), xin, yin, TensorView<T>(gone.data(), c.shape), o);
  EXPECT_TRUE(close(to_double(fout), to_double(out), 0)) << "fused value, " << c.str();
  EXPECT_TRUE(close(to_double(fgrad), to_double(gone), 0)) << "fused gradient, " << c.str();
  return {to_double(out), to_double(grad)};
}

const std::vector<Shape> kShapes{{5}, {3, 4}, {2, 3, 4}, {2, 3, 2, 2}, {2, 2, 1, 2, 3}};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const losskit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(NLLLoss, NotebookValue) {
  // The seed notebook: probabilities [[0.1, 0.9], [0.2, 0.8]], log taken first, targets [0, 1].
  std::vector<double> logp{std::log(0.1), std::log(0.9), std::log(0.2), std::log(0.8)};
  const std::vector<std::int64_t> y{0, 1};
  const auto v = losskit::nll_loss(ConstView<double>(logp.data(), {2, 2}), ConstView<std::int64_t>(y.data(), {2}));
  EXPECT_NEAR(v.item(), 1.262864, 1e-6);
  EXPECT_NEAR(v.item(), -(std::log(0.1) + std::log(0.8)) / 2, 1e-15);
  const auto lf = lktest::cast<float>(logp);
  const auto f = losskit::nll_loss(ConstView<float>(lf.data(), {2, 2}), ConstView<std::int64_t>(y.data(), {2}));
  EXPECT_NEAR(f.item(), 1.262864, 1e-6);
  // Gradient of the mean: -1/2 at each target, 0 elsewhere.
  std::vector<double> g(4, 9.0), out(1);
  losskit::nll_loss_forward_backward(ConstView<double>(logp.data(), {2, 2}), ConstView<std::int64_t>(y.data(), {2}),
                                     TensorView<double>(out.data(), {}), TensorView<double>(g.data(), {2, 2}));
  EXPECT_EQ(g, (std::vector<double>{-0.5, 0, 0, -0.5}));
}

TEST(NLLLoss, MatchesFormulaAndFiniteDifferencesEveryOption) {
  Rng rng(101);
  for (const Shape& s : kShapes)
    for (bool weighted : {false, true})
      for (int ig = 0; ig < 4; ++ig)
        for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
          Case c{.shape = s, .reduction = r};
          const std::int64_t C = classes_of(s);
          const Shape ls = loss_shape_of(s);
          const auto n = static_cast<std::size_t>(ls.numel());
          if (weighted) c.weight = rng.uniform(static_cast<std::size_t>(C), 0.2, 2.0);
          c.ignore = ig == 2 ? 1 : -100;
          auto y = rng.classes(n, C, ig == 1 ? 0.3 : 0.0);
          if (ig == 1 && n > 1) y[0] = -100;
          if (ig == 3) std::fill(y.begin(), y.end(), c.ignore);
          const auto x = rng.normal(static_cast<std::size_t>(s.numel()), -1, 1);
          const auto up = rng.uniform(r == Reduction::None ? n : 1, -2, 2);
          const auto [v, g] = run_all<double>(x, y, c, up);
          EXPECT_TRUE(close(v, reference(x, y, c), 1e-14)) << c.str();
          const auto [vf, gf] = run_all<float>(x, y, c, up);
          Case cf = c;
          cf.weight = to_double(lktest::cast<float>(c.weight));
          EXPECT_TRUE(close(vf, reference(to_double(lktest::cast<float>(x)), y, cf), 1e-6)) << "float " << c.str();
          EXPECT_TRUE(close(gf, g, 1e-6)) << "float " << c.str();
          const bool none_kept = std::all_of(y.begin(), y.end(), [&](std::int64_t t) { return t == c.ignore; });
          if (none_kept) {
            for (double a : v) EXPECT_TRUE(r == Reduction::Mean ? std::isnan(a) : a == 0) << c.str();
            for (double a : g) EXPECT_EQ(a, 0.0) << c.str();
            if (r == Reduction::Mean) continue;
          }
          auto f = [&](const std::vector<double>& xs) {
            const auto val = losskit::nll_loss(ConstView<double>(xs.data(), s), ConstView<std::int64_t>(y.data(), ls),
                                               opts_of<double>(c, c.weight));
            double acc = 0;
            for (std::int64_t i = 0; i < val.numel(); ++i) acc += up[static_cast<std::size_t>(i)] * val[i];
            return acc;
          };
          EXPECT_TRUE(lktest::check_gradient(f, x, g)) << c.str();
        }
}

TEST(NLLLoss, ExtremeInputs) {
  // -inf log-probabilities off the target and huge values stay finite; on the target, +inf.
  const std::vector<double> x{-kInf, -0.5, -1e4, -kInf, -1e300, -kInf};
  const std::vector<std::int64_t> y{1, 2};
  for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    const Case c{.shape = {2, 3}, .reduction = r};
    const std::vector<double> up(r == Reduction::None ? 2 : 1, 1.0);
    const auto [v, g] = run_all<double>(x, y, c, up);
    EXPECT_TRUE(close(v, reference(x, y, c), 1e-15));
    for (double a : g) EXPECT_TRUE(std::isfinite(a));
  }
  const std::vector<std::int64_t> on_inf{0, 0};
  const auto v = losskit::nll_loss(ConstView<double>(x.data(), {2, 3}), ConstView<std::int64_t>(on_inf.data(), {2}));
  EXPECT_EQ(v.item(), kInf);
}

TEST(NLLLoss, EmptyBatchAndSingleClass) {
  for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    const Case c{.shape = {0, 3}, .reduction = r};
    const auto [v, g] = run_all<double>({}, {}, c, std::vector<double>(r == Reduction::None ? 0 : 1, 1.0));
    EXPECT_TRUE(g.empty());
    if (r == Reduction::None) EXPECT_TRUE(v.empty());
    else if (r == Reduction::Mean) EXPECT_TRUE(std::isnan(v[0]));
    else EXPECT_EQ(v[0], 0.0);
  }
  // C = 1.
  const std::vector<double> x{-0.25, -2.0};
  const std::vector<std::int64_t> y{0, 0};
  const Case c{.shape = {2, 1}, .weight = {3.0}, .reduction = Reduction::Mean};
  const auto [v, g] = run_all<double>(x, y, c, {1.0});
  EXPECT_DOUBLE_EQ(v[0], 1.125);
  EXPECT_EQ(g, (std::vector<double>{-0.5, -0.5}));
}

TEST(NLLLoss, StridedViews) {
  Rng rng(102);
  // Channels-last (N, C, H, W) = (2, 3, 2, 2) versus its contiguous copy.
  const Shape s{2, 3, 2, 2};
  const auto store = rng.normal(24);  // NHWC storage
  std::vector<double> contig(24);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int hw = 0; hw < 4; ++hw)
        contig[static_cast<std::size_t>((n * 3 + c) * 4 + hw)] = store[static_cast<std::size_t>((n * 4 + hw) * 3 + c)];
  const auto y = rng.classes(8, 3, 0.2);
  const ConstView<double> cl(store.data(), s, {12, 1, 6, 3});
  for (const Reduction r : {Reduction::None, Reduction::Sum}) {
    const auto a = losskit::nll_loss(cl, ConstView<std::int64_t>(y.data(), {2, 2, 2}), {.reduction = r});
    const auto b = losskit::nll_loss(ConstView<double>(contig.data(), s), ConstView<std::int64_t>(y.data(), {2, 2, 2}),
                                     {.reduction = r});
    EXPECT_EQ(a.values(), b.values());
  }
  // A step-2 target and a step-2 per-element output.
  std::vector<std::int64_t> y2(16, 0);
  for (int i = 0; i < 8; ++i) y2[static_cast<std::size_t>(2 * i)] = y[static_cast<std::size_t>(i)];
  std::vector<double> out2(16, 5.0);
  losskit::nll_loss(cl, ConstView<std::int64_t>(y2.data(), {2, 2, 2}, {8, 4, 2}),
                    TensorView<double>(out2.data(), {2, 2, 2}, {8, 4, 2}), {.reduction = Reduction::None});
  const auto b = losskit::nll_loss(ConstView<double>(contig.data(), s), ConstView<std::int64_t>(y.data(), {2, 2, 2}),
                                   {.reduction = Reduction::None});
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(out2[static_cast<std::size_t>(2 * i)], b[i]);
    EXPECT_EQ(out2[static_cast<std::size_t>(2 * i + 1)], 5.0);  // the gaps are not touched
  }
}

TEST(NLLLoss, BitwiseIdenticalAcrossThreadCounts) {
  Rng rng(103);
  const std::int64_t N = 60000, C = 5;
  const auto x = rng.normal(static_cast<std::size_t>(N * C), -2, 1);
  const auto y = rng.classes(static_cast<std::size_t>(N), C, 0.1);
  const auto w = rng.uniform(C, 0.1, 3.0);
  const int before = losskit::get_num_threads();
  std::vector<double> v0, g0;
  for (int nt : {1, 2, 3}) {
    losskit::set_num_threads(nt);
    std::vector<double> v(1), g(x.size());
    losskit::nll_loss_forward_backward(ConstView<double>(x.data(), {N, C}), ConstView<std::int64_t>(y.data(), {N}),
                                       TensorView<double>(v.data(), {}), TensorView<double>(g.data(), {N, C}),
                                       {.weight = w});
    if (v0.empty()) {
      v0 = v;
      g0 = g;
    } else {
      EXPECT_EQ(std::memcmp(v.data(), v0.data(), sizeof(double)), 0) << nt;
      EXPECT_TRUE(g == g0) << nt;
    }
  }
  losskit::set_num_threads(before);
}

TEST(NLLLoss, BadInputsTable) {
  using V = ConstView<double>;
  using Y = ConstView<std::int64_t>;
  using O = TensorView<double>;
  using NO = NLLLossOptions<double>;
  std::vector<double> x(20, -1.0), out(4), grad(20), up(4, 1.0);
  std::vector<std::int64_t> y{0, 1, 2, 3}, y_bad{0, 1, 2, 7}, y_neg{-3, 1, 2, 3};
  const V xin(x.data(), {4, 5});
  const Y yin(y.data(), {4});
  const O o0(out.data(), {}), g0(grad.data(), {4, 5});
  const std::vector<double> w2{1, 2};
  const std::string fn = "nll_loss: ";
  struct Bad {
    std::string name;
    std::function<void()> call;
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Bad> table{
      {"target shape", [&] { losskit::nll_loss(xin, Y(y.data(), {2, 2}), o0); }, ErrorKind::Shape,
       fn + "expected target of shape [4] for input of shape [4, 5], got [2, 2]"},
      {"target out of range", [&] { losskit::nll_loss(xin, Y(y_bad.data(), {4}), o0); }, ErrorKind::Index,
       fn + "target[3] = 7 is outside [0, 5) and is not ignore_index (-100)"},
      {"negative target", [&] { losskit::nll_loss(xin, Y(y_neg.data(), {4}), o0); }, ErrorKind::Index,
       fn + "target[0] = -3 is outside [0, 5) and is not ignore_index (-100)"},
      {"target out of range, 1-D input", [&] { losskit::nll_loss(V(x.data(), {5}), Y(y_bad.data() + 3, {}), o0); },
       ErrorKind::Index, fn + "target[] = 7 is outside [0, 5) and is not ignore_index (-100)"},
      {"weight length", [&] { losskit::nll_loss(xin, yin, o0, NO{.weight = w2}); }, ErrorKind::Shape,
       fn + "weight has 2 entries but input has 5 classes"},
      {"batchmean", [&] { losskit::nll_loss(xin, yin, o0, NO{.reduction = Reduction::BatchMean}); }, ErrorKind::Value,
       fn + "reduction = 'batchmean' is only defined for kl_div; use 'none', 'mean' or 'sum'"},
      {"null input", [&] { losskit::nll_loss(V(nullptr, {4, 5}), yin, o0); }, ErrorKind::Value,
       fn + "input has shape [4, 5] but a null data pointer"},
      {"out shape", [&] { losskit::nll_loss(xin, yin, O(out.data(), {4}), NO{.reduction = Reduction::Sum}); },
       ErrorKind::Shape, fn + "out has shape [4], expected []"},
      {"out shape (none)", [&] { losskit::nll_loss(xin, yin, O(out.data(), {2, 2}), NO{.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "out has shape [2, 2], expected [4]"},
      {"grad_input shape", [&] { losskit::nll_loss_backward(V(up.data(), {}), xin, yin, O(grad.data(), {4, 4})); },
       ErrorKind::Shape, fn + "grad_input has shape [4, 4], expected [4, 5]"},
      {"grad_output shape (none)",
       [&] { losskit::nll_loss_backward(V(up.data(), {2}), xin, yin, g0, NO{.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "grad_output has shape [2], expected [4]"},
      {"out overlaps input", [&] { losskit::nll_loss(xin, yin, O(x.data() + 19, {})); }, ErrorKind::Runtime,
       fn + "out overlaps input in memory; outputs must not alias inputs"},
      {"grad_input is input", [&] { losskit::nll_loss_forward_backward(xin, yin, o0, O(x.data(), {4, 5})); },
       ErrorKind::Runtime, fn + "grad_input overlaps input in memory; outputs must not alias inputs"},
      {"grad_input overlaps out", [&] { losskit::nll_loss_forward_backward(xin, yin, O(grad.data() + 7, {}), g0); },
       ErrorKind::Runtime, fn + "grad_input overlaps out in memory; outputs must not alias inputs"},
      {"0-d input", [&] { losskit::nll_loss(V(x.data(), {}), Y(y.data(), {}), o0); }, ErrorKind::Shape,
       fn + "input must have at least 1 dim (the classes), got a 0-d input"},
  };
  for (const Bad& b : table) {
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.message, {&out, &grad}, -3.5)) << b.name;
    EXPECT_EQ(message_of(b.call), b.message) << b.name;
  }
}
