// The vector kernels of the pointwise losses (mse, l1, huber, smooth_l1, bce_with_logits,
// soft_margin, poisson_nll, log_cosh, msle, mape, quantile, sigmoid_focal) against the losses'
// scalar Ops, on every instruction set compiled into the library that this CPU supports: a
// contiguous float32 call takes the Highway sweep, the same call on stride-2 views takes the
// scalar Op, so the two must agree (bitwise for mse, l1, huber, smooth_l1, mape and quantile,
// whose vector code repeats the scalar operations; within a few ULP for the others, whose
// exp/log/log1p are the kernels' own). Sizes 1..67 (every tail) and 1000, with ties, +-inf, NaN,
// huge values and values on the branch boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <hwy/targets.h>

#include "kernels/pointwise.hpp"
#include "losskit/losskit.hpp"
#include "support/targets.hpp"

namespace {

using losskit::ConstView;
using losskit::Reduction;
using losskit::TensorView;
namespace k = losskit::kernels;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using lktest::for_each_target;

// A loss's registered vector kernel (kernels/pointwise.hpp), failing the test when there is none.
k::PwBlockFn kernel(std::string_view name) {
  const k::PwBlockFn f = k::pointwise_kernel(name);
  EXPECT_NE(f, nullptr) << "no pointwise kernel registered as " << name;
  return f;
}

std::vector<float> randn(std::size_t n, std::uint32_t seed, float sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Inputs with the special values spread over the array (so they land in full vectors and tails).
struct Data {
  std::vector<float> x, y, w, g;
};
Data make_data(std::size_t n, std::uint32_t seed, float boundary, bool probs) {
  Data d{randn(n, seed, 3.0f), randn(n, seed + 1, 3.0f), randn(n, seed + 2, 1.0f), randn(n, seed + 3, 1.0f)};
  if (probs)
    for (auto& v : d.y) v = std::abs(v) / (1.0f + std::abs(v));  // in [0, 1)
  const float specials[][2] = {{1.5f, 1.5f},           // tie
                               {kInf, 1.0f},           {-kInf, 0.0f}, {kInf, kInf},   {-kInf, kInf},
                               {kNaN, 0.5f},           {0.5f, kNaN},  {3e38f, -3e38f}, {1e-40f, 0.0f},
                               {boundary, 0.0f},       {-boundary, 0.0f},
                               {0.0f, boundary},       {100.0f, 1.0f}, {-100.0f, 1.0f}, {20.0f, 0.0f},
                               {-95.0f, 0.0f},         {95.0f, 1.0f}, {0.0f, 0.0f},   {-0.0f, 0.0f},
                               {kInf, 0.0f},           {-kInf, 1.0f}};
  const std::size_t ns = sizeof(specials) / sizeof(specials[0]);
  for (std::size_t j = 0; j < ns && 2 * j + 1 < n; ++j) {
    d.x[(7 * j + 1) % n] = specials[j][0];
    d.y[(7 * j + 1) % n] = specials[j][1];
  }
  if (n > 4) d.w[4] = 0.0f;
  return d;
}

// A loss under test: forward (Reduction::None or a reduction) and backward, on given views.
struct Case {
  const char* name;
  bool weighted;     // has a per-element weight option
  bool exact;        // SIMD must equal the scalar Op bitwise
  float boundary;    // a branch point of |x - y|
  std::function<void(ConstView<float>, ConstView<float>, ConstView<float>, TensorView<float>, Reduction)> fwd;
  std::function<void(ConstView<float>, ConstView<float>, ConstView<float>, ConstView<float>, TensorView<float>,
                     TensorView<float>, Reduction)>
      bwd;  // (grad_output, x, y, w, grad_input, grad_target or null, reduction)
  bool grad_target = false;  // the API has a target gradient (the exact kinds always do)
  // An absolute allowance for element (x, y)'s loss (which 0), d/dx (1) or d/dy (2) at an upstream
  // gradient of 1, where the formula cancels in both paths alike (msle's log1p difference,
  // log_cosh's z + log1p(e) - ln 2) or a function is Highway's (log_cosh's tanh, 4 ULP).
  std::function<double(double, double, int)> cancel;
  float y_scale = 1;  // finite targets are multiplied by it (counts above 1 for poisson's full form)
};

// poisson_nll full: Stirling's terms y log y - y + 0.5 log(2 pi y) (y > 1) cancel among
// themselves and against the rest (exp(x) - y x, or x - y log(x + eps) for rate inputs); with
// counts above 1, d/dx = exp(x) - y (or 1 - y / (x + eps)) cancels too.
double poisson_full_cancel(double x, double y, int which, bool log_input) {
  if (!(y > 1)) return 0.0;
  const double base = log_input ? std::exp(x) + std::abs(y * x) : std::abs(x) + std::abs(y * std::log(x + 1e-3));
  const double t = which == 0 ? 3e-7 * (base + std::abs(y * std::log(y)) + y + std::abs(0.5 * std::log(6.283 * y)))
                 : which == 2 ? 3e-7 * (std::abs(std::log(y)) + 0.5 / y + (log_input ? std::abs(x) : std::abs(std::log(x + 1e-3))))
                              : 3e-7 * (log_input ? std::exp(x) + std::abs(y) : 1 + std::abs(y / (x + 1e-3)));
  return std::isfinite(t) ? t : 0.0;
}

// msle: r = L(x) - L(y), L(v) = log1p(max(v, eps)), each L within 2 float32 ULP in either path.
double msle_cancel(double x, double y, int which) {
  const double eps = 1e-7f;
  const double cx = x >= eps ? x : eps, cy = y >= eps ? y : eps;
  const double lx = std::log1p(cx), ly = std::log1p(cy), r = lx - ly, e = 3e-7 * (std::abs(lx) + std::abs(ly));
  const double t = which == 0 ? 2 * std::abs(r) * e + e * e : 2 * e / ((which == 1 ? cx : cy) + 1);
  return std::isfinite(t) ? t : 0.0;
}

// sigmoid_focal: the loss and the gradient's terms within a few ULP each, per factor (p and omp
// from an approximate reciprocal, q^gamma by squaring or, for other gamma, exp(gamma log q),
// whose error grows with gamma |log q|); the gradient's p - y cancels as bce_with_logits'.
std::function<double(double, double, int)> focal_cancel(double alpha, double gamma) {
  return [alpha, gamma](double x, double y, int which) {
    const double p = 1 / (1 + std::exp(-x)), omp = 1 / (1 + std::exp(x));
    const double q = p * (1 - y) + omp * y, at = alpha < 0 ? 1 : alpha * y + (1 - alpha) * (1 - y);
    const double spn = std::log1p(std::exp(-x)), spp = std::log1p(std::exp(x)), ce = y * spn + (1 - y) * spp;
    // Condition numbers of the sums (targets outside [0, 1] make them differences).
    const double qc = (std::abs(p * (1 - y)) + std::abs(omp * y)) / std::abs(q);
    const double atc = alpha < 0 ? 0 : (std::abs(alpha * y) + std::abs((1 - alpha) * (1 - y))) / std::abs(at);
    const double cec = (std::abs(y * spn) + std::abs((1 - y) * spp)) / std::abs(ce);
    const bool gen = gamma != 0 && gamma != 1 && gamma != 2;
    const double rel = 6e-8 * (4 + 4 * atc + 4 * cec + 4 * gamma * qc +
                               (gen ? 2 * gamma * std::abs(std::log(std::abs(q))) + 4 : 0));
    const double mod = std::pow(std::abs(q), gamma);
    const double extra = gamma != 0 ? gamma * ce * std::pow(std::abs(q), gamma - 1) * (1 - 2 * y) * p * omp : 0;
    const double t = which == 0 ? rel * std::abs(at * mod * ce)
                                : std::abs(at) * (rel * (std::abs((p - y) * mod) + std::abs(extra)) + 1.2e-7 * mod);
    return std::isfinite(t) ? t : 0.0;
  };
}

// log_cosh: the loss within a few ULP of z + ln 2; tanh within 4 ULP (Highway) plus the scalar's.
double log_cosh_cancel(double x, double y, int which) {
  const double z = std::abs(x - y);
  const double t = which == 0 ? 3e-7 * (z + 1) : 6e-7 * std::tanh(z);
  return std::isfinite(t) ? t : 0.0;
}

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"mse", true, true, 1.0f,
               [](auto x, auto y, auto w, auto o, Reduction r) {
                 losskit::mse_loss(x, y, o, {.reduction = r, .weight = w});
               },
               [](auto g, auto x, auto y, auto w, auto gi, auto gt, Reduction r) {
                 losskit::mse_loss_backward(g, x, y, gi, gt, {.reduction = r, .weight = w});
               }});
  c.push_back({"l1", true, true, 1.0f,
               [](auto x, auto y, auto w, auto o, Reduction r) {
                 losskit::l1_loss(x, y, o, {.reduction = r, .weight = w});
               },
               [](auto g, auto x, auto y, auto w, auto gi, auto gt, Reduction r) {
                 losskit::l1_loss_backward(g, x, y, gi, gt, {.reduction = r, .weight = w});
               }});
  for (double delta : {1.0, 0.3, 2.5}) {
    c.push_back({"huber", true, true, static_cast<float>(delta),
                 [delta](auto x, auto y, auto w, auto o, Reduction r) {
                   losskit::huber_loss(x, y, o, {.reduction = r, .delta = delta, .weight = w});
                 },
                 [delta](auto g, auto x, auto y, auto w, auto gi, auto gt, Reduction r) {
                   losskit::huber_loss_backward(g, x, y, gi, gt, {.reduction = r, .delta = delta, .weight = w});
                 }});
  }
  for (double beta : {1.0, 0.3, 2.5, 0.0}) {
    c.push_back({"smooth_l1", false, true, static_cast<float>(beta),
                 [beta](auto x, auto y, auto, auto o, Reduction r) {
                   losskit::smooth_l1_loss(x, y, o, {.reduction = r, .beta = beta});
                 },
                 [beta](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                   losskit::smooth_l1_loss_backward(g, x, y, gi, gt, {.reduction = r, .beta = beta});
                 }});
  }
  c.push_back({"bce_with_logits", true, false, 0.0f,
               [](auto x, auto y, auto w, auto o, Reduction r) {
                 losskit::binary_cross_entropy_with_logits(x, y, o, {.weight = w, .reduction = r});
               },
               [](auto g, auto x, auto y, auto w, auto gi, auto, Reduction r) {
                 losskit::binary_cross_entropy_with_logits_backward(g, x, y, gi, {.weight = w, .reduction = r});
               }});
  c.push_back({"soft_margin", false, false, 0.0f,
               [](auto x, auto y, auto, auto o, Reduction r) { losskit::soft_margin_loss(x, y, o, {.reduction = r}); },
               [](auto g, auto x, auto y, auto, auto gi, auto, Reduction r) {
                 losskit::soft_margin_loss_backward(g, x, y, gi, {.reduction = r});
               }});
  c.push_back({"poisson_nll", false, false, 0.0f,
               [](auto x, auto y, auto, auto o, Reduction r) { losskit::poisson_nll_loss(x, y, o, {.reduction = r}); },
               [](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                 losskit::poisson_nll_loss_backward(g, x, y, gi, gt, {.reduction = r});
               },
               true});
  c.push_back({"poisson_nll rate", false, false, 0.0f,
               [](auto x, auto y, auto, auto o, Reduction r) {
                 losskit::poisson_nll_loss(x, y, o, {.log_input = false, .eps = 1e-3, .reduction = r});
               },
               [](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                 losskit::poisson_nll_loss_backward(g, x, y, gi, gt, {.log_input = false, .eps = 1e-3, .reduction = r});
               },
               true});
  c.push_back({"poisson_nll full", false, false, 0.0f,
               [](auto x, auto y, auto, auto o, Reduction r) {
                 losskit::poisson_nll_loss(x, y, o, {.full = true, .reduction = r});
               },
               [](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                 losskit::poisson_nll_loss_backward(g, x, y, gi, gt, {.full = true, .reduction = r});
               },
               true, [](double x, double y, int w) { return poisson_full_cancel(x, y, w, true); }, 6.0f});
  c.push_back({"poisson_nll rate full", false, false, 0.0f,
               [](auto x, auto y, auto, auto o, Reduction r) {
                 losskit::poisson_nll_loss(x, y, o, {.log_input = false, .full = true, .eps = 1e-3, .reduction = r});
               },
               [](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                 losskit::poisson_nll_loss_backward(g, x, y, gi, gt,
                                                    {.log_input = false, .full = true, .eps = 1e-3, .reduction = r});
               },
               true, [](double x, double y, int w) { return poisson_full_cancel(x, y, w, false); }, 6.0f});
  c.push_back({"log_cosh", false, false, 1.0f,
               [](auto x, auto y, auto, auto o, Reduction r) { losskit::log_cosh_loss(x, y, o, {.reduction = r}); },
               [](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                 losskit::log_cosh_loss_backward(g, x, y, gi, gt, {.reduction = r});
               },
               true, log_cosh_cancel});
  c.push_back({"msle", false, false, 1e-7f,
               [](auto x, auto y, auto, auto o, Reduction r) { losskit::msle_loss(x, y, o, {.reduction = r}); },
               [](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                 losskit::msle_loss_backward(g, x, y, gi, gt, {.reduction = r});
               },
               true, msle_cancel});
  struct Focal {
    const char* name;
    double alpha, gamma;
  };
  for (const Focal f : {Focal{"sigmoid_focal 0.25 2", 0.25, 2.0}, Focal{"sigmoid_focal -1 1.5", -1.0, 1.5},
                        Focal{"sigmoid_focal 0.6 3", 0.6, 3.0}, Focal{"sigmoid_focal 0.25 0", 0.25, 0.0},
                        Focal{"sigmoid_focal 0.5 1", 0.5, 1.0}, Focal{"sigmoid_focal 0.25 0.5", 0.25, 0.5}}) {
    const double alpha = f.alpha, gamma = f.gamma;
    c.push_back({f.name, false, false, 1.0f,
                 [=](auto x, auto y, auto, auto o, Reduction r) {
                   losskit::sigmoid_focal_loss(x, y, o, {.alpha = alpha, .gamma = gamma, .reduction = r});
                 },
                 [=](auto g, auto x, auto y, auto, auto gi, auto, Reduction r) {
                   losskit::sigmoid_focal_loss_backward(g, x, y, gi, {.alpha = alpha, .gamma = gamma, .reduction = r});
                 },
                 false, focal_cancel(alpha, gamma)});
  }
  for (const double tau : {0.3, 0.0, 1.0}) {
    c.push_back({tau == 0.3 ? "quantile 0.3" : (tau == 0 ? "quantile 0" : "quantile 1"), false, true, 0.0f,
                 [tau](auto x, auto y, auto, auto o, Reduction r) {
                   losskit::quantile_loss(x, y, o, {.tau = tau, .reduction = r});
                 },
                 [tau](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                   losskit::quantile_loss_backward(g, x, y, gi, gt, {.tau = tau, .reduction = r});
                 },
                 true});
  }
  c.push_back({"mape", false, true, 1e-7f,
               [](auto x, auto y, auto, auto o, Reduction r) { losskit::mape_loss(x, y, o, {.reduction = r}); },
               [](auto g, auto x, auto y, auto, auto gi, auto gt, Reduction r) {
                 losskit::mape_loss_backward(g, x, y, gi, gt, {.reduction = r});
               },
               true});
  return c;
}

