// kl_div: the notebook number, the formula for every option, float64 finite differences w.r.t.
// input and target, the four call forms agreeing, zeros in probabilities (0 log 0 = 0 in the
// value and both gradients), extreme and bad inputs, thread-count determinism.
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
using losskit::KLDivOptions;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using lktest::Rng;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string str(const Shape& s, const KLDivOptions& o) {
  return "shape " + s.str() + " reduction " + std::string(losskit::to_string(o.reduction)) +
         (o.log_target ? " log_target" : "");
}

/// The documented formula.
std::vector<double> reference(const std::vector<double>& x, const std::vector<double>& t, const Shape& s,
                              const KLDivOptions& o) {
  std::vector<double> per;
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    double l;
    if (o.log_target) l = std::exp(t[i]) * (t[i] - x[i]);
    else l = t[i] > 0 ? t[i] * (std::log(t[i]) - x[i]) : 0.0;
    per.push_back(l);
    sum += l;
  }
  switch (o.reduction) {
    case Reduction::None: return per;
    case Reduction::Sum: return {sum};
    case Reduction::Mean: return {sum / static_cast<double>(x.size())};
    case Reduction::BatchMean: return {sum / static_cast<double>(s[0])};
  }
  return {};
}

::testing::AssertionResult close(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                                 double atol = 0) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    if ((std::isnan(a) && std::isnan(b)) || a == b) continue;
    if (!(std::fabs(a - b) <= atol + rtol * std::max(std::fabs(a), std::fabs(b))))
      return ::testing::AssertionFailure() << "at " << i << ": " << a << " vs " << b;
  }
  return ::testing::AssertionSuccess();
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

struct Result {
  std::vector<double> value, grad_input, grad_target;
};

/// Runs the four calls in T (with and without grad_target), checks they agree.
template <class T>
Result run_all(const std::vector<double>& xd, const std::vector<double>& td, const Shape& s, const KLDivOptions& o,
               const std::vector<double>& up) {
  const auto x = lktest::cast<T>(xd), t = lktest::cast<T>(td);
  const Shape os = o.reduction == Reduction::None ? s : Shape{};
  const ConstView<T> xin(x.data(), s), tin(t.data(), s);
  std::vector<T> out(static_cast<std::size_t>(os.numel()), T(-7));
  losskit::kl_div(xin, tin, TensorView<T>(out.data(), os), o);
  const auto tv = losskit::kl_div(xin, tin, o);
  EXPECT_EQ(tv.shape(), os);
  EXPECT_TRUE(close(to_double(tv.values()), to_double(out), 0)) << str(s, o);
  const auto upT = lktest::cast<T>(up);
  std::vector<T> gi(x.size(), T(-7)), gt(x.size(), T(-7)), gi_only(x.size(), T(-7));
  losskit::kl_div_backward(ConstView<T>(upT.data(), os), xin, tin, TensorView<T>(gi.data(), s),
                           TensorView<T>(gt.data(), s), o);
  losskit::kl_div_backward(ConstView<T>(upT.data(), os), xin, tin, TensorView<T>(gi_only.data(), s), TensorView<T>{}, o);
  EXPECT_TRUE(close(to_double(gi_only), to_double(gi), 0)) << "without grad_target, " << str(s, o);
  std::vector<T> fo(out.size(), T(-7)), fgi(x.size(), T(-7)), fgt(x.size(), T(-7));
  std::vector<T> ogi(x.size(), T(-7)), ogt(x.size(), T(-7));
  losskit::kl_div_forward_backward(xin, tin, TensorView<T>(fo.data(), os), TensorView<T>(fgi.data(), s),
                                   TensorView<T>(fgt.data(), s), o);
  const std::vector<T> ones(out.size(), T(1));
  losskit::kl_div_backward(ConstView<T>(ones.data(), os), xin, tin, TensorView<T>(ogi.data(), s),
                           TensorView<T>(ogt.data(), s), o);
  EXPECT_TRUE(close(to_double(fo), to_double(out), 0)) << "fused value, " << str(s, o);
  EXPECT_TRUE(close(to_double(fgi), to_double(ogi), 0)) << "fused grad_input, " << str(s, o);
  EXPECT_TRUE(close(to_double(fgt), to_double(ogt), 0)) << "fused grad_target, " << str(s, o);
  return {to_double(out), to_double(gi), to_double(gt)};
}

