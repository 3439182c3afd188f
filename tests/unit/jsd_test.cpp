// jsd (Liger Kernel's generalized Jensen-Shannon divergence): values against a float64
// transcription of Liger's kernel for every beta (its beta = 0 / 1 special cases included), with
// and without shift_labels; float64 finite differences w.r.t. input and target; the four calls
// agreeing; the vector kernel (every SIMD target) against the scalar Op; masked vocabulary
// entries (-inf), NaN, ignored and empty batches; thread-count determinism; bad inputs.
// Python tests compare with a torch transcription of Liger's kernel (python/tests/test_distribution.py).
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

#include "support/targets.hpp"
#include "support/testing.hpp"

using losskit::ConstView;
using losskit::ErrorKind;
using losskit::JSDOptions;
using losskit::Shape;
using losskit::TensorView;
using lktest::Rng;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Liger's _jsd_kernel transcribed in float64 (x = log q, y = log p), per element, unscaled.
double liger_element(double x, double y, double beta) {
  if (beta == 0.0) return std::exp(y) * (y - x);
  if (beta == 1.0) return std::exp(x) * (x - y);
  const double mx = std::max(x, y);
  const double log_m = mx + std::log(beta * std::exp(y - mx) + (1 - beta) * std::exp(x - mx));
  return beta * std::exp(y) * (y - log_m) + (1 - beta) * std::exp(x) * (x - log_m);
}

/// Liger's loss: the sum over kept rows of the row sums, divided by the number of kept rows.
double liger_loss(const std::vector<double>& x, const std::vector<double>& y, std::int64_t BT, std::int64_t V,
                  double beta, const std::vector<std::int64_t>& labels, std::int64_t ignore_index) {
  double sum = 0;
  std::int64_t n = 0;
  for (std::int64_t r = 0; r < BT; ++r) {
    if (!labels.empty() && labels[static_cast<std::size_t>(r)] == ignore_index) continue;
    ++n;
    for (std::int64_t j = 0; j < V; ++j) {
      const auto i = static_cast<std::size_t>(r * V + j);
      sum += liger_element(x[i], y[i], beta);
    }
  }
  return n ? sum / static_cast<double>(n) : 0.0;
}

/// n rows of V log-probabilities (log_softmax of normal logits of scale sd).
std::vector<double> log_probs(Rng& rng, std::int64_t BT, std::int64_t V, double sd) {
  auto v = rng.normal(static_cast<std::size_t>(BT * V), 0, sd);
  for (std::int64_t r = 0; r < BT; ++r) {
    double mx = -kInf;
    for (std::int64_t j = 0; j < V; ++j) mx = std::max(mx, v[static_cast<std::size_t>(r * V + j)]);
    double s = 0;
    for (std::int64_t j = 0; j < V; ++j) s += std::exp(v[static_cast<std::size_t>(r * V + j)] - mx);
    for (std::int64_t j = 0; j < V; ++j) v[static_cast<std::size_t>(r * V + j)] -= mx + std::log(s);
  }
  return v;
}

bool close(double a, double b, double rtol, double atol = 0) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= atol + rtol * std::max(std::fabs(a), std::fabs(b));
}

::testing::AssertionResult all_close(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                                     double atol = 0) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!close(got[i], want[i], rtol, atol)) return ::testing::AssertionFailure() << "at " << i << ": " << got[i] << " vs " << want[i];
  return ::testing::AssertionSuccess();
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

struct Result {
  double value;
  std::vector<double> grad_input, grad_target;
};

