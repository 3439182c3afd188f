// Unit tests of the regression losses (losskit/regression.hpp): values against each reference's
// formula, float64 finite-difference gradients for every option (input and target, and var for
// gaussian_nll), extreme inputs, empty tensors, and a table of bad inputs. Parity with libtorch
// lives in tests/torch/regression_embedding_torch_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/testing.hpp"

namespace {

using losskit::ConstView;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using lktest::check_gradient;
using lktest::expect_error_untouched;
using V = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();

/// The three calls of a pair loss, bound to its options, with the reduction left open.
struct PairFns {
  std::function<void(ConstView<double>, ConstView<double>, TensorView<double>, Reduction)> fwd;
  std::function<void(ConstView<double>, ConstView<double>, ConstView<double>, TensorView<double>, TensorView<double>,
                     Reduction)>
      bwd;  // (grad_output, x, y, grad_x, grad_y)
  std::function<void(ConstView<double>, ConstView<double>, TensorView<double>, TensorView<double>, TensorView<double>,
                     Reduction)>
      fb;
};

#define PAIR_FNS(name, opts_expr)                                                                          \
  PairFns{[=](ConstView<double> x, ConstView<double> y, TensorView<double> o, Reduction r) {                \
            auto op = opts_expr;                                                                            \
            op.reduction = r;                                                                               \
            losskit::name(x, y, o, op);                                                                     \
          },                                                                                                \
          [=](ConstView<double> g, ConstView<double> x, ConstView<double> y, TensorView<double> gx,          \
              TensorView<double> gy, Reduction r) {                                                         \
            auto op = opts_expr;                                                                            \
            op.reduction = r;                                                                               \
            losskit::name##_backward(g, x, y, gx, gy, op);                                                  \
          },                                                                                                \
          [=](ConstView<double> x, ConstView<double> y, TensorView<double> o, TensorView<double> gx,         \
              TensorView<double> gy, Reduction r) {                                                         \
            auto op = opts_expr;                                                                            \
            op.reduction = r;                                                                               \
            losskit::name##_forward_backward(x, y, o, gx, gy, op);                                          \
          }}

/// Per-element reference values `ref(x, y)` (times `w` when given), and every reduction.
void check_values(const PairFns& f, const V& x, const V& y, const std::function<double(double, double)>& ref,
                  const V& w = {}, bool mean_over_weights = false, double tol = 1e-12) {
  const Shape s{static_cast<std::int64_t>(x.size())};
  V none(x.size());
  f.fwd({x.data(), s}, {y.data(), s}, {none.data(), s}, Reduction::None);
  double sum = 0, wsum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = ref(x[i], y[i]) * (w.empty() ? 1.0 : w[i]);
    EXPECT_NEAR(none[i], e, tol * (1 + std::fabs(e))) << "element " << i << " x = " << x[i] << " y = " << y[i];
    sum += e;
    wsum += w.empty() ? 1.0 : w[i];
  }
  double m = 0, su = 0;
  f.fwd({x.data(), s}, {y.data(), s}, {&su, Shape{}}, Reduction::Sum);
  f.fwd({x.data(), s}, {y.data(), s}, {&m, Shape{}}, Reduction::Mean);
  EXPECT_NEAR(su, sum, tol * (1 + std::fabs(sum)));
  const double denom = mean_over_weights ? wsum : static_cast<double>(x.size());
  EXPECT_NEAR(m, sum / denom, tol * (1 + std::fabs(sum / denom)));
}

/// Finite-difference checks of the gradients w.r.t. input (and target when `target_grad`), for
/// None with a random upstream gradient, for Mean and Sum (fused and backward), all agreeing.
void check_grads(const PairFns& f, V x, V y, bool target_grad = true, double rtol = 1e-5) {
  const Shape s{static_cast<std::int64_t>(x.size())};
  lktest::Rng rng(7);
  const V u = rng.uniform(x.size(), 0.5, 1.5);
  // None with upstream u: f(x) = sum u_i l_i.
  auto weighted_sum = [&](const V& xx, const V& yy) {
    V l(xx.size());
    f.fwd({xx.data(), s}, {yy.data(), s}, {l.data(), s}, Reduction::None);
    double acc = 0;
    for (std::size_t i = 0; i < l.size(); ++i) acc += u[i] * l[i];
    return acc;
  };
  V gx(x.size()), gy(x.size());
  f.bwd({u.data(), s}, {x.data(), s}, {y.data(), s}, {gx.data(), s},
        target_grad ? TensorView<double>{gy.data(), s} : TensorView<double>{}, Reduction::None);
  EXPECT_TRUE(check_gradient([&](const V& xx) { return weighted_sum(xx, y); }, x, gx, 1e-6, rtol));
  if (target_grad) EXPECT_TRUE(check_gradient([&](const V& yy) { return weighted_sum(x, yy); }, y, gy, 1e-6, rtol));
  for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
    auto reduced = [&](const V& xx, const V& yy) {
      double o = 0;
      f.fwd({xx.data(), s}, {yy.data(), s}, {&o, Shape{}}, r);
      return o;
    };
    double o = 0;
    V fx(x.size()), fy(x.size()), bx(x.size()), by(x.size());
    f.fb({x.data(), s}, {y.data(), s}, {&o, Shape{}}, {fx.data(), s},
         target_grad ? TensorView<double>{fy.data(), s} : TensorView<double>{}, r);
    EXPECT_DOUBLE_EQ(o, reduced(x, y));
    EXPECT_TRUE(check_gradient([&](const V& xx) { return reduced(xx, y); }, x, fx, 1e-6, rtol));
    if (target_grad) EXPECT_TRUE(check_gradient([&](const V& yy) { return reduced(x, yy); }, y, fy, 1e-6, rtol));
    const double g = 1.7;
    f.bwd({&g, Shape{}}, {x.data(), s}, {y.data(), s}, {bx.data(), s},
          target_grad ? TensorView<double>{by.data(), s} : TensorView<double>{}, r);
    for (std::size_t i = 0; i < x.size(); ++i) {
      EXPECT_NEAR(bx[i], g * fx[i], 1e-12 * (1 + std::fabs(bx[i])));
      if (target_grad) EXPECT_NEAR(by[i], g * fy[i], 1e-12 * (1 + std::fabs(by[i])));
    }
  }
}