bool same_bits(float a, float b) {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b) || (std::isnan(a) && std::isnan(b));
}

// slack: an absolute allowance for bce_with_logits' gradient (sigmoid(x) - y cancels, so one
// ULP of the sigmoid, times the upstream gradient, shows in full).
void expect_match(const Case& c, float got, float ref, const char* what, std::size_t i, double slack = 0) {
  if (c.exact) {
    EXPECT_TRUE(same_bits(got, ref)) << what << "[" << i << "]: simd " << got << " scalar " << ref;
  } else if (std::isnan(ref) || std::isinf(ref)) {
    EXPECT_TRUE(same_bits(got, ref)) << what << "[" << i << "]: simd " << got << " scalar " << ref;
  } else {
    EXPECT_NEAR(got, ref, 4e-7 * std::abs(ref) + slack + 1e-37) << what << "[" << i << "]";
  }
}

// Contiguous operands (SIMD sweep) vs the same values in stride-2 views (scalar Op).
void check_case(const Case& c, std::int64_t n, bool weighted) {
  const auto un = static_cast<std::size_t>(n);
  Data d = make_data(un, static_cast<std::uint32_t>(n * 3 + 1), c.boundary, !c.exact);
  for (auto& v : d.y)
    if (std::isfinite(v)) v *= c.y_scale;
  std::vector<float> x2(2 * un), y2(2 * un), w2(2 * un), g2(2 * un);
  for (std::size_t i = 0; i < un; ++i) x2[2 * i] = d.x[i], y2[2 * i] = d.y[i], w2[2 * i] = d.w[i], g2[2 * i] = d.g[i];
  const ConstView<float> xc(d.x.data(), {n}), yc(d.y.data(), {n}), gc(d.g.data(), {n});
  const ConstView<float> xs(x2.data(), {n}, {2}), ys(y2.data(), {n}, {2}), gs(g2.data(), {n}, {2});
  const ConstView<float> wc = weighted ? ConstView<float>(d.w.data(), {n}) : ConstView<float>{};
  const ConstView<float> ws = weighted ? ConstView<float>(w2.data(), {n}, {2}) : ConstView<float>{};
  const bool has_gt = c.exact || c.grad_target;
  // Reduction::None: per-element values and gradients.
  std::vector<float> o1(un), o2(un), gi1(un), gi2(un), gt1(un), gt2(un);
  c.fwd(xc, yc, wc, TensorView<float>(o1.data(), {n}), Reduction::None);
  c.fwd(xs, ys, ws, TensorView<float>(o2.data(), {n}), Reduction::None);
  const TensorView<float> no_gt{};
  c.bwd(gc, xc, yc, wc, TensorView<float>(gi1.data(), {n}), has_gt ? TensorView<float>(gt1.data(), {n}) : no_gt,
        Reduction::None);
  c.bwd(gs, xs, ys, ws, TensorView<float>(gi2.data(), {n}), has_gt ? TensorView<float>(gt2.data(), {n}) : no_gt,
        Reduction::None);
  auto cancel = [&](std::size_t i, int which) { return c.cancel ? c.cancel(d.x[i], d.y[i], which) : 0.0; };
  for (std::size_t i = 0; i < un; ++i) {
    expect_match(c, o1[i], o2[i], "loss", i, cancel(i, 0));
    const double wi = weighted ? std::abs(d.w[i]) : 1.0;
    expect_match(c, gi1[i], gi2[i], "d/dx", i, (1.2e-7 + cancel(i, 1)) * std::abs(d.g[i]) * wi);
    if (has_gt) expect_match(c, gt1[i], gt2[i], "d/dy", i, cancel(i, 2) * std::abs(d.g[i]));
  }
  // Reduction::Sum on the finite elements only (a NaN would hide everything).
  std::vector<float> xf(un), yf(un);
  for (std::size_t i = 0; i < un; ++i) {
    const bool fin = std::isfinite(d.x[i]) && std::isfinite(d.y[i]) && std::abs(d.x[i]) < 1e30f;
    xf[i] = fin ? d.x[i] : 0.25f;
    yf[i] = fin ? d.y[i] : 0.5f;
  }
  std::vector<float> xf2(2 * un), yf2(2 * un);
  for (std::size_t i = 0; i < un; ++i) xf2[2 * i] = xf[i], yf2[2 * i] = yf[i];
  float s1 = 0, s2 = 0;
  std::vector<float> ga(un), gb(un);
  const float up = 0.75f;
  c.fwd(ConstView<float>(xf.data(), {n}), ConstView<float>(yf.data(), {n}), wc, TensorView<float>(&s1, {}),
        Reduction::Mean);
  c.fwd(ConstView<float>(xf2.data(), {n}, {2}), ConstView<float>(yf2.data(), {n}, {2}), ws,
        TensorView<float>(&s2, {}), Reduction::Mean);
  if (!same_bits(s1, s2)) EXPECT_NEAR(s1, s2, 1e-5 * std::abs(s2) + 1e-6) << "mean";  // (both inf or NaN: fine)
  c.bwd(ConstView<float>(&up, {}), ConstView<float>(xf.data(), {n}), ConstView<float>(yf.data(), {n}), wc,
        TensorView<float>(ga.data(), {n}), no_gt, Reduction::Mean);
  c.bwd(ConstView<float>(&up, {}), ConstView<float>(xf2.data(), {n}, {2}), ConstView<float>(yf2.data(), {n}, {2}), ws,
        TensorView<float>(gb.data(), {n}), no_gt, Reduction::Mean);
  for (std::size_t i = 0; i < un; ++i) {
    const double wi = weighted ? std::abs(d.w[i]) : 1.0;
    const double sl = c.cancel ? c.cancel(xf[i], yf[i], 1) : 0.0;
    expect_match(c, ga[i], gb[i], "mean d/dx", i, (1.2e-7 + sl) * up / static_cast<double>(n) * wi);
  }
}