const std::vector<Shape> kShapes{{}, {5}, {3, 4}, {2, 3, 4}, {2, 1, 3, 2}};
const std::vector<Reduction> kReductions{Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const losskit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(KLDiv, NotebookValue) {
  // KL(p || q) of p = [0.10, 0.40, 0.50] from q = [0.80, 0.15, 0.05]: 1.3357 nats, 1.927 bits.
  const std::vector<double> p{0.10, 0.40, 0.50}, q{0.80, 0.15, 0.05};
  std::vector<double> logq(3), logp(3);
  for (int i = 0; i < 3; ++i) {
    logq[static_cast<std::size_t>(i)] = std::log(q[static_cast<std::size_t>(i)]);
    logp[static_cast<std::size_t>(i)] = std::log(p[static_cast<std::size_t>(i)]);
  }
  const auto kl = losskit::kl_div(ConstView<double>(logq.data(), {3}), ConstView<double>(p.data(), {3}),
                                  {.reduction = Reduction::Sum});
  EXPECT_NEAR(kl.item(), 1.3357, 1e-4);
  EXPECT_NEAR(kl.item() / std::log(2.0), 1.927, 1e-3);
  // The same with the target given as log p, and per sample with batchmean on a (1, 3) batch.
  const auto kl_log = losskit::kl_div(ConstView<double>(logq.data(), {3}), ConstView<double>(logp.data(), {3}),
                                      {.reduction = Reduction::Sum, .log_target = true});
  EXPECT_NEAR(kl_log.item(), kl.item(), 1e-15);
  const auto bm = losskit::kl_div(ConstView<double>(logq.data(), {1, 3}), ConstView<double>(p.data(), {1, 3}),
                                  {.reduction = Reduction::BatchMean});
  EXPECT_NEAR(bm.item(), kl.item(), 1e-15);
  const auto lf = lktest::cast<float>(logq), pf = lktest::cast<float>(p);
  const auto kf = losskit::kl_div(ConstView<float>(lf.data(), {3}), ConstView<float>(pf.data(), {3}),
                                  {.reduction = Reduction::Sum});
  EXPECT_NEAR(kf.item(), 1.3357, 1e-4);
}

TEST(KLDiv, MatchesFormulaAndFiniteDifferencesEveryOption) {
  Rng rng(201);
  for (const Shape& s : kShapes)
    for (bool log_target : {false, true})
      for (const Reduction r : kReductions) {
        if (r == Reduction::BatchMean && s.ndim() == 0) continue;  // rejected (see the bad-input table)
        const KLDivOptions o{.reduction = r, .log_target = log_target};
        const auto n = static_cast<std::size_t>(s.numel());
        const auto x = rng.uniform(n, -4, -0.1);  // log q
        auto t = log_target ? rng.uniform(n, -4, 0) : rng.uniform(n, 0.01, 1);
        const auto up = rng.uniform(r == Reduction::None ? n : 1, -2, 2);
        const Result d = run_all<double>(x, t, s, o, up);
        EXPECT_TRUE(close(d.value, reference(x, t, s, o), 1e-14)) << str(s, o);
        const Result f = run_all<float>(x, t, s, o, up);
        EXPECT_TRUE(close(f.value, reference(to_double(lktest::cast<float>(x)), to_double(lktest::cast<float>(t)), s, o),
                          1e-5, 1e-6))
            << "float " << str(s, o);
        EXPECT_TRUE(close(f.grad_input, d.grad_input, 1e-5, 1e-6)) << "float " << str(s, o);
        EXPECT_TRUE(close(f.grad_target, d.grad_target, 1e-5, 1e-6)) << "float " << str(s, o);
        // Finite differences of the contracted loss w.r.t. the input and w.r.t. the target.
        auto value = [&](const std::vector<double>& xs, const std::vector<double>& ts) {
          const auto v = losskit::kl_div(ConstView<double>(xs.data(), s), ConstView<double>(ts.data(), s), o);
          double acc = 0;
          for (std::int64_t i = 0; i < v.numel(); ++i) acc += up[static_cast<std::size_t>(i)] * v[i];
          return acc;
        };
        EXPECT_TRUE(lktest::check_gradient([&](const std::vector<double>& xs) { return value(xs, t); }, x, d.grad_input))
            << "d/d input " << str(s, o);
        EXPECT_TRUE(lktest::check_gradient([&](const std::vector<double>& ts) { return value(x, ts); }, t, d.grad_target))
            << "d/d target " << str(s, o);
      }
}

TEST(KLDiv, ZeroProbabilities) {
  // 0 log 0 = 0 in the value and both gradients, even against a -inf input (q = 0).
  const std::vector<double> x{std::log(0.5), -kInf, std::log(0.25), -1e4, std::log(0.25), -2.0};
  const std::vector<double> t{0.5, 0.0, 0.5, 0.0, 0.0, 0.0};
  for (const Reduction r : kReductions) {
    const KLDivOptions o{.reduction = r};
    const Shape s{2, 3};
    const std::vector<double> up(r == Reduction::None ? 6 : 1, 1.0);
    for (int dt = 0; dt < 2; ++dt) {
      const Result res = dt ? run_all<float>(x, t, s, o, up) : run_all<double>(x, t, s, o, up);
      for (double v : res.value) EXPECT_TRUE(std::isfinite(v)) << str(s, o);
      EXPECT_TRUE(close(res.value, reference(x, t, s, o), dt ? 1e-6 : 1e-15)) << str(s, o);
      for (std::size_t i : {1, 3, 4, 5}) {
        EXPECT_EQ(res.grad_input[i], 0.0) << i;
        EXPECT_EQ(res.grad_target[i], 0.0) << i;
      }
      for (std::size_t i : {0, 2}) {
        EXPECT_TRUE(std::isfinite(res.grad_input[i]));
        EXPECT_TRUE(std::isfinite(res.grad_target[i]));
      }
    }
    if (r == Reduction::None) {
      const auto v = losskit::kl_div(ConstView<double>(x.data(), s), ConstView<double>(t.data(), s), o);
      EXPECT_EQ(v[1], 0.0);
      EXPECT_EQ(v[5], 0.0);
    }
  }
  // The same zeros given as log-probabilities (log_target, t = -inf) count 0 as well (PyTorch
  // gives NaN there: exp(-inf) * (-inf - x)).
  std::vector<double> lt(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) lt[i] = t[i] > 0 ? std::log(t[i]) : -kInf;
  for (const Reduction r : kReductions) {
    const Shape s{2, 3};
    const std::vector<double> up(r == Reduction::None ? 6 : 1, 1.0);
    for (int dt = 0; dt < 2; ++dt) {
      const KLDivOptions o{.reduction = r, .log_target = true};
      const Result res = dt ? run_all<float>(x, lt, s, o, up) : run_all<double>(x, lt, s, o, up);
      EXPECT_TRUE(close(res.value, reference(x, t, s, {.reduction = r}), dt ? 1e-6 : 1e-14)) << str(s, o);
      for (std::size_t i : {1, 3, 4, 5}) {
        EXPECT_EQ(res.grad_input[i], 0.0) << i;
        EXPECT_EQ(res.grad_target[i], 0.0) << i;
      }
      for (std::size_t i : {0, 2}) EXPECT_TRUE(std::isfinite(res.grad_target[i]));
    }
  }
  // p > 0 against q = 0 (input -inf) is +inf, as in PyTorch.
  const std::vector<double> xi{-kInf}, ti{0.5};
  EXPECT_EQ(losskit::kl_div(ConstView<double>(xi.data(), {1}), ConstView<double>(ti.data(), {1})).item(), kInf);
  // A negative probability gives NaN (PyTorch's xlogy does the same).
  const std::vector<double> tn{-0.5};
  EXPECT_TRUE(std::isnan(losskit::kl_div(ConstView<double>(xi.data(), {1}), ConstView<double>(tn.data(), {1})).item()));
}

TEST(KLDiv, HugeValuesAndEmpty) {
  const std::vector<double> x{-1e4, 1e4, -50, 0}, t{1e-300, 0.3, 1.0, 0.7};
  const Result r = run_all<double>(x, t, {4}, {.reduction = Reduction::Sum}, {1.0});
  EXPECT_TRUE(std::isfinite(r.value[0]));
  EXPECT_TRUE(close(r.value, reference(x, t, {4}, {.reduction = Reduction::Sum}), 1e-15));
  for (double g : r.grad_input) EXPECT_TRUE(std::isfinite(g));
  for (double g : r.grad_target) EXPECT_TRUE(std::isfinite(g));
  // Empty input: mean and batchmean NaN, sum 0, none empty.
  for (const Reduction red : kReductions) {
    const Result e = run_all<double>({}, {}, {0, 3}, {.reduction = red}, std::vector<double>(red == Reduction::None ? 0 : 1, 1.0));
    EXPECT_TRUE(e.grad_input.empty());
    if (red == Reduction::None) EXPECT_TRUE(e.value.empty());
    else if (red == Reduction::Sum) EXPECT_EQ(e.value[0], 0.0);
    else EXPECT_TRUE(std::isnan(e.value[0]));
  }
}

TEST(KLDiv, StridedViews) {
  Rng rng(202);
  // Transposed (4, 3) input and target, step-2 output and gradients, versus contiguous copies.
  const auto xs = rng.uniform(12, -3, -0.1), ts = rng.uniform(12, 0.01, 1);
  std::vector<double> xc(12), tc(12);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) {
      xc[static_cast<std::size_t>(i * 3 + j)] = xs[static_cast<std::size_t>(j * 4 + i)];
      tc[static_cast<std::size_t>(i * 3 + j)] = ts[static_cast<std::size_t>(j * 4 + i)];
    }
  const KLDivOptions o{.reduction = Reduction::None};
  std::vector<double> out(24, 9.0), gi(24, 9.0), gt(24, 9.0);
  // Outputs: a (4, 3) view taking every other element of a row-major (4, 6) buffer.
  losskit::kl_div_forward_backward(ConstView<double>(xs.data(), {4, 3}, {1, 4}), ConstView<double>(ts.data(), {4, 3}, {1, 4}),
                                   TensorView<double>(out.data(), {4, 3}, {6, 2}), TensorView<double>(gi.data(), {4, 3}, {6, 2}),
                                   TensorView<double>(gt.data(), {4, 3}, {6, 2}), o);
  std::vector<double> oc(12), gic(12), gtc(12);
  losskit::kl_div_forward_backward(ConstView<double>(xc.data(), {4, 3}), ConstView<double>(tc.data(), {4, 3}),
                                   TensorView<double>(oc.data(), {4, 3}), TensorView<double>(gic.data(), {4, 3}),
                                   TensorView<double>(gtc.data(), {4, 3}), o);
  for (std::size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(out[2 * i], oc[i]);
    EXPECT_EQ(gi[2 * i], gic[i]);
    EXPECT_EQ(gt[2 * i], gtc[i]);
    EXPECT_EQ(out[2 * i + 1], 9.0);
    EXPECT_EQ(gi[2 * i + 1], 9.0);
    EXPECT_EQ(gt[2 * i + 1], 9.0);
  }
}