/// Empty input: None gives an empty output, Sum 0, Mean NaN (as PyTorch).
void check_empty(const PairFns& f) {
  const Shape s{0, 3};
  double o = 1;
  f.fwd({nullptr, s}, {nullptr, s}, {&o, Shape{}}, Reduction::Sum);
  EXPECT_EQ(o, 0.0);
  f.fwd({nullptr, s}, {nullptr, s}, {&o, Shape{}}, Reduction::Mean);
  EXPECT_TRUE(std::isnan(o));
  f.fwd({nullptr, s}, {nullptr, s}, {nullptr, s}, Reduction::None);
  f.fb({nullptr, s}, {nullptr, s}, {&o, Shape{}}, {nullptr, s}, {nullptr, s}, Reduction::Sum);
  EXPECT_EQ(o, 0.0);
}

lktest::Rng& rng() {
  static lktest::Rng r(99);
  return r;
}

// ------------------------------------------------------------------------------------------ mse
TEST(MSELoss, ValuesGradientsWeights) {
  const V x = rng().normal(37), y = rng().normal(37), w = rng().uniform(37, 0.1, 2.0);
  const auto f = PAIR_FNS(mse_loss, losskit::MSELossOptions<double>{});
  check_values(f, x, y, [](double a, double b) { return (a - b) * (a - b); });
  check_grads(f, x, y);
  const auto fw = PAIR_FNS(mse_loss, losskit::MSELossOptions<double>{.weight = ConstView<double>(w.data(), Shape{37})});
  check_values(fw, x, y, [](double a, double b) { return (a - b) * (a - b); }, w, /*mean_over_weights=*/true);
  check_grads(fw, x, y);
  check_empty(f);
}

TEST(L1Loss, ValuesGradientsWeights) {
  const V x = rng().normal(37), y = rng().normal(37), w = rng().uniform(37, 0.1, 2.0);
  const auto f = PAIR_FNS(l1_loss, losskit::L1LossOptions<double>{});
  check_values(f, x, y, [](double a, double b) { return std::fabs(a - b); });
  check_grads(f, x, y);
  const auto fw = PAIR_FNS(l1_loss, losskit::L1LossOptions<double>{.weight = ConstView<double>(w.data(), Shape{37})});
  check_values(fw, x, y, [](double a, double b) { return std::fabs(a - b); }, w, true);
  check_grads(fw, x, y);
  check_empty(f);
  // sign(0) = 0: the gradient at x == y is 0.
  const double a = 2.0, b = 2.0;
  double o, g = 5;
  losskit::l1_loss_forward_backward(ConstView<double>(&a, Shape{1}), ConstView<double>(&b, Shape{1}),
                                    TensorView<double>(&o, Shape{}), TensorView<double>(&g, Shape{1}));
  EXPECT_EQ(g, 0.0);
}

double huber_ref(double a, double b, double delta) {
  const double z = std::fabs(a - b);
  return z < delta ? 0.5 * z * z : delta * (z - 0.5 * delta);
}
double smooth_l1_ref(double a, double b, double beta) {
  const double z = std::fabs(a - b);
  return z < beta ? 0.5 * z * z / beta : z - 0.5 * beta;
}