TEST(PointwiseSimd, MatchesScalarOpOnEveryTargetAndSize) {
  for_each_target([] {
    for (const Case& c : cases()) {
      SCOPED_TRACE(std::string(c.name) + " boundary " + std::to_string(c.boundary));
      std::vector<std::int64_t> sizes;
      for (std::int64_t n = 1; n <= 67; ++n) sizes.push_back(n);
      sizes.push_back(1000);
      for (const std::int64_t n : sizes) {
        SCOPED_TRACE("n = " + std::to_string(n));
        for (bool weighted : {false, true}) {
          if (weighted && !c.weighted) continue;
          check_case(c, n, weighted);
        }
        if (::testing::Test::HasFailure()) return;
      }
    }
  });
}

// bce_with_logits at +-inf logits: the SIMD kind gives the scalar Op's finite limits, and its
// target gradient (not reachable through the API) is sp(-x) - sp(x) = -x.
TEST(PointwiseSimd, BCELogitsLimitsAtInfinity) {
  for_each_target([] {
    const std::vector<float> x = {kInf, -kInf, kInf, -kInf, kInf, -kInf, 0.0f, 30.0f, -30.0f, kNaN};
    const std::vector<float> y = {1.0f, 0.0f, 0.0f, 1.0f, 0.25f, 0.25f, 0.5f, 1.0f, 0.0f, 0.5f};
    const std::size_t n = x.size();
    std::vector<float> out(n), gi(n), gt(n);
    const k::PwArgs a{.x = x.data(), .y = y.data(), .out = out.data(), .forward = true, .gi = gi.data(),
                      .gt = gt.data(), .scale = 1.0f};
    kernel("binary_cross_entropy_with_logits")({}, a, 0, static_cast<std::int64_t>(n));
    const std::vector<float> l_ref = {0.0f, 0.0f, kInf, kInf, kInf, kInf, std::log(2.0f), 9.357623e-14f,
                                      9.357623e-14f, kNaN};
    const std::vector<float> dx_ref = {0.0f, 0.0f, 1.0f, -1.0f, 0.75f, -0.25f, 0.0f, 0.0f, 0.0f, kNaN};
    const std::vector<float> dy_ref = {-kInf, kInf, -kInf, kInf, -kInf, kInf, 0.0f, -30.0f, 30.0f, kNaN};
    for (std::size_t i = 0; i < n; ++i) {
      SCOPED_TRACE("x = " + std::to_string(x[i]) + ", y = " + std::to_string(y[i]));
      if (std::isnan(l_ref[i])) EXPECT_TRUE(std::isnan(out[i]));
      else if (std::isinf(l_ref[i])) EXPECT_EQ(out[i], l_ref[i]);
      else EXPECT_NEAR(out[i], l_ref[i], 1e-6 * std::abs(l_ref[i]) + 1e-20);
      if (std::isnan(dx_ref[i])) EXPECT_TRUE(std::isnan(gi[i]));
      else EXPECT_NEAR(gi[i], dx_ref[i], 1e-7);
      if (std::isnan(dy_ref[i])) EXPECT_TRUE(std::isnan(gt[i]));
      else EXPECT_EQ(gt[i], dy_ref[i]);
    }
  });
}