/// Runs the four calls in T (backward with upstream g, with and without grad_target) and checks
/// that they agree (float32: to rounding, as the vector kernel's loops for the fused and the
/// single passes add and contract in different orders); returns the value and the gradients of
/// g * loss.
template <class T>
Result run_all(const std::vector<double>& xd, const std::vector<double>& yd, std::int64_t BT, std::int64_t V,
               JSDOptions o, double g) {
  const auto x = lktest::cast<T>(xd), y = lktest::cast<T>(yd);
  const Shape s{BT, V};
  const ConstView<T> xin(x.data(), s), yin(y.data(), s);
  T out = T(-7);
  losskit::jsd(xin, yin, TensorView<T>(&out, {}), o);
  const auto tv = losskit::jsd(xin, yin, o);
  EXPECT_EQ(tv.shape(), Shape{});
  EXPECT_TRUE(close(tv.item(), out, 0));
  const T gT = static_cast<T>(g);
  std::vector<T> gi(x.size(), T(-7)), gt(x.size(), T(-7)), gi_only(x.size(), T(-7));
  losskit::jsd_backward(ConstView<T>(&gT, {}), xin, yin, TensorView<T>(gi.data(), s), TensorView<T>(gt.data(), s), o);
  losskit::jsd_backward(ConstView<T>(&gT, {}), xin, yin, TensorView<T>(gi_only.data(), s), o);
  EXPECT_TRUE(all_close(to_double(gi_only), to_double(gi), std::is_same_v<T, float> ? 1e-6 : 0.0, 1e-9))
      << "without grad_target";
  T fo = T(-7);
  std::vector<T> fgi(x.size(), T(-7)), fgt(x.size(), T(-7)), ogi(x.size(), T(-7)), ogt(x.size(), T(-7));
  losskit::jsd_forward_backward(xin, yin, TensorView<T>(&fo, {}), TensorView<T>(fgi.data(), s),
                                TensorView<T>(fgt.data(), s), o);
  const T one = T(1);
  losskit::jsd_backward(ConstView<T>(&one, {}), xin, yin, TensorView<T>(ogi.data(), s), TensorView<T>(ogt.data(), s), o);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 0.0;
  EXPECT_TRUE(close(fo, out, tol)) << "fused value";
  EXPECT_TRUE(all_close(to_double(fgi), to_double(ogi), tol, tol * 1e-3)) << "fused grad_input";
  EXPECT_TRUE(all_close(to_double(fgt), to_double(ogt), tol, tol * 1e-3)) << "fused grad_target";
  return {static_cast<double>(out), to_double(gi), to_double(gt)};
}

const std::vector<double> kBetas{0.0, 1e-3, 0.1, 0.5, 0.9, 1.0};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const losskit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Jsd, MatchesLigerTranscriptionAndFiniteDifferences) {
  Rng rng(301);
  for (const auto& [BT, V] : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {3, 5}, {4, 37}, {2, 130}})
    for (const double beta : kBetas)
      for (int labeled = 0; labeled < 2; ++labeled) {
        SCOPED_TRACE("BT " + std::to_string(BT) + " V " + std::to_string(V) + " beta " + std::to_string(beta) +
                     (labeled ? " labeled" : ""));
        const auto x = log_probs(rng, BT, V, 2.0), y = log_probs(rng, BT, V, 2.0);
        std::vector<std::int64_t> labels;
        if (labeled)
          for (std::int64_t r = 0; r < BT; ++r) labels.push_back(r % 2 ? -100 : r % V);
        JSDOptions o{.beta = beta};
        if (labeled) o.shift_labels = ConstView<std::int64_t>(labels.data(), {BT});
        const double want = liger_loss(x, y, BT, V, beta, labels, -100);
        const Result d = run_all<double>(x, y, BT, V, o, 0.7);
        EXPECT_TRUE(close(d.value, want, 1e-12, 1e-15)) << d.value << " vs " << want;
        const Result f = run_all<float>(x, y, BT, V, o, 0.7);
        EXPECT_TRUE(close(f.value, want, 2e-5, 1e-6)) << f.value << " vs " << want;
        EXPECT_TRUE(all_close(f.grad_input, d.grad_input, 2e-5, 1e-6));
        EXPECT_TRUE(all_close(f.grad_target, d.grad_target, 2e-5, 1e-6));
        auto value = [&](const std::vector<double>& xs, const std::vector<double>& ys) {
          return 0.7 * losskit::jsd(ConstView<double>(xs.data(), {BT, V}), ConstView<double>(ys.data(), {BT, V}), o).item();
        };
        EXPECT_TRUE(lktest::check_gradient([&](const std::vector<double>& xs) { return value(xs, y); }, x, d.grad_input))
            << "d/d input";
        EXPECT_TRUE(lktest::check_gradient([&](const std::vector<double>& ys) { return value(x, ys); }, y, d.grad_target))
            << "d/d target";
        // Ignored rows: 0 gradients.
        for (std::int64_t r = 0; r < BT; ++r)
          if (labeled && r % 2)
            for (std::int64_t j = 0; j < V; ++j) {
              EXPECT_EQ(d.grad_input[static_cast<std::size_t>(r * V + j)], 0.0);
              EXPECT_EQ(f.grad_target[static_cast<std::size_t>(r * V + j)], 0.0);
            }
      }
}