TEST(HuberLoss, EveryDeltaAndWeight) {
  const V x = rng().normal(41, 0, 2), y = rng().normal(41), w = rng().uniform(41, 0.1, 2.0);
  for (double delta : {0.3, 1.0, 2.5}) {
    SCOPED_TRACE(delta);
    const auto f = PAIR_FNS(huber_loss, losskit::HuberLossOptions<double>{.delta = delta});
    check_values(f, x, y, [=](double a, double b) { return huber_ref(a, b, delta); });
    check_grads(f, x, y);
    const auto fw = PAIR_FNS(huber_loss, (losskit::HuberLossOptions<double>{
                                             .delta = delta, .weight = ConstView<double>(w.data(), Shape{41})}));
    // PyTorch's weighted huber mean divides by the element count, not by sum(w).
    check_values(fw, x, y, [=](double a, double b) { return huber_ref(a, b, delta); }, w, false);
    check_grads(fw, x, y);
    // huber(delta) == delta * smooth_l1(beta = delta).
    const auto fs = PAIR_FNS(smooth_l1_loss, losskit::SmoothL1LossOptions{.beta = delta});
    check_values(fs, x, y, [=](double a, double b) { return huber_ref(a, b, delta) / delta; });
  }
  check_empty(PAIR_FNS(huber_loss, losskit::HuberLossOptions<double>{}));
}

TEST(SmoothL1Loss, EveryBetaIncludingZero) {
  const V x = rng().normal(41, 0, 2), y = rng().normal(41);
  for (double beta : {0.0, 0.2, 1.0, 3.0}) {
    SCOPED_TRACE(beta);
    const auto f = PAIR_FNS(smooth_l1_loss, losskit::SmoothL1LossOptions{.beta = beta});
    if (beta == 0) check_values(f, x, y, [](double a, double b) { return std::fabs(a - b); });
    else check_values(f, x, y, [=](double a, double b) { return smooth_l1_ref(a, b, beta); });
    check_grads(f, x, y);
  }
  check_empty(PAIR_FNS(smooth_l1_loss, losskit::SmoothL1LossOptions{}));
}

TEST(PoissonNLLLoss, EveryOption) {
  const V xl = rng().normal(40), xr = rng().uniform(40, 0.05, 4.0), y = rng().uniform(40, 0.0, 5.0);
  for (bool log_input : {true, false})
    for (bool full : {false, true})
      for (double eps : {1e-8, 0.1}) {
        SCOPED_TRACE(::testing::Message() << log_input << full << eps);
        const auto f = PAIR_FNS(poisson_nll_loss,
                                (losskit::PoissonNLLLossOptions{.log_input = log_input, .full = full, .eps = eps}));
        auto ref = [=](double a, double b) {
          double l = log_input ? std::exp(a) - b * a : a - b * std::log(a + eps);
          if (full && b > 1) l += b * std::log(b) - b + 0.5 * std::log(2 * std::numbers::pi * b);
          return l;
        };
        const V& x = log_input ? xl : xr;
        check_values(f, x, y, ref);
        check_grads(f, x, y);
      }
  check_empty(PAIR_FNS(poisson_nll_loss, losskit::PoissonNLLLossOptions{}));
  // Stirling's term only where y > 1, and a finite target gradient at y == 0 (PyTorch: NaN).
  const double x = 0.3, y0 = 0.0, y1 = 1.0;
  double o, gx, gy;
  for (double yy : {y0, y1}) {
    losskit::poisson_nll_loss_forward_backward(ConstView<double>(&x, Shape{}), ConstView<double>(&yy, Shape{}),
                                               TensorView<double>(&o, Shape{}), TensorView<double>(&gx, Shape{}),
                                               TensorView<double>(&gy, Shape{}), {.full = true});
    EXPECT_DOUBLE_EQ(o, std::exp(x) - yy * x);
    EXPECT_DOUBLE_EQ(gy, -x);
  }
}

TEST(LogCoshLoss, OptaxFormulaAndOverflow) {
  const V x = rng().normal(40, 0, 3), y = rng().normal(40);
  const auto f = PAIR_FNS(log_cosh_loss, losskit::LogCoshLossOptions{});
  // optax: logaddexp(e, -e) - log 2; here evaluated directly in long double (no overflow at these e).
  check_values(f, x, y, [](double a, double b) {
    return static_cast<double>(std::log(std::cosh(static_cast<long double>(a) - b)));
  });
  check_grads(f, x, y);
  check_empty(f);
  // Stable where cosh overflows: log cosh(e) = |e| - log 2 for |e| >= 500 (optax tests 500, -200).
  for (double e : {500.0, -200.0, 1e6, -1e300}) {
    const double zero = 0;
    double o, g;
    losskit::log_cosh_loss_forward_backward(ConstView<double>(&e, Shape{}), ConstView<double>(&zero, Shape{}),
                                            TensorView<double>(&o, Shape{}), TensorView<double>(&g, Shape{}), {}, {});
    EXPECT_DOUBLE_EQ(o, std::fabs(e) - std::numbers::ln2) << e;
    EXPECT_DOUBLE_EQ(g, e > 0 ? 1.0 : -1.0);
  }
  const float ef = 500.f, zf = 0.f;
  const auto of = losskit::log_cosh_loss(ConstView<float>(&ef, Shape{}), ConstView<float>(&zf, Shape{}));
  EXPECT_FLOAT_EQ(of.item(), 500.f - static_cast<float>(std::numbers::ln2));
}