// The fused value-and-gradient sweep without weights (the plain loop: four vectors at a time,
// bce_with_logits' short form for groups whose inputs are all finite) against the general
// sweep (per-element values and gradients at once): the same gradient bits, the sum within
// float32 rounding of the per-element values' sum, and, lane by lane, values that do not depend
// on a neighbouring NaN or inf.
TEST(PointwiseSimd, FusedPlainSweepMatchesGeneralSweep) {
  const char* kinds[] = {"binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "huber_loss", "kl_div",
                         "kl_div_log_target", "soft_margin_loss", "poisson_nll_loss_log_input", "log_cosh_loss",
                         "msle_loss", "mape_loss", "sigmoid_focal_loss",
                         "quantile_loss"};  // margin_ranking_loss: MarginRankingMatchesScalar (aux kernel)
  for_each_target([&] {
    for (const std::string kind : kinds) {
      SCOPED_TRACE("kernel " + kind);
      const k::PwBlockFn block = kernel(kind);
      ASSERT_NE(block, nullptr);
      for (const std::size_t n : {1, 15, 16, 17, 63, 64, 65, 200, 1000, 4099}) {
        SCOPED_TRACE("n = " + std::to_string(n));
        std::vector<float> x = randn(n, static_cast<std::uint32_t>(n), 4.0f), y = randn(n, 7, 1.0f);
        for (auto& v : y) v = kind == "kl_div_log_target" ? -std::abs(v) : std::abs(v) / (1.0f + std::abs(v));
        const k::PwParams params{0.7f, 0, 0};
        for (const bool specials : {false, true}) {
          std::vector<float> xs = x, ys = y;
          if (specials && n > 100) {  // in one vector of one group only
            xs[70] = kInf, xs[75] = kNaN, ys[77] = kInf, xs[78] = -kInf;
          }
          std::vector<float> g1(n), g2(n), out(n);
          const k::PwArgs fused{.x = xs.data(), .y = ys.data(), .forward = true, .gi = g1.data(), .scale = 0.5f};
          const double s = block(params, fused, 0, static_cast<std::int64_t>(n));
          const k::PwArgs general{.x = xs.data(), .y = ys.data(), .out = out.data(), .forward = true, .gi = g2.data(),
                                  .scale = 0.5f};
          block(params, general, 0, static_cast<std::int64_t>(n));
          double ref = 0, mag = 0;
          for (std::size_t i = 0; i < n; ++i) {
            ASSERT_TRUE(same_bits(g1[i], g2[i])) << i << ": " << g1[i] << " vs " << g2[i];
            ref += out[i], mag += std::abs(out[i]);
          }
          if (std::isnan(ref)) EXPECT_TRUE(std::isnan(s));
          else if (std::isinf(ref)) EXPECT_EQ(s, ref);
          else EXPECT_NEAR(s, ref, 3e-7 * mag + 1e-30);
          // Each finite element alone gives the bits it had among the others.
          for (std::size_t i = 0; i < n; i += (n > 300 ? 7 : 1)) {
            float o1 = 0, gi1 = 0;
            const k::PwArgs one{.x = &xs[i], .y = &ys[i], .out = &o1, .forward = true, .gi = &gi1, .scale = 0.5f};
            block(params, one, 0, 1);
            ASSERT_TRUE(same_bits(o1, out[i])) << i << ": " << o1 << " vs " << out[i];
            ASSERT_TRUE(same_bits(gi1, g2[i])) << i;
          }
        }
      }
    }
  });
}