TEST(Jsd, LigerBetaEndsAreKL) {
  // beta = 0 is KL(p || q) (teacher p = exp(target)), beta = 1 is KL(q || p); strictly inside,
  // the value tends to 0 at both ends (Liger's special cases are not the limits).
  const std::vector<double> q{0.80, 0.15, 0.05}, p{0.10, 0.40, 0.50};
  std::vector<double> lq, lp;
  for (std::size_t i = 0; i < 3; ++i) lq.push_back(std::log(q[i])), lp.push_back(std::log(p[i]));
  auto jsd = [&](double beta) {
    return losskit::jsd(ConstView<double>(lq.data(), {1, 3}), ConstView<double>(lp.data(), {1, 3}), {.beta = beta}).item();
  };
  double kl_pq = 0, kl_qp = 0;
  for (std::size_t i = 0; i < 3; ++i) kl_pq += p[i] * std::log(p[i] / q[i]), kl_qp += q[i] * std::log(q[i] / p[i]);
  EXPECT_NEAR(jsd(0.0), kl_pq, 1e-15);
  EXPECT_NEAR(jsd(1.0), kl_qp, 1e-15);
  EXPECT_LT(jsd(1e-9), 1e-7);
  EXPECT_LT(jsd(1 - 1e-9), 1e-7);
  // beta = 0.5 is the classic JSD: symmetric, at most log 2.
  const double js = jsd(0.5);
  const double js_swapped =
      losskit::jsd(ConstView<double>(lp.data(), {1, 3}), ConstView<double>(lq.data(), {1, 3}), {.beta = 0.5}).item();
  EXPECT_NEAR(js, js_swapped, 1e-15);
  EXPECT_GT(js, 0.0);
  EXPECT_LT(js, std::log(2.0));
}

TEST(Jsd, VectorKernelMatchesScalarOnEveryTarget) {
  // Contiguous float32 runs the SIMD kernel; a column-strided copy of the same data runs the
  // scalar Op: both agree on every compiled target, for every beta, with masked entries.
  Rng rng(302);
  const std::int64_t BT = 7, V = 67;
  auto x = log_probs(rng, BT, V, 3.0), y = log_probs(rng, BT, V, 3.0);
  for (std::int64_t j = 0; j < V; j += 5) x[static_cast<std::size_t>(j)] = -kInf;          // row 0: q = 0
  for (std::int64_t j = 0; j < V; j += 3) y[static_cast<std::size_t>(V + j)] = -kInf;      // row 1: p = 0
  for (std::int64_t j = 0; j < V; j += 4) x[static_cast<std::size_t>(2 * V + j)] = y[static_cast<std::size_t>(2 * V + j)] = -kInf;
  x[static_cast<std::size_t>(3 * V + 2)] = -200.0;  // q underflows in float32
  const std::vector<std::int64_t> labels{1, 2, 3, 4, -100, 5, 6};
  const auto xf = lktest::cast<float>(x), yf = lktest::cast<float>(y);
  std::vector<float> xs(2 * xf.size()), ys(2 * yf.size());
  for (std::size_t i = 0; i < xf.size(); ++i) xs[2 * i] = xf[i], ys[2 * i] = yf[i];
  const Shape s{BT, V};
  lktest::for_each_target([&] {
    for (const double beta : kBetas)
      for (int labeled = 0; labeled < 2; ++labeled) {
        SCOPED_TRACE("beta " + std::to_string(beta) + (labeled ? " labeled" : ""));
        JSDOptions o{.beta = beta};
        if (labeled) o.shift_labels = ConstView<std::int64_t>(labels.data(), {BT});
        float v = 0, vs = 0;
        std::vector<float> gi(xf.size()), gt(xf.size()), gis(2 * xf.size()), gts(2 * xf.size());
        losskit::jsd_forward_backward(ConstView<float>(xf.data(), s), ConstView<float>(yf.data(), s),
                                      TensorView<float>(&v, {}), TensorView<float>(gi.data(), s),
                                      TensorView<float>(gt.data(), s), o);
        losskit::jsd_forward_backward(ConstView<float>(xs.data(), s, {2 * V, 2}), ConstView<float>(ys.data(), s, {2 * V, 2}),
                                      TensorView<float>(&vs, {}), TensorView<float>(gis.data(), s, {2 * V, 2}),
                                      TensorView<float>(gts.data(), s, {2 * V, 2}), o);
        // Strictly inside (0, 1) every value is finite; at the ends a zero probability against a
        // nonzero one is an infinite KL.
        const bool inside = beta > 0 && beta < 1;
        if (inside) EXPECT_TRUE(std::isfinite(v));
        EXPECT_TRUE(close(v, vs, 1e-5)) << v << " vs " << vs;
        for (std::size_t i = 0; i < gi.size(); ++i) {
          ASSERT_TRUE(close(gi[i], gis[2 * i], 1e-5, 1e-7)) << i << ": " << gi[i] << " vs " << gis[2 * i];
          ASSERT_TRUE(close(gt[i], gts[2 * i], 1e-5, 1e-7)) << i << ": " << gt[i] << " vs " << gts[2 * i];
          if (inside) ASSERT_TRUE(std::isfinite(gi[i]) && std::isfinite(gt[i])) << i;
        }
        // The float64 value of the same data.
        const double vd = losskit::jsd(ConstView<double>(to_double(xf).data(), s), ConstView<double>(to_double(yf).data(), s), o).item();
        EXPECT_TRUE(close(v, vd, 2e-5)) << v << " vs " << vd;
      }
  });
}