TEST(L2Loss, OptaxFormula) {
  const V x = rng().normal(40, 0, 3), y = rng().normal(40);
  const auto f = PAIR_FNS(l2_loss, losskit::L2LossOptions{});
  // optax.losses.l2_loss: 0.5 * (predictions - targets) ** 2.
  check_values(f, x, y, [](double a, double b) { return 0.5 * (a - b) * (a - b); });
  check_grads(f, x, y);
  check_empty(f);
  // Extremes: an infinite error gives an infinite loss and gradient, a NaN stays NaN, 1e200
  // overflows to inf as in optax's float64 arithmetic.
  const V xe = {kInf, -kInf, std::nan(""), 1e200, 0.0}, ye = {0.0, 1.0, 0.0, -1e200, std::nan("")};
  const Shape s{5};
  V o(5), gx(5), gy(5);
  losskit::l2_loss_forward_backward(ConstView<double>(xe.data(), s), ConstView<double>(ye.data(), s),
                                    TensorView<double>(o.data(), s), TensorView<double>(gx.data(), s),
                                    TensorView<double>(gy.data(), s), {.reduction = Reduction::None});
  EXPECT_EQ(o[0], kInf);
  EXPECT_EQ(gx[0], kInf);
  EXPECT_EQ(gy[0], -kInf);
  EXPECT_EQ(o[1], kInf);
  EXPECT_EQ(gx[1], -kInf);
  EXPECT_TRUE(std::isnan(o[2]) && std::isnan(gx[2]) && std::isnan(gy[2]));
  EXPECT_EQ(o[3], kInf);
  EXPECT_DOUBLE_EQ(gx[3], 2e200);
  EXPECT_TRUE(std::isnan(o[4]) && std::isnan(gx[4]));
}

// float32: the vector kernel (contiguous operands) and the scalar Op (stride-2 views of the same
// values) give the same bits, for every length up to 67 (every vector tail) and a few blocks.
TEST(L2Loss, VectorKernelMatchesScalarBitwise) {
  for (const std::int64_t n : {1, 7, 16, 17, 31, 64, 67, 1000, 20001}) {
    SCOPED_TRACE(n);
    const std::vector<float> x = lktest::cast<float>(rng().normal(static_cast<std::size_t>(n), 0, 10));
    const std::vector<float> y = lktest::cast<float>(rng().normal(static_cast<std::size_t>(n)));
    std::vector<float> x2(2 * x.size()), y2(2 * y.size());
    for (std::size_t i = 0; i < x.size(); ++i) x2[2 * i] = x[i], y2[2 * i] = y[i];
    const Shape s{n};
    const ConstView<float> xc(x.data(), s), yc(y.data(), s), xs(x2.data(), s, Shape{2}), ys(y2.data(), s, Shape{2});
    for (const Reduction r : {Reduction::None, Reduction::Sum}) {
      const Shape os = r == Reduction::None ? s : Shape{};
      const std::size_t on = r == Reduction::None ? x.size() : 1;
      std::vector<float> o1(on), o2(on), g1(x.size()), g2(x.size()), t1(x.size()), t2(x.size());
      losskit::l2_loss_forward_backward(xc, yc, TensorView<float>(o1.data(), os), TensorView<float>(g1.data(), s),
                                        TensorView<float>(t1.data(), s), {.reduction = r});
      losskit::l2_loss_forward_backward(xs, ys, TensorView<float>(o2.data(), os), TensorView<float>(g2.data(), s),
                                        TensorView<float>(t2.data(), s), {.reduction = r});
      if (r == Reduction::None) {
        for (std::size_t i = 0; i < on; ++i) ASSERT_EQ(o1[i], o2[i]) << i;
      } else {
        EXPECT_NEAR(o1[0], o2[0], 1e-6 * std::fabs(o2[0]));  // the sums' orders differ
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(g1[i], g2[i]) << i;
        ASSERT_EQ(t1[i], t2[i]) << i;
      }
    }
  }
}

TEST(QuantileLoss, PinballEveryTau) {
  const V x = rng().normal(40), y = rng().normal(40);
  for (double tau : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    SCOPED_TRACE(tau);
    const auto f = PAIR_FNS(quantile_loss, losskit::QuantileLossOptions{.tau = tau});
    // tfa.losses.pinball_loss: max(tau (y - x), (tau - 1) (y - x)).
    check_values(f, x, y, [=](double a, double b) { return std::max(tau * (b - a), (tau - 1) * (b - a)); });
    check_grads(f, x, y);
  }
  check_empty(PAIR_FNS(quantile_loss, losskit::QuantileLossOptions{}));
  // At y == x the gradient takes the tau branch (TF's maximum passes the first argument).
  const double a = 1.5;
  double o, gx, gy;
  losskit::quantile_loss_forward_backward(ConstView<double>(&a, Shape{}), ConstView<double>(&a, Shape{}),
                                          TensorView<double>(&o, Shape{}), TensorView<double>(&gx, Shape{}),
                                          TensorView<double>(&gy, Shape{}), {.tau = 0.3});
  EXPECT_EQ(o, 0.0);
  EXPECT_DOUBLE_EQ(gx, -0.3);
  EXPECT_DOUBLE_EQ(gy, 0.3);
}