TEST(KLDiv, BitwiseIdenticalAcrossThreadCounts) {
  Rng rng(203);
  const std::int64_t n = 300000;  // grain 8192: 37 blocks
  const auto x = rng.uniform(static_cast<std::size_t>(n), -5, 0), t = rng.uniform(static_cast<std::size_t>(n), 0, 1);
  const int before = losskit::get_num_threads();
  for (bool lt : {false, true})
    for (const Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::BatchMean}) {
      std::vector<double> v0, g0, t0;
      for (int nt : {1, 2, 3}) {
        losskit::set_num_threads(nt);
        std::vector<double> v(1), gi(x.size()), gt(x.size());
        losskit::kl_div_forward_backward(ConstView<double>(x.data(), {100, n / 100}), ConstView<double>(t.data(), {100, n / 100}),
                                         TensorView<double>(v.data(), {}), TensorView<double>(gi.data(), {100, n / 100}),
                                         TensorView<double>(gt.data(), {100, n / 100}), {.reduction = r, .log_target = lt});
        if (v0.empty()) {
          v0 = v;
          g0 = gi;
          t0 = gt;
        } else {
          EXPECT_EQ(std::memcmp(v.data(), v0.data(), sizeof(double)), 0);
          EXPECT_TRUE(gi == g0);
          EXPECT_TRUE(gt == t0);
        }
      }
    }
  losskit::set_num_threads(before);
}