TEST(Jsd, ZeroProbabilitiesNaNAndIgnoredRows) {
  // Masked vocabulary entries (-inf log-probabilities) count 0 (0 log 0 = 0) with 0 gradients;
  // Liger's kernel gives NaN where the two are -inf together (0 * (-inf - -inf)).
  const std::vector<double> x{-kInf, std::log(0.5), std::log(0.5), -kInf}, y{-kInf, std::log(0.5), -kInf, std::log(0.5)};
  for (const double beta : kBetas)
    for (int dt = 0; dt < 2; ++dt) {
      SCOPED_TRACE("beta " + std::to_string(beta) + (dt ? " float" : " double"));
      const Result r = dt ? run_all<float>(x, y, 1, 4, {.beta = beta}, 1.0) : run_all<double>(x, y, 1, 4, {.beta = beta}, 1.0);
      EXPECT_EQ(r.grad_input[0], 0.0);
      EXPECT_EQ(r.grad_target[0], 0.0);
      // The element-wise limits: x = -inf against p > 0 is +inf for beta = 0 (KL(p || q) with
      // q = 0), finite otherwise; y = -inf against q > 0 is +inf for beta = 1.
      const double want = liger_element(x[1], y[1], beta) +
                          (beta == 1.0 ? kInf : beta == 0.0 ? 0.0 : (1 - beta) * 0.5 * -std::log(1 - beta)) +
                          (beta == 0.0 ? kInf : beta == 1.0 ? 0.0 : beta * 0.5 * -std::log(beta));
      EXPECT_TRUE(close(r.value, want, dt ? 1e-5 : 1e-14)) << r.value << " vs " << want;
      EXPECT_NEAR(r.grad_input[3], beta == 0.0 ? -0.5 : 0.0, 1e-7);  // q = 0: only -p (beta = 0)
      EXPECT_NEAR(r.grad_target[2], beta == 1.0 ? -0.5 : 0.0, 1e-7);  // p = 0: only -q (beta = 1)
    }
  // NaN propagates; an ignored row holding NaN gives 0 and 0 gradients (it is never read).
  const std::vector<double> xn{kNaN, -1.0, -1.0, -1.0}, yn{-1.0, -1.0, -1.0, kNaN};
  for (const double beta : kBetas) {
    const Result r = run_all<double>(xn, yn, 2, 2, {.beta = beta}, 1.0);
    EXPECT_TRUE(std::isnan(r.value));
    const std::vector<std::int64_t> labels{-100, 3};
    const Result a = run_all<double>(xn, yn, 2, 2, {.beta = beta, .ignore_index = 3,
                                                     .shift_labels = ConstView<std::int64_t>(labels.data(), {2})}, 1.0);
    EXPECT_TRUE(std::isnan(a.value));
    const Result b = run_all<double>(xn, yn, 2, 2, {.beta = beta, .ignore_index = -100,
                                                     .shift_labels = ConstView<std::int64_t>(labels.data(), {2})}, 1.0);
    EXPECT_TRUE(std::isnan(b.value));  // row 1 (kept) holds the target's NaN
    const std::vector<std::int64_t> both{-100, -100};
    const Result c = run_all<double>(xn, yn, 2, 2, {.beta = beta, .shift_labels = ConstView<std::int64_t>(both.data(), {2})}, 1.0);
    EXPECT_EQ(c.value, 0.0);
    for (double g : c.grad_input) EXPECT_EQ(g, 0.0);
    for (double g : c.grad_target) EXPECT_EQ(g, 0.0);
  }
  // Empty batch: 0.
  for (int dt = 0; dt < 2; ++dt) {
    const Result e = dt ? run_all<float>({}, {}, 0, 5, {}, 1.0) : run_all<double>({}, {}, 0, 5, {}, 1.0);
    EXPECT_EQ(e.value, 0.0);
  }
}