TEST(MSLELoss, KerasFormula) {
  const V x = rng().uniform(40, 0.01, 5), y = rng().uniform(40, 0.01, 5);
  for (double eps : {1e-7, 0.05}) {
    const auto f = PAIR_FNS(msle_loss, losskit::MSLELossOptions{.eps = eps});
    check_values(f, x, y, [=](double a, double b) {
      const double r = std::log(std::max(a, eps) + 1.0) - std::log(std::max(b, eps) + 1.0);
      return r * r;
    });
    check_grads(f, x, y);
  }
  // Below eps (negative predictions) the clamp stops the gradient.
  const V xn = rng().uniform(10, -3, -0.1), yn = rng().uniform(10, 0.1, 3);
  const auto f = PAIR_FNS(msle_loss, losskit::MSLELossOptions{});
  check_grads(f, xn, yn);
  check_values(f, xn, yn, [](double, double b) { const double r = std::log(1e-7 + 1.0) - std::log(b + 1.0); return r * r; });
  check_empty(f);
}

TEST(MAPELoss, KerasFormula) {
  V x = rng().normal(40), y = rng().normal(40);
  for (double& v : y) v += v > 0 ? 0.2 : -0.2;  // away from the kink at |y| == eps
  for (double eps : {1e-7, 0.5}) {
    const auto f = PAIR_FNS(mape_loss, losskit::MAPELossOptions{.eps = eps});
    check_values(f, x, y, [=](double a, double b) { return 100.0 * std::fabs((b - a) / std::max(std::fabs(b), eps)); });
    check_grads(f, x, y);
  }
  // y == 0: divided by eps, finite.
  const double a = 1.0, z = 0.0;
  const auto l = losskit::mape_loss(ConstView<double>(&a, Shape{}), ConstView<double>(&z, Shape{}));
  EXPECT_DOUBLE_EQ(l.item(), 100.0 / 1e-7);
  check_empty(PAIR_FNS(mape_loss, losskit::MAPELossOptions{}));
}

// ------------------------------------------------------------------------- extreme inputs
TEST(RegressionExtremes, InfAndHugeValues) {
  const V x{kInf, -kInf, 1e300, -1e300, 0.0}, y{0.0, 0.0, -1e300, 1e300, kInf};
  const Shape s{5};
  V o(5), g(5);
  // mse: inf where the difference is infinite or overflows, gradient +-inf accordingly.
  losskit::mse_loss_forward_backward(ConstView<double>(x.data(), s), ConstView<double>(y.data(), s),
                                     TensorView<double>(o.data(), s), TensorView<double>(g.data(), s), {},
                                     {.reduction = Reduction::None});
  for (double v : o) EXPECT_EQ(v, kInf);
  EXPECT_EQ(g[0], kInf);
  EXPECT_EQ(g[1], -kInf);
  // l1 / huber / smooth_l1: bounded gradients, even at infinity.
  losskit::huber_loss_forward_backward(ConstView<double>(x.data(), s), ConstView<double>(y.data(), s),
                                       TensorView<double>(o.data(), s), TensorView<double>(g.data(), s), {},
                                       {.reduction = Reduction::None, .delta = 2.0});
  EXPECT_EQ(o[0], kInf);
  const V ge{2, -2, 2, -2, -2};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g[i], ge[i]) << i;
  losskit::smooth_l1_loss_forward_backward(ConstView<double>(x.data(), s), ConstView<double>(y.data(), s),
                                           TensorView<double>(o.data(), s), TensorView<double>(g.data(), s), {},
                                           {.reduction = Reduction::None});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g[i], ge[i] / 2) << i;
  losskit::l1_loss_forward_backward(ConstView<double>(x.data(), s), ConstView<double>(y.data(), s),
                                    TensorView<double>(o.data(), s), TensorView<double>(g.data(), s), {},
                                    {.reduction = Reduction::None});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g[i], ge[i] / 2) << i;
  // log_cosh: finite gradients +-1 at infinity.
  losskit::log_cosh_loss_forward_backward(ConstView<double>(x.data(), s), ConstView<double>(y.data(), s),
                                          TensorView<double>(o.data(), s), TensorView<double>(g.data(), s), {},
                                          {.reduction = Reduction::None});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g[i], ge[i] / 2) << i;
  EXPECT_EQ(o[0], kInf);
  // poisson (log input): exp(-inf) = 0, loss finite for y = 0.
  const double xm = -kInf, y0 = 0;
  EXPECT_EQ(losskit::poisson_nll_loss(ConstView<double>(&xm, Shape{}), ConstView<double>(&y0, Shape{})).item(), 0.0);
  // float: huge values stay finite in l1/huber.
  const float xf[2] = {3e38f, -3e38f}, yf[2] = {-3e38f, 3e38f};
  float of[2], gf[2];
  losskit::huber_loss_forward_backward(ConstView<float>(xf, Shape{2}), ConstView<float>(yf, Shape{2}),
                                       TensorView<float>(of, Shape{2}), TensorView<float>(gf, Shape{2}), {},
                                       {.reduction = Reduction::None});
  EXPECT_EQ(gf[0], 1.f);
  EXPECT_EQ(gf[1], -1.f);
}