// bce_with_logits with pos_weight [C] against [R, C]: the SIMD kind reads pos_weight in place
// (periodic aux, segments that do not wrap, short periods repeated into a buffer) and must
// agree with the scalar Op (the same values through stride-2 views), specials included.
TEST(PointwiseSimd, BCELogitsPosWeightMatchesScalar) {
  for_each_target([] {
    for (const std::int64_t C : {1, 3, 16, 17, 100, 5000}) {
      for (const std::int64_t R : {1, 7, 300}) {
        if (R * C > 400000) continue;
        SCOPED_TRACE("R = " + std::to_string(R) + ", C = " + std::to_string(C));
        const auto n = static_cast<std::size_t>(R * C);
        Data d = make_data(n, static_cast<std::uint32_t>(R * 7 + C), 0.0f, true);
        std::vector<float> pw = randn(static_cast<std::size_t>(C), static_cast<std::uint32_t>(C), 1.0f);
        for (auto& v : pw) v = std::abs(v) + 0.1f;
        if (C > 10) pw[3] = 0.0f, pw[5] = kInf, pw[9] = kNaN;
        std::vector<float> x2(2 * n), y2(2 * n), g2(2 * n);
        for (std::size_t i = 0; i < n; ++i) x2[2 * i] = d.x[i], y2[2 * i] = d.y[i], g2[2 * i] = d.g[i];
        const losskit::Shape sh{R, C};
        const ConstView<float> xc(d.x.data(), sh), yc(d.y.data(), sh), gc(d.g.data(), sh);
        const ConstView<float> xs(x2.data(), sh, {2 * C, 2}), ys(y2.data(), sh, {2 * C, 2}), gs(g2.data(), sh, {2 * C, 2});
        const ConstView<float> pwv(pw.data(), {C});
        std::vector<float> o1(n), o2(n), gi1(n), gi2(n);
        for (const Reduction r : {Reduction::None, Reduction::Sum}) {
          const losskit::BCEWithLogitsOptions<float> opt{.pos_weight = pwv, .reduction = r};
          if (r == Reduction::None) {
            losskit::binary_cross_entropy_with_logits(xc, yc, TensorView<float>(o1.data(), sh), opt);
            losskit::binary_cross_entropy_with_logits(xs, ys, TensorView<float>(o2.data(), sh), opt);
            losskit::binary_cross_entropy_with_logits_backward(gc, xc, yc, TensorView<float>(gi1.data(), sh), opt);
            losskit::binary_cross_entropy_with_logits_backward(gs, xs, ys, TensorView<float>(gi2.data(), sh), opt);
          } else {
            // Finite operands only (one NaN would hide the rest of the sum).
            std::vector<float> xf = d.x, yf = d.y, pf = pw;
            for (std::size_t i = 0; i < n; ++i)
              if (!std::isfinite(xf[i]) || !std::isfinite(yf[i]) || std::abs(xf[i]) > 1e30f) xf[i] = 0.25f, yf[i] = 0.5f;
            for (auto& v : pf) if (!std::isfinite(v)) v = 2.0f;
            std::vector<float> xf2(2 * n), yf2(2 * n);
            for (std::size_t i = 0; i < n; ++i) xf2[2 * i] = xf[i], yf2[2 * i] = yf[i];
            const losskit::BCEWithLogitsOptions<float> of{.pos_weight = ConstView<float>(pf.data(), {C}),
                                                           .reduction = Reduction::Mean};
            float s1 = 0, s2 = 0;
            std::vector<float> ga(n), gb(n);
            losskit::binary_cross_entropy_with_logits_forward_backward(ConstView<float>(xf.data(), sh),
                                                                       ConstView<float>(yf.data(), sh),
                                                                       TensorView<float>(&s1, {}),
                                                                       TensorView<float>(ga.data(), sh), of);
            losskit::binary_cross_entropy_with_logits_forward_backward(ConstView<float>(xf2.data(), sh, {2 * C, 2}),
                                                                       ConstView<float>(yf2.data(), sh, {2 * C, 2}),
                                                                       TensorView<float>(&s2, {}),
                                                                       TensorView<float>(gb.data(), sh), of);
            if (!same_bits(s1, s2)) EXPECT_NEAR(s1, s2, 1e-5 * std::abs(s2) + 1e-6) << "mean";  // (both inf or NaN: fine)
            for (std::size_t i = 0; i < n; ++i)
              ASSERT_NEAR(ga[i], gb[i], 4e-7 * std::abs(gb[i]) + 1.2e-7 * 8 / static_cast<double>(n) + 1e-37) << i;
            continue;
          }
          for (std::size_t i = 0; i < n; ++i) {
            const float a1 = o1[i], a2 = o2[i];
            if (std::isnan(a2) || std::isinf(a2)) ASSERT_TRUE(same_bits(a1, a2)) << "loss " << i << ": " << a1 << " vs " << a2;
            else ASSERT_NEAR(a1, a2, 4e-7 * std::abs(a2) + 1e-37) << "loss " << i;
            const double slack = 1.2e-7 * 4 * std::abs(d.g[i]) * (std::isfinite(pw[i % C]) ? 1 + pw[i % C] : 1);
            if (std::isnan(gi2[i]) || std::isinf(gi2[i])) ASSERT_TRUE(same_bits(gi1[i], gi2[i])) << "d/dx " << i;
            else ASSERT_NEAR(gi1[i], gi2[i], 4e-7 * std::abs(gi2[i]) + slack + 1e-37) << "d/dx " << i;
          }
        }
      }
    }
  });
}