TEST(KLDiv, BadInputsTable) {
  using V = ConstView<double>;
  using O = TensorView<double>;
  std::vector<double> x(12, -1.0), t(12, 0.25), out(12), gi(12), gt(12), up(12, 1.0);
  const V xin(x.data(), {3, 4}), tin(t.data(), {3, 4});
  const O o0(out.data(), {}), gi0(gi.data(), {3, 4}), gt0(gt.data(), {3, 4});
  const std::string fn = "kl_div: ";
  struct Bad {
    std::string name;
    std::function<void()> call;
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Bad> table{
      {"shape mismatch", [&] { losskit::kl_div(xin, V(t.data(), {4, 3}), o0); }, ErrorKind::Shape,
       fn + "input and target must have the same shape (got input: [3, 4], target: [4, 3])"},
      {"shape mismatch, ndim", [&] { losskit::kl_div(xin, V(t.data(), {12}), o0); }, ErrorKind::Shape,
       fn + "input and target must have the same shape (got input: [3, 4], target: [12])"},
      {"batchmean of a 0-d input",
       [&] { losskit::kl_div(V(x.data(), {}), V(t.data(), {}), o0, {.reduction = Reduction::BatchMean}); },
       ErrorKind::Value, fn + "reduction = 'batchmean' needs an input with a batch dim, got a 0-d input"},
      {"null input", [&] { losskit::kl_div(V(nullptr, {3, 4}), tin, o0); }, ErrorKind::Value,
       fn + "input has shape [3, 4] but a null data pointer"},
      {"null target", [&] { losskit::kl_div(xin, V(nullptr, {3, 4}), o0); }, ErrorKind::Value,
       fn + "target has shape [3, 4] but a null data pointer"},
      {"out shape", [&] { losskit::kl_div(xin, tin, O(out.data(), {3})); }, ErrorKind::Shape,
       fn + "out has shape [3], expected []"},
      {"out shape (none)", [&] { losskit::kl_div(xin, tin, O(out.data(), {4, 3}), {.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "out has shape [4, 3], expected [3, 4]"},
      {"grad_input shape",
       [&] { losskit::kl_div_backward(V(up.data(), {}), xin, tin, O(gi.data(), {12}), gt0); }, ErrorKind::Shape,
       fn + "grad_input has shape [12], expected [3, 4]"},
      {"grad_target shape",
       [&] { losskit::kl_div_forward_backward(xin, tin, o0, gi0, O(gt.data(), {2, 6})); }, ErrorKind::Shape,
       fn + "grad_target has shape [2, 6], expected [3, 4]"},
      {"grad_output shape (none)",
       [&] { losskit::kl_div_backward(V(up.data(), {}), xin, tin, gi0, gt0, {.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "grad_output has shape [], expected [3, 4]"},
      {"out overlaps target", [&] { losskit::kl_div(xin, tin, O(t.data() + 2, {})); }, ErrorKind::Runtime,
       fn + "out overlaps target in memory; outputs must not alias inputs"},
      {"grad_input is input", [&] { losskit::kl_div_forward_backward(xin, tin, o0, O(x.data(), {3, 4}), gt0); },
       ErrorKind::Runtime, fn + "grad_input overlaps input in memory; outputs must not alias inputs"},
      {"grad_target is target", [&] { losskit::kl_div_forward_backward(xin, tin, o0, gi0, O(t.data(), {3, 4})); },
       ErrorKind::Runtime, fn + "grad_target overlaps target in memory; outputs must not alias inputs"},
      {"grad_target is grad_input", [&] { losskit::kl_div_forward_backward(xin, tin, o0, gi0, gi0); },
       ErrorKind::Runtime, fn + "grad_target overlaps grad_input in memory; outputs must not alias inputs"},
      {"grad_input overlaps out", [&] { losskit::kl_div_forward_backward(xin, tin, O(gi.data() + 5, {}), gi0, gt0); },
       ErrorKind::Runtime, fn + "grad_input overlaps out in memory; outputs must not alias inputs"},
  };
  for (const Bad& b : table) {
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.message, {&out, &gi, &gt}, -3.5)) << b.name;
    EXPECT_EQ(message_of(b.call), b.message) << b.name;
  }
}