// ----------------------------------------------------------------------------- gaussian nll
struct GaussCase {
  Shape in, var;
};

TEST(GaussianNLLLoss, EveryVarShapeAndOption) {
  const std::vector<GaussCase> cases{
      {{4, 3}, {4, 3}}, {{4, 3}, {4, 1}}, {{4, 3}, {4}}, {{2, 3, 5}, {2, 3}}, {{2, 3, 5}, {2, 3, 1}}, {{5}, {}},
      {{5}, {5}}, {{}, {}}};
  for (const auto& c : cases)
    for (bool full : {false, true})
      for (double eps : {1e-6, 0.3}) {
        SCOPED_TRACE(::testing::Message() << c.in.str() << " var " << c.var.str() << " full " << full << " eps " << eps);
        const auto n = static_cast<std::size_t>(c.in.numel()), nv = static_cast<std::size_t>(c.var.numel());
        const V x = rng().normal(n), y = rng().normal(n);
        V var = rng().uniform(nv, 0.05, 2.0);
        if (nv > 1) var[0] = 0.1;  // below eps = 0.3: clamped, gradient still flows
        const losskit::GaussianNLLLossOptions base{.full = full, .eps = eps};
        auto value = [&](const V& xx, const V& yy, const V& vv, Reduction r) {
          auto o = base;
          o.reduction = r;
          return losskit::gaussian_nll_loss(ConstView<double>(xx.data(), c.in), ConstView<double>(yy.data(), c.in),
                                            ConstView<double>(vv.data(), c.var), o);
        };
        // Values against the formula.
        const auto none = value(x, y, var, Reduction::None);
        ASSERT_EQ(none.shape(), c.in);
        const std::int64_t L = c.in.ndim() ? c.in[c.in.ndim() - 1] : 1;
        double sum = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const double v = std::max(nv == n ? var[i] : var[i / static_cast<std::size_t>(L)], eps);
          const double e = 0.5 * (std::log(v) + (x[i] - y[i]) * (x[i] - y[i]) / v) +
                           (full ? 0.5 * std::log(2 * std::numbers::pi) : 0.0);
          EXPECT_NEAR(none[static_cast<std::int64_t>(i)], e, 1e-12 * (1 + std::fabs(e)));
          sum += e;
        }
        EXPECT_NEAR(value(x, y, var, Reduction::Sum).item(), sum, 1e-12 * (1 + std::fabs(sum)));
        EXPECT_NEAR(value(x, y, var, Reduction::Mean).item(), sum / static_cast<double>(n), 1e-12 * (1 + std::fabs(sum)));
        // Gradients (Mean, fused): input and target by finite differences; var by the formula
        // with the clamp not differentiated (finite differences where var > eps).
        for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
          auto o = base;
          o.reduction = r;
          double out;
          V gx(n), gy(n), gv(nv);
          losskit::gaussian_nll_loss_forward_backward(
              ConstView<double>(x.data(), c.in), ConstView<double>(y.data(), c.in), ConstView<double>(var.data(), c.var),
              TensorView<double>(&out, Shape{}), TensorView<double>(gx.data(), c.in), TensorView<double>(gy.data(), c.in),
              TensorView<double>(gv.data(), c.var), o);
          EXPECT_TRUE(check_gradient([&](const V& xx) { return value(xx, y, var, r).item(); }, x, gx));
          EXPECT_TRUE(check_gradient([&](const V& yy) { return value(x, yy, var, r).item(); }, y, gy));
          const double scale = r == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0;
          V expect_gv(nv, 0.0);
          for (std::size_t i = 0; i < n; ++i) {
            const std::size_t k = nv == n ? i : i / static_cast<std::size_t>(L);
            const double v = std::max(var[k], eps), d = x[i] - y[i];
            expect_gv[k] += scale * 0.5 * (1 / v - d * d / (v * v));
          }
          for (std::size_t k = 0; k < nv; ++k) EXPECT_NEAR(gv[k], expect_gv[k], 1e-12 * (1 + std::fabs(gv[k])));
          bool all_above = true;
          for (double v : var) all_above = all_above && v > eps;
          if (all_above) EXPECT_TRUE(check_gradient([&](const V& vv) { return value(x, y, vv, r).item(); }, var, gv));
        }
        // None backward with a random upstream.
        const V u = rng().uniform(n, 0.5, 1.5);
        V gx(n), gv(nv);
        losskit::gaussian_nll_loss_backward(ConstView<double>(u.data(), c.in), ConstView<double>(x.data(), c.in),
                                            ConstView<double>(y.data(), c.in), ConstView<double>(var.data(), c.var),
                                            TensorView<double>(gx.data(), c.in), {}, TensorView<double>(gv.data(), c.var),
                                            {.full = full, .eps = eps, .reduction = Reduction::None});
        auto wsum = [&](const V& xx) {
          const auto l = value(xx, y, var, Reduction::None);
          double a = 0;
          for (std::size_t i = 0; i < n; ++i) a += u[i] * l[static_cast<std::int64_t>(i)];
          return a;
        };
        EXPECT_TRUE(check_gradient(wsum, x, gx));
      }
}