// binary_cross_entropy on probabilities: the SIMD kind (contiguous) against the scalar Op (the
// same values through stride-2 views): values within a few ULP of their terms' size, d/dx
// bitwise (the same float32 operations), at 0, 1, subnormals, the 1/2 split of log1p(-x) and
// with targets outside [0, 1] or NaN.
TEST(PointwiseSimd, BCEProbabilitiesMatchesScalar) {
  for_each_target([] {
    for (const std::int64_t n : {1, 15, 17, 64, 67, 1000}) {
      SCOPED_TRACE("n = " + std::to_string(n));
      const auto un = static_cast<std::size_t>(n);
      std::mt19937 rng(static_cast<std::uint32_t>(n));
      std::uniform_real_distribution<float> u01(0.0f, 1.0f);
      std::vector<float> x(un), y(un), w = randn(un, 5, 1.0f), g = randn(un, 6, 1.0f);
      for (auto& v : x) v = u01(rng);
      for (auto& v : y) v = u01(rng);
      const float xs[] = {0.0f, 1.0f, 1e-30f, 1e-45f, 0.99999994f, 0.5f, 0.49999997f, 0.50000006f, 1e-8f, 0.75f};
      const float ys[] = {0.0f, 1.0f, 0.5f, kNaN, kInf, -1.0f, 2.0f, 1.0f, 0.0f, 0.3f};
      for (std::size_t j = 0; j < 10 && j < un; ++j) x[(7 * j + 2) % un] = xs[j], y[(7 * j + 2) % un] = ys[j];
      std::vector<float> x2(2 * un), y2(2 * un), w2(2 * un), g2(2 * un);
      for (std::size_t i = 0; i < un; ++i) x2[2 * i] = x[i], y2[2 * i] = y[i], w2[2 * i] = w[i], g2[2 * i] = g[i];
      for (const bool weighted : {false, true}) {
        const ConstView<float> wc = weighted ? ConstView<float>(w.data(), {n}) : ConstView<float>{};
        const ConstView<float> ws = weighted ? ConstView<float>(w2.data(), {n}, {2}) : ConstView<float>{};
        const losskit::BCEOptions<float> oc{.weight = wc, .reduction = Reduction::None};
        const losskit::BCEOptions<float> os{.weight = ws, .reduction = Reduction::None};
        std::vector<float> o1(un), o2(un), gi1(un), gi2(un);
        losskit::binary_cross_entropy(ConstView<float>(x.data(), {n}), ConstView<float>(y.data(), {n}),
                                      TensorView<float>(o1.data(), {n}), oc);
        losskit::binary_cross_entropy(ConstView<float>(x2.data(), {n}, {2}), ConstView<float>(y2.data(), {n}, {2}),
                                      TensorView<float>(o2.data(), {n}), os);
        losskit::binary_cross_entropy_backward(ConstView<float>(g.data(), {n}), ConstView<float>(x.data(), {n}),
                                               ConstView<float>(y.data(), {n}), TensorView<float>(gi1.data(), {n}), oc);
        losskit::binary_cross_entropy_backward(ConstView<float>(g2.data(), {n}, {2}), ConstView<float>(x2.data(), {n}, {2}),
                                               ConstView<float>(y2.data(), {n}, {2}), TensorView<float>(gi2.data(), {n}), os);
        if (!weighted) {  // the contiguous call is the SIMD kind
          std::vector<float> direct(un);
          const k::PwArgs pa{.x = x.data(), .y = y.data(), .out = direct.data(), .forward = true};
          kernel("binary_cross_entropy")({}, pa, 0, n);
          for (std::size_t i = 0; i < un; ++i) ASSERT_TRUE(same_bits(direct[i], o1[i])) << i;
        }
        for (std::size_t i = 0; i < un; ++i) {
          const double lx = std::max(std::log(static_cast<double>(x[i])), -100.0);
          const double l1 = std::max(std::log1p(-static_cast<double>(x[i])), -100.0);
          const double size = (std::abs(y[i] - 1.0) * std::abs(l1) + std::abs(y[i]) * std::abs(lx)) *
                              (weighted ? std::abs(w[i]) : 1.0);
          if (std::isnan(o2[i]) || std::isinf(o2[i])) ASSERT_TRUE(same_bits(o1[i], o2[i])) << "loss " << i;
          else ASSERT_NEAR(o1[i], o2[i], 3e-7 * size + 1e-37) << "loss " << i << " x = " << x[i] << " y = " << y[i];
          ASSERT_TRUE(same_bits(gi1[i], gi2[i])) << "d/dx " << i << ": " << gi1[i] << " vs " << gi2[i];
        }
      }
    }
  });
}

}  // namespace