TEST(Jsd, HugeAndTinyLogProbabilities) {
  // Log-probabilities far below the float32 range of exp stay finite; the value stays accurate
  // where p and q are both tiny.
  const std::vector<double> x{-1e4, -300.0, -80.0, 0.0}, y{-5.0, -1e4, -81.0, -1e-3};
  for (const double beta : kBetas) {
    const Result d = run_all<double>(x, y, 1, 4, {.beta = beta}, 1.0);
    const Result f = run_all<float>(x, y, 1, 4, {.beta = beta}, 1.0);
    EXPECT_TRUE(std::isfinite(d.value) && std::isfinite(f.value)) << beta;
    EXPECT_TRUE(close(f.value, d.value, 1e-5, 1e-7)) << beta << ": " << f.value << " vs " << d.value;
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_TRUE(std::isfinite(d.grad_input[i]) && std::isfinite(d.grad_target[i]));
      EXPECT_TRUE(close(f.grad_input[i], d.grad_input[i], 1e-5, 1e-7)) << beta << " " << i;
      EXPECT_TRUE(close(f.grad_target[i], d.grad_target[i], 1e-5, 1e-7)) << beta << " " << i;
    }
  }
}

TEST(Jsd, BitwiseIdenticalAcrossThreadCounts) {
  Rng rng(303);
  const std::int64_t BT = 300, V = 1000;
  const auto xd = log_probs(rng, BT, V, 2.0), yd = log_probs(rng, BT, V, 2.0);
  const auto x = lktest::cast<float>(xd), y = lktest::cast<float>(yd);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(BT));
  for (std::int64_t r = 0; r < BT; ++r) labels[static_cast<std::size_t>(r)] = r % 7 == 3 ? -100 : 1;
  const int before = losskit::get_num_threads();
  for (const double beta : {0.0, 0.5, 1.0})
    for (int labeled = 0; labeled < 2; ++labeled) {
      JSDOptions o{.beta = beta};
      if (labeled) o.shift_labels = ConstView<std::int64_t>(labels.data(), {BT});
      float v0 = 0;
      std::vector<float> g0, t0;
      for (int nt : {1, 2, 3}) {
        losskit::set_num_threads(nt);
        float v = 0;
        std::vector<float> gi(x.size()), gt(x.size());
        losskit::jsd_forward_backward(ConstView<float>(x.data(), {BT, V}), ConstView<float>(y.data(), {BT, V}),
                                      TensorView<float>(&v, {}), TensorView<float>(gi.data(), {BT, V}),
                                      TensorView<float>(gt.data(), {BT, V}), o);
        if (g0.empty()) {
          v0 = v, g0 = gi, t0 = gt;
        } else {
          EXPECT_EQ(std::memcmp(&v, &v0, sizeof v), 0);
          EXPECT_TRUE(gi == g0);
          EXPECT_TRUE(gt == t0);
        }
      }
    }
  losskit::set_num_threads(before);
}