TEST(GaussianNLLLoss, EmptyAndExtreme) {
  const Shape s{0, 4}, vs{0};
  const auto m = losskit::gaussian_nll_loss(ConstView<double>(nullptr, s), ConstView<double>(nullptr, s),
                                            ConstView<double>(nullptr, vs));
  EXPECT_TRUE(std::isnan(m.item()));
  // var == 0 is clamped to eps: finite; an infinite var gives +inf (log), gradient 0 for x.
  const double x[2] = {1, 1}, y[2] = {0, 0}, v[2] = {0, kInf};
  double o[2], gx[2], gv[2];
  losskit::gaussian_nll_loss_forward_backward(ConstView<double>(x, Shape{2}), ConstView<double>(y, Shape{2}),
                                              ConstView<double>(v, Shape{2}), TensorView<double>(o, Shape{2}),
                                              TensorView<double>(gx, Shape{2}), {}, TensorView<double>(gv, Shape{2}),
                                              {.reduction = Reduction::None});
  EXPECT_NEAR(o[0], 0.5 * (std::log(1e-6) + 1e6), 1e-6);
  EXPECT_EQ(o[1], kInf);
  EXPECT_EQ(gx[1], 0.0);
}

// ----------------------------------------------------------------------------- bad inputs
TEST(RegressionErrors, BadInputsLeaveOutputsUntouched) {
  const V x(6, 0.5), y(6, 0.25), w(6, 1.0);
  V out(6), gx(6), gy(6), gv(6);
  const Shape s{2, 3};
  const ConstView<double> X(x.data(), s), Y(y.data(), s);
  const TensorView<double> O(out.data(), Shape{}), GX(gx.data(), s), GY(gy.data(), s);
  const double sentinel = -777;
  struct Case {
    const char* what;
    std::function<void()> call;
    ErrorKind kind;
    std::string needle;
  };
  const V neg{1.0, -0.5};
  const std::vector<Case> cases{
      {"shape mismatch", [&] { losskit::mse_loss(X, ConstView<double>(y.data(), Shape{3, 2}), O); }, ErrorKind::Shape,
       "mse_loss: input and target must have the same shape (got input: [2, 3], target: [3, 2])"},
      {"batchmean", [&] { losskit::l1_loss(X, Y, O, {.reduction = Reduction::BatchMean}); }, ErrorKind::Value,
       "l1_loss: reduction = 'batchmean' is only defined for kl_div"},
      {"weight shape", [&] { losskit::mse_loss(X, Y, O, {.weight = ConstView<double>(w.data(), Shape{6})}); },
       ErrorKind::Shape, "mse_loss: input and weight must have the same shape"},
      {"huber delta 0", [&] { losskit::huber_loss_forward_backward(X, Y, O, GX, GY, {.delta = 0.0}); }, ErrorKind::Value,
       "huber_loss: delta = 0 must be > 0"},
      {"smooth_l1 beta < 0", [&] { losskit::smooth_l1_loss_forward_backward(X, Y, O, GX, GY, {.beta = -0.5}); },
       ErrorKind::Value, "smooth_l1_loss: beta = -0.5 must be >= 0"},
      {"quantile tau", [&] { losskit::quantile_loss(X, Y, O, {.tau = 1.5}); }, ErrorKind::Value,
       "quantile_loss: tau = 1.5 is outside [0, 1]"},
      {"l2 out shape", [&] { losskit::l2_loss(X, Y, TensorView<double>(out.data(), Shape{2}), {}); }, ErrorKind::Shape,
       "l2_loss: out has shape [2], expected []"},
      {"l2 batchmean", [&] { losskit::l2_loss_forward_backward(X, Y, O, GX, GY, {.reduction = Reduction::BatchMean}); },
       ErrorKind::Value, "l2_loss: reduction = 'batchmean' is only defined for kl_div"},
      {"msle eps", [&] { losskit::msle_loss(X, Y, O, {.eps = 0.0}); }, ErrorKind::Value, "msle_loss: eps = 0 must be > 0"},
      {"mape eps", [&] { losskit::mape_loss(X, Y, O, {.eps = -1.0}); }, ErrorKind::Value, "mape_loss: eps = -1 must be > 0"},
      {"out shape", [&] { losskit::mse_loss(X, Y, TensorView<double>(out.data(), Shape{3}), {}); }, ErrorKind::Shape,
       "mse_loss: out has shape [3], expected []"},
      {"none out shape",
       [&] { losskit::poisson_nll_loss(X, Y, TensorView<double>(out.data(), Shape{3, 2}), {.reduction = Reduction::None}); },
       ErrorKind::Shape, "poisson_nll_loss: out has shape [3, 2], expected [2, 3]"},
      {"grad_input shape",
       [&] { losskit::log_cosh_loss_forward_backward(X, Y, O, TensorView<double>(gx.data(), Shape{6}), GY, {}); },
       ErrorKind::Shape, "log_cosh_loss: grad_input has shape [6], expected [2, 3]"},
      {"grad_output shape",
       [&] {
         losskit::mse_loss_backward(ConstView<double>(w.data(), Shape{6}), X, Y, GX, GY, {.reduction = Reduction::None});
       },
       ErrorKind::Shape, "mse_loss: grad_output has shape [6], expected [2, 3]"},
      {"grad aliases input",
       [&] { losskit::l1_loss_forward_backward(X, Y, O, TensorView<double>(const_cast<double*>(x.data()), s), GY, {}); },
       ErrorKind::Runtime, "l1_loss: grad_input overlaps input"},
      {"gaussian var negative",
       [&] {
         losskit::gaussian_nll_loss_forward_backward(ConstView<double>(x.data(), Shape{2, 1}),
                                                     ConstView<double>(y.data(), Shape{2, 1}),
                                                     ConstView<double>(neg.data(), Shape{2}), O,
                                                     TensorView<double>(gx.data(), Shape{2, 1}), {}, {}, {});
       },
       ErrorKind::Value, "gaussian_nll_loss: var[1] = -0.5 is negative; variances must be >= 0"},
      {"gaussian var shape",
       [&] { losskit::gaussian_nll_loss(X, Y, ConstView<double>(w.data(), Shape{3}), O, {}); }, ErrorKind::Value,
       "gaussian_nll_loss: var has shape [3]; for input of shape [2, 3] it must have the input's shape"},
      {"gaussian grad_var shape",
       [&] {
         losskit::gaussian_nll_loss_forward_backward(X, Y, ConstView<double>(w.data(), Shape{2}), O, GX, GY,
                                                     TensorView<double>(gv.data(), Shape{2, 3}), {});
       },
       ErrorKind::Shape, "gaussian_nll_loss: grad_var has shape [2, 3], expected [2]"},
      {"gaussian eps", [&] { losskit::gaussian_nll_loss(X, Y, X, O, {.eps = -1.0}); }, ErrorKind::Value,
       "gaussian_nll_loss: eps = -1 must be >= 0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_TRUE(expect_error_untouched<double>(c.call, c.kind, c.needle, {&out, &gx, &gy, &gv}, sentinel));
  }
}

// Float overloads compute the same values as double (within float precision), any strides.
TEST(RegressionFloat, MatchesDoubleAndStrided) {
  const V xd = rng().normal(24), yd = rng().normal(24);
  const auto xf = lktest::cast<float>(xd), yf = lktest::cast<float>(yd);
  // A transposed (4, 6) view of a (6, 4) buffer.
  const Shape s{4, 6}, st{1, 4};
  const auto lf = losskit::huber_loss(ConstView<float>(xf.data(), s, st), ConstView<float>(yf.data(), s, st),
                                      {.reduction = Reduction::None, .delta = 0.7});
  for (std::int64_t i = 0; i < 4; ++i)
    for (std::int64_t j = 0; j < 6; ++j) {
      const std::size_t k = static_cast<std::size_t>(i + 4 * j);
      EXPECT_NEAR(lf[i * 6 + j], huber_ref(xd[k], yd[k], 0.7), 1e-5);
    }
}

}  // namespace