// gaussian_nll_loss with a per-element variance: the float32 SIMD kind (contiguous arrays)
// against the scalar loop (the same values in stride-2 views), values and the three gradients,
// with variances below eps, zero, NaN and inf, and infinite or NaN differences.
TEST(PointwiseSimd, GaussianNLLMatchesScalar) {
  for_each_target([] {
    for (const std::int64_t n : {1, 5, 16, 17, 33, 67, 1000}) {
      SCOPED_TRACE("n = " + std::to_string(n));
      const auto un = static_cast<std::size_t>(n);
      std::vector<float> x = randn(un, 11, 2.0f), y = randn(un, 12, 2.0f), v = randn(un, 13, 1.0f), g = randn(un, 14, 1.0f);
      for (auto& e : v) e = e * e + 0.01f;
      const float sv[][3] = {{0.5f, 0.25f, 0.0f}, {1.0f, -1.0f, 1e-9f}, {0.0f, 0.0f, 0.0f}, {1.0f, 2.0f, kNaN},
                             {kInf, 0.0f, 1.0f},  {1.0f, 2.0f, kInf},   {kNaN, 1.0f, 2.0f}, {3e19f, -3e19f, 1e-3f}};
      for (std::size_t j = 0; j < 8 && 3 * j < un; ++j) {
        x[3 * j] = sv[j][0];
        y[3 * j] = sv[j][1];
        v[3 * j] = sv[j][2];
      }
      for (const bool full : {false, true}) {
        const losskit::GaussianNLLLossOptions o{.full = full, .eps = 1e-6, .reduction = Reduction::None};
        std::vector<float> x2(2 * un), y2(2 * un), v2(2 * un), g2(2 * un);
        for (std::size_t i = 0; i < un; ++i) x2[2 * i] = x[i], y2[2 * i] = y[i], v2[2 * i] = v[i], g2[2 * i] = g[i];
        std::vector<float> l1(un), l2(un), a1(un), a2(un), b1(un), b2(un), c1(un), c2(un);
        losskit::gaussian_nll_loss(ConstView<float>(x.data(), {n}), ConstView<float>(y.data(), {n}),
                                   ConstView<float>(v.data(), {n}), TensorView<float>(l1.data(), {n}), o);
        losskit::gaussian_nll_loss(ConstView<float>(x2.data(), {n}, {2}), ConstView<float>(y2.data(), {n}, {2}),
                                   ConstView<float>(v2.data(), {n}, {2}), TensorView<float>(l2.data(), {n}), o);
        losskit::gaussian_nll_loss_backward(ConstView<float>(g.data(), {n}), ConstView<float>(x.data(), {n}),
                                            ConstView<float>(y.data(), {n}), ConstView<float>(v.data(), {n}),
                                            TensorView<float>(a1.data(), {n}), TensorView<float>(b1.data(), {n}),
                                            TensorView<float>(c1.data(), {n}), o);
        losskit::gaussian_nll_loss_backward(
            ConstView<float>(g2.data(), {n}, {2}), ConstView<float>(x2.data(), {n}, {2}),
            ConstView<float>(y2.data(), {n}, {2}), ConstView<float>(v2.data(), {n}, {2}),
            TensorView<float>(a2.data(), {n}), TensorView<float>(b2.data(), {n}), TensorView<float>(c2.data(), {n}), o);
        // scale: the size of the terms that a value adds (log v and d^2 / v cancel in the loss,
        // 1 / v and d^2 / v^2 in d/dvar), so a few ULP of them.
        auto near = [](float got, float ref, double scale, const char* what, std::size_t i) {
          if (std::isnan(ref) || std::isinf(ref) || ref == 0) {
            EXPECT_TRUE(same_bits(got, ref) || (ref == 0 && got == 0)) << what << "[" << i << "]: " << got << " vs " << ref;
          } else {
            EXPECT_NEAR(got, ref, 3e-7 * scale + 1e-37) << what << "[" << i << "]";
          }
        };
        for (std::size_t i = 0; i < un; ++i) {
          const double vi = std::max(static_cast<double>(v[i]), 1e-6), di = static_cast<double>(x[i]) - y[i];
          const double gi = std::abs(static_cast<double>(g[i]));
          near(l1[i], l2[i], std::abs(std::log(vi)) + di * di / vi + 1, "loss", i);
          near(a1[i], a2[i], std::abs(a2[i]), "d/dx", i);
          near(b1[i], b2[i], std::abs(b2[i]), "d/dy", i);
          near(c1[i], c2[i], gi * (1 / vi + di * di / (vi * vi)), "d/dvar", i);
        }
      }
    }
  });
}

// margin_ranking_loss: the float32 SIMD kind (flat operands, input2 as the aux operand) against
// the scalar loop (the same values in stride-2 views): the same operations, so the same values
// and gradients (zeros up to their sign), with ties h = 0, +-inf and NaN (kept by clamp_min).
TEST(PointwiseSimd, MarginRankingMatchesScalar) {
  for_each_target([] {
    for (const std::int64_t n : {1, 5, 16, 17, 33, 67, 1000}) {
      SCOPED_TRACE("n = " + std::to_string(n));
      const auto un = static_cast<std::size_t>(n);
      std::vector<float> x = randn(un, 21, 2.0f), x2 = randn(un, 22, 2.0f), y = randn(un, 23, 1.0f),
                         g = randn(un, 24, 1.0f);
      for (auto& e : y) e = e < 0 ? -1.0f : 1.0f;
      const float sv[][3] = {{0.5f, 0.25f, 1.0f}, {1.0f, 0.7f, -1.0f}, {kInf, 0.0f, 1.0f}, {kNaN, 1.0f, -1.0f},
                             {1.0f, kNaN, 1.0f},  {kInf, kInf, 1.0f}, {-kInf, 2.0f, 1.0f}, {1.0f, 1.0f, 0.0f}};
      for (std::size_t j = 0; j < 8 && 3 * j < un; ++j) {
        x[3 * j] = sv[j][0];
        x2[3 * j] = sv[j][1];
        y[3 * j] = sv[j][2];
      }
      std::vector<float> xs(2 * un), x2s(2 * un), ys(2 * un), gs(2 * un);
      for (std::size_t i = 0; i < un; ++i) xs[2 * i] = x[i], x2s[2 * i] = x2[i], ys[2 * i] = y[i], gs[2 * i] = g[i];
      const ConstView<float> X(x.data(), {n}), X2(x2.data(), {n}), Y(y.data(), {n}), G(g.data(), {n});
      const ConstView<float> Xs(xs.data(), {n}, {2}), X2s(x2s.data(), {n}, {2}), Ys(ys.data(), {n}, {2}),
          Gs(gs.data(), {n}, {2});
      for (const double margin : {0.0, 0.3}) {  // 0.3: the tie h = 0 at (1, 0.7, -1)
        const losskit::MarginRankingLossOptions none{.margin = margin, .reduction = Reduction::None};
        std::vector<float> l1(un), l2(un), a1(un), a2(un), b1(un), b2(un);
        losskit::margin_ranking_loss(X, X2, Y, TensorView<float>(l1.data(), {n}), none);
        losskit::margin_ranking_loss(Xs, X2s, Ys, TensorView<float>(l2.data(), {n}), none);
        losskit::margin_ranking_loss_backward(G, X, X2, Y, TensorView<float>(a1.data(), {n}),
                                              TensorView<float>(b1.data(), {n}), none);
        losskit::margin_ranking_loss_backward(Gs, Xs, X2s, Ys, TensorView<float>(a2.data(), {n}),
                                              TensorView<float>(b2.data(), {n}), none);
        for (std::size_t i = 0; i < un; ++i) {
          EXPECT_TRUE(same_bits(l1[i], l2[i]) || (l1[i] == 0 && l2[i] == 0)) << "loss " << i << ": " << l1[i] << " vs " << l2[i];
          EXPECT_TRUE(same_bits(a1[i], a2[i]) || (a1[i] == 0 && a2[i] == 0)) << "d/dx1 " << i;
          EXPECT_TRUE(same_bits(b1[i], b2[i]) || (b1[i] == 0 && b2[i] == 0)) << "d/dx2 " << i;
        }
        // The fused mean: the sum in float64 within float32 rounding of the values, the
        // gradients those of the scalar loop.
        const losskit::MarginRankingLossOptions mean{.margin = margin, .reduction = Reduction::Mean};
        float m1 = 0, m2 = 0;
        losskit::margin_ranking_loss_forward_backward(X, X2, Y, {&m1, {}}, TensorView<float>(a1.data(), {n}),
                                                      TensorView<float>(b1.data(), {n}), mean);
        losskit::margin_ranking_loss_forward_backward(Xs, X2s, Ys, {&m2, {}}, TensorView<float>(a2.data(), {n}),
                                                      TensorView<float>(b2.data(), {n}), mean);
        if (std::isnan(m2)) EXPECT_TRUE(std::isnan(m1));
        else EXPECT_NEAR(m1, m2, 1e-6 * std::abs(m2));
        for (std::size_t i = 0; i < un; ++i) {
          EXPECT_TRUE(same_bits(a1[i], a2[i]) || (a1[i] == 0 && a2[i] == 0)) << "mean d/dx1 " << i;
          EXPECT_TRUE(same_bits(b1[i], b2[i]) || (b1[i] == 0 && b2[i] == 0)) << "mean d/dx2 " << i;
        }
      }
    }
  });
}