TEST(Jsd, BadInputsTable) {
  using V = ConstView<double>;
  using O = TensorView<double>;
  std::vector<double> x(12, -1.0), t(12, -1.5), out(12), gi(12), gt(12), up(12, 1.0);
  const std::vector<std::int64_t> labels{1, 2, 3, 4};
  const V xin(x.data(), {3, 4}), tin(t.data(), {3, 4});
  const O o0(out.data(), {}), gi0(gi.data(), {3, 4}), gt0(gt.data(), {3, 4});
  const std::string fn = "jsd: ";
  struct Bad {
    std::string name;
    std::function<void()> call;
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Bad> table{
      {"beta > 1", [&] { losskit::jsd(xin, tin, o0, {.beta = 1.5}); }, ErrorKind::Value, fn + "beta = 1.5"},
      {"beta < 0", [&] { losskit::jsd_forward_backward(xin, tin, o0, gi0, gt0, {.beta = -0.1}); }, ErrorKind::Value,
       fn + "beta = -0.1"},
      {"beta NaN", [&] { losskit::jsd(xin, tin, o0, {.beta = kNaN}); }, ErrorKind::Value, fn + "beta = nan"},
      {"shape mismatch", [&] { losskit::jsd(xin, V(t.data(), {4, 3}), o0); }, ErrorKind::Shape,
       fn + "input and target must have the same shape (got input: [3, 4], target: [4, 3])"},
      {"1-D input", [&] { losskit::jsd(V(x.data(), {12}), V(t.data(), {12}), o0); }, ErrorKind::Shape,
       fn + "input must be 2-D (BT, V), got shape [12]"},
      {"3-D input", [&] { losskit::jsd(V(x.data(), {3, 2, 2}), V(t.data(), {3, 2, 2}), o0); }, ErrorKind::Shape,
       fn + "input must be 2-D (BT, V), got shape [3, 2, 2]"},
      {"shift_labels length",
       [&] { losskit::jsd(xin, tin, o0, {.shift_labels = ConstView<std::int64_t>(labels.data(), {4})}); },
       ErrorKind::Shape, fn + "shift_labels has shape [4], expected [3]"},
      {"shift_labels 2-D",
       [&] { losskit::jsd(xin, tin, o0, {.shift_labels = ConstView<std::int64_t>(labels.data(), {3, 1})}); },
       ErrorKind::Shape, fn + "shift_labels has shape [3, 1], expected [3]"},
      {"null shift_labels", [&] { losskit::jsd(xin, tin, o0, {.shift_labels = ConstView<std::int64_t>(nullptr, {3})}); },
       ErrorKind::Value, fn + "shift_labels has shape [3] but a null data pointer"},
      {"null input", [&] { losskit::jsd(V(nullptr, {3, 4}), tin, o0); }, ErrorKind::Value,
       fn + "input has shape [3, 4] but a null data pointer"},
      {"out shape", [&] { losskit::jsd(xin, tin, O(out.data(), {3})); }, ErrorKind::Shape,
       fn + "out has shape [3], expected []"},
      {"grad_output shape", [&] { losskit::jsd_backward(V(up.data(), {3}), xin, tin, gi0, gt0); }, ErrorKind::Shape,
       fn + "grad_output has shape [3], expected []"},
      {"grad_input shape", [&] { losskit::jsd_backward(V(up.data(), {}), xin, tin, O(gi.data(), {12}), gt0); },
       ErrorKind::Shape, fn + "grad_input has shape [12], expected [3, 4]"},
      {"grad_target shape", [&] { losskit::jsd_forward_backward(xin, tin, o0, gi0, O(gt.data(), {4, 3})); },
       ErrorKind::Shape, fn + "grad_target has shape [4, 3], expected [3, 4]"},
      {"out overlaps target", [&] { losskit::jsd(xin, tin, O(t.data() + 2, {})); }, ErrorKind::Runtime,
       fn + "out overlaps target in memory; outputs must not alias inputs"},
      {"grad_input is input", [&] { losskit::jsd_forward_backward(xin, tin, o0, O(x.data(), {3, 4}), gt0); },
       ErrorKind::Runtime, fn + "grad_input overlaps input in memory; outputs must not alias inputs"},
      {"grad_target is grad_input", [&] { losskit::jsd_forward_backward(xin, tin, o0, gi0, gi0); }, ErrorKind::Runtime,
       fn + "grad_target overlaps grad_input in memory; outputs must not alias inputs"},
  };
  for (const Bad& b : table) {
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.message, {&out, &gi, &gt}, -3.5)) << b.name;
    EXPECT_EQ(message_of(b.call).substr(0, b.message.size()), b.message) << b.name;
  }
}