namespace {

// Results are bitwise identical for any thread count (fixed blocks added in a fixed order).
TEST(RegressionThreads, BitwiseIdenticalForAnyThreadCount) {
  const std::size_t R = 3001, L = 67, n = R * L;
  const auto x = lktest::cast<float>(rng().normal(n)), y = lktest::cast<float>(rng().normal(n));
  const auto w = lktest::cast<float>(rng().uniform(n, 0.1, 2)), v = lktest::cast<float>(rng().uniform(R, 0.1, 2));
  const Shape s{static_cast<std::int64_t>(R), static_cast<std::int64_t>(L)}, vs{static_cast<std::int64_t>(R)};
  auto run = [&] {
    std::vector<float> r;
    float o;
    std::vector<float> g(n), gv(R);
    losskit::mse_loss_forward_backward(ConstView<float>(x.data(), s), ConstView<float>(y.data(), s),
                                       TensorView<float>(&o, Shape{}), TensorView<float>(g.data(), s), {},
                                       {.weight = ConstView<float>(w.data(), s)});
    r.push_back(o);
    r.insert(r.end(), g.begin(), g.end());
    losskit::gaussian_nll_loss_forward_backward(ConstView<float>(x.data(), s), ConstView<float>(y.data(), s),
                                                ConstView<float>(v.data(), vs), TensorView<float>(&o, Shape{}),
                                                TensorView<float>(g.data(), s), {}, TensorView<float>(gv.data(), vs), {});
    r.push_back(o);
    r.insert(r.end(), gv.begin(), gv.end());
    return r;
  };
  const int before = losskit::get_num_threads();
  losskit::set_num_threads(1);
  const auto one = run();
  for (int t : {2, 3, 4}) {
    losskit::set_num_threads(t);
    EXPECT_TRUE(run() == one) << t << " threads";
  }
  losskit::set_num_threads(before);
}

}  // namespace