// gaussian_nll_loss with one variance per row (rows of 64 and more take the SIMD kind with the
// variance repeated per row, d/dvar summed over the row) against the scalar loop (stride-2 input).
TEST(PointwiseSimd, GaussianNLLPerRowVarianceMatchesScalar) {
  for_each_target([] {
    for (const std::int64_t L : {64, 67, 200}) {
      const std::int64_t R = 5, n = R * L;
      SCOPED_TRACE("L = " + std::to_string(L));
      const auto un = static_cast<std::size_t>(n);
      std::vector<float> x = randn(un, 21, 2.0f), y = randn(un, 22, 2.0f), g = randn(un, 24, 1.0f);
      std::vector<float> v = {0.5f, 1e-9f, 2.0f, kInf, 0.01f};
      x[3] = kInf;  // row 0 holds an infinite difference
      std::vector<float> x2(2 * un), y2(2 * un), g2(2 * un);
      for (std::size_t i = 0; i < un; ++i) x2[2 * i] = x[i], y2[2 * i] = y[i], g2[2 * i] = g[i];
      const losskit::Shape sh{R, L};
      const losskit::Shape sh2{R, L};
      const losskit::Shape st2{2 * L, 2};
      for (const Reduction red : {Reduction::None, Reduction::Mean}) {
        const losskit::GaussianNLLLossOptions o{.full = true, .eps = 1e-6, .reduction = red};
        const losskit::Shape osh = red == Reduction::None ? sh : losskit::Shape{};
        std::vector<float> l1(un), l2(un), a1(un), a2(un), b1(un), b2(un), c1(R), c2(R);
        const float up = 0.5f;
        const ConstView<float> gv1 = red == Reduction::None ? ConstView<float>(g.data(), sh) : ConstView<float>(&up, {});
        const ConstView<float> gv2 = red == Reduction::None ? ConstView<float>(g2.data(), sh2, st2) : ConstView<float>(&up, {});
        losskit::gaussian_nll_loss(ConstView<float>(x.data(), sh), ConstView<float>(y.data(), sh),
                                   ConstView<float>(v.data(), {R}), TensorView<float>(l1.data(), osh), o);
        losskit::gaussian_nll_loss(ConstView<float>(x2.data(), sh2, st2), ConstView<float>(y2.data(), sh2, st2),
                                   ConstView<float>(v.data(), {R}), TensorView<float>(l2.data(), osh), o);
        losskit::gaussian_nll_loss_backward(gv1, ConstView<float>(x.data(), sh), ConstView<float>(y.data(), sh),
                                            ConstView<float>(v.data(), {R}), TensorView<float>(a1.data(), sh),
                                            TensorView<float>(b1.data(), sh), TensorView<float>(c1.data(), {R}), o);
        losskit::gaussian_nll_loss_backward(gv2, ConstView<float>(x2.data(), sh2, st2),
                                            ConstView<float>(y2.data(), sh2, st2), ConstView<float>(v.data(), {R}),
                                            TensorView<float>(a2.data(), sh), TensorView<float>(b2.data(), sh),
                                            TensorView<float>(c2.data(), {R}), o);
        auto near = [](float got, float ref, double tol, const char* what, std::size_t i) {
          if (std::isnan(ref) || std::isinf(ref) || ref == 0) {
            EXPECT_TRUE(same_bits(got, ref) || (ref == 0 && got == 0)) << what << "[" << i << "]: " << got << " vs " << ref;
          } else {
            EXPECT_NEAR(got, ref, tol) << what << "[" << i << "]";
          }
        };
        const std::size_t nl = red == Reduction::None ? un : 1;
        for (std::size_t i = 0; i < nl; ++i) near(l1[i], l2[i], 1e-5 * std::abs(l2[i]) + 1e-6, "loss", i);
        for (std::size_t i = 0; i < un; ++i) {
          near(a1[i], a2[i], 1e-6 * std::abs(a2[i]) + 1e-30, "d/dx", i);
          near(b1[i], b2[i], 1e-6 * std::abs(b2[i]) + 1e-30, "d/dy", i);
        }
        // d/dvar sums a row of terms 0.5 up (1 / v - d^2 / v^2) that cancel: relative to their magnitudes.
        for (std::int64_t r = 0; r < R; ++r) {
          const double vr = std::max(static_cast<double>(v[static_cast<std::size_t>(r)]), 1e-6);
          double mag = 0;
          for (std::int64_t l = 0; l < L; ++l) {
            const auto i = static_cast<std::size_t>(r * L + l);
            const double dd = static_cast<double>(x[i]) - y[i];
            mag += std::abs(red == Reduction::None ? g[i] : up / n) * (1 / vr + dd * dd / (vr * vr));
          }
          near(c1[static_cast<std::size_t>(r)], c2[static_cast<std::size_t>(r)], 1e-6 * mag + 1e-30, "d/dvar",
               static_cast<std::size_t>(r));
        }
      }
    }
  });
}
