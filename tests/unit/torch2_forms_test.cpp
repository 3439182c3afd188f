// The input forms and rules of PyTorch 2.x that the C++ API carries: the target gradients of
// binary_cross_entropy(_with_logits), gaussian_nll_loss's broadcasting, 0-d inputs of the margin
// losses, and the triplet losses' margin > 0. Float64 finite differences for every gradient;
// bad calls leave the buffers untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/testing.hpp"

namespace {

using losskit::ConstView;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;

constexpr Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

/// Sum of the loss (of its 'none' values weighted by `up`, or the reduced value times up[0]).
double weighted_total(const losskit::Tensor<double>& out, const std::vector<double>& up) {
  double s = 0;
  for (std::int64_t i = 0; i < out.numel(); ++i) s += out[i] * up[static_cast<std::size_t>(i)];
  return s;
}

TEST(BinaryCrossEntropyTargetGradient, FiniteDifferencesEveryReduction) {
  lktest::Rng rng(7);
  const Shape s{3, 5};
  const auto x = rng.uniform(15, 0.05, 0.95), y = rng.uniform(15, 0.0, 1.0), w = rng.uniform(5, 0.5, 1.5);
  for (Reduction r : kReductions) {
    const losskit::BCEOptions<double> o{.weight = ConstView<double>(w.data(), Shape{5}), .reduction = r};
    const auto up = rng.uniform(r == Reduction::None ? 15 : 1, 0.5, 1.5);
    const Shape us = r == Reduction::None ? s : Shape{};
    std::vector<double> gx(15), gy(15);
    losskit::binary_cross_entropy_backward(ConstView<double>(up.data(), us), ConstView<double>(x.data(), s),
                                           ConstView<double>(y.data(), s), TensorView<double>(gx.data(), s),
                                           TensorView<double>(gy.data(), s), o);
    auto f = [&](const std::vector<double>& yy) {
      return weighted_total(losskit::binary_cross_entropy(ConstView<double>(x.data(), s),
                                                          ConstView<double>(yy.data(), s), o),
                            up);
    };
    EXPECT_TRUE(lktest::check_gradient(f, y, gy)) << losskit::to_string(r);
    // The fused call gives the same target gradient (upstream 1).
    std::vector<double> out(r == Reduction::None ? 15 : 1), fx(15), fy(15);
    losskit::binary_cross_entropy_forward_backward(ConstView<double>(x.data(), s), ConstView<double>(y.data(), s),
                                                   TensorView<double>(out.data(), us), TensorView<double>(fx.data(), s),
                                                   TensorView<double>(fy.data(), s), o);
    for (int i = 0; i < 15; ++i) EXPECT_NEAR(fy[i] * (r == Reduction::None ? up[i] : up[0]), gy[i], 1e-12);
  }
}

TEST(BinaryCrossEntropyTargetGradient, UnclampedLogitAtTheEnds) {
  // PyTorch's target gradient is -logit(x) without the loss's -100 clamp.
  const double x[3] = {0.0, 1.0, 0.25}, y[3] = {0.0, 1.0, 0.5};
  double gx[3], gy[3], out;
  losskit::binary_cross_entropy_forward_backward(ConstView<double>(x, Shape{3}), ConstView<double>(y, Shape{3}),
                                                 TensorView<double>(&out, Shape{}), TensorView<double>(gx, Shape{3}),
                                                 TensorView<double>(gy, Shape{3}), {.reduction = Reduction::Sum});
  EXPECT_EQ(gy[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(gy[1], -std::numeric_limits<double>::infinity());
  EXPECT_NEAR(gy[2], std::log(3.0), 1e-15);
  EXPECT_NEAR(out, std::log(4.0) / 2 + std::log(4.0 / 3.0) / 2, 1e-12);  // 0 log 0 terms count 0
}

TEST(BinaryCrossEntropyWithLogitsTargetGradient, FiniteDifferencesFloatMatchesDouble) {
  lktest::Rng rng(8);
  const Shape s{4, 37};  // float32 rows of 37: the SIMD blocks and their tails
  const auto x = rng.normal(148, 0, 3), y = rng.uniform(148, 0, 1), pw = rng.uniform(37, 0.2, 2);
  for (bool pos : {false, true}) {
    for (Reduction r : kReductions) {
      losskit::BCEWithLogitsOptions<double> o{.reduction = r};
      if (pos) o.pos_weight = ConstView<double>(pw.data(), Shape{37});
      const std::vector<double> up(r == Reduction::None ? 148 : 1, 1.0);
      std::vector<double> out(up.size()), gx(148), gy(148);
      const Shape us = r == Reduction::None ? s : Shape{};
      losskit::binary_cross_entropy_with_logits_forward_backward(
          ConstView<double>(x.data(), s), ConstView<double>(y.data(), s), TensorView<double>(out.data(), us),
          TensorView<double>(gx.data(), s), TensorView<double>(gy.data(), s), o);
      auto f = [&](const std::vector<double>& yy) {
        return weighted_total(losskit::binary_cross_entropy_with_logits(ConstView<double>(x.data(), s),
                                                                        ConstView<double>(yy.data(), s), o),
                              up);
      };
      EXPECT_TRUE(lktest::check_gradient(f, y, gy)) << pos << " " << losskit::to_string(r);
      // float32 (SIMD) against the float64 result.
      const auto xf = lktest::cast<float>(x), yf = lktest::cast<float>(y), pwf = lktest::cast<float>(pw);
      losskit::BCEWithLogitsOptions<float> of{.reduction = r};
      if (pos) of.pos_weight = ConstView<float>(pwf.data(), Shape{37});
      std::vector<float> outf(up.size()), gxf(148), gyf(148);
      losskit::binary_cross_entropy_with_logits_forward_backward(
          ConstView<float>(xf.data(), s), ConstView<float>(yf.data(), s), TensorView<float>(outf.data(), us),
          TensorView<float>(gxf.data(), s), TensorView<float>(gyf.data(), s), of);
      for (int i = 0; i < 148; ++i) EXPECT_NEAR(gyf[i], gy[i], 1e-5 * (1 + std::fabs(gy[i]))) << i;
    }
  }
}

TEST(BinaryCrossEntropyTargetGradient, BackwardWithoutTargetGradientStillWorks) {
  const double x[2] = {0.2, 0.7}, y[2] = {1, 0}, g = 1;
  double gx[2];
  losskit::binary_cross_entropy_backward(ConstView<double>(&g, Shape{}), ConstView<double>(x, Shape{2}),
                                         ConstView<double>(y, Shape{2}), TensorView<double>(gx, Shape{2}));
  EXPECT_NEAR(gx[0], (0.2 - 1) / (0.8 * 0.2) / 2, 1e-12);
}

struct GaussianForm {
  Shape x, t, v;
};

TEST(GaussianNLLBroadcast, FiniteDifferencesForEveryOperand) {
  const GaussianForm forms[] = {
      {Shape{5}, Shape{1}, Shape{5}},          {Shape{5}, Shape{3, 5}, Shape{5}},
      {Shape{4, 3}, Shape{4, 1}, Shape{4, 3}}, {Shape{4, 3}, Shape{1, 3}, Shape{4, 1}},
      {Shape{2, 3, 4}, Shape{2, 3, 4}, Shape{2, 1, 4}}, {Shape{2, 3, 4}, Shape{2, 3, 1}, Shape{2, 3}},
  };
  lktest::Rng rng(9);
  for (const auto& fm : forms) {
    for (Reduction r : kReductions) {
      const auto x = rng.normal(static_cast<std::size_t>(fm.x.numel()));
      const auto t = rng.normal(static_cast<std::size_t>(fm.t.numel()));
      const auto v = rng.uniform(static_cast<std::size_t>(fm.v.numel()), 0.3, 2.0);
      const losskit::GaussianNLLLossOptions o{.full = true, .reduction = r};
      auto loss = [&](const std::vector<double>& xx, const std::vector<double>& tt, const std::vector<double>& vv) {
        const auto out = losskit::gaussian_nll_loss(ConstView<double>(xx.data(), fm.x), ConstView<double>(tt.data(), fm.t),
                                                    ConstView<double>(vv.data(), fm.v), o);
        double s = 0;
        for (std::int64_t i = 0; i < out.numel(); ++i) s += out[i] * (1 + 0.1 * static_cast<double>(i % 7));
        return std::pair{s, out.shape()};
      };
      const Shape ls = loss(x, t, v).second;
      std::vector<double> up(static_cast<std::size_t>(ls.numel()));
      for (std::size_t i = 0; i < up.size(); ++i) up[i] = 1 + 0.1 * static_cast<double>(i % 7);
      std::vector<double> gx(x.size()), gt(t.size()), gv(v.size());
      losskit::gaussian_nll_loss_backward(ConstView<double>(up.data(), ls), ConstView<double>(x.data(), fm.x),
                                          ConstView<double>(t.data(), fm.t), ConstView<double>(v.data(), fm.v),
                                          TensorView<double>(gx.data(), fm.x), TensorView<double>(gt.data(), fm.t),
                                          TensorView<double>(gv.data(), fm.v), o);
      const std::string label = fm.x.str() + " " + fm.t.str() + " " + fm.v.str() + " " + std::string(losskit::to_string(r));
      EXPECT_TRUE(lktest::check_gradient([&](const auto& a) { return loss(a, t, v).first; }, x, gx)) << label;
      EXPECT_TRUE(lktest::check_gradient([&](const auto& a) { return loss(x, a, v).first; }, t, gt)) << label;
      EXPECT_TRUE(lktest::check_gradient([&](const auto& a) { return loss(x, t, a).first; }, v, gv)) << label;
    }
  }
}

TEST(GaussianNLLBroadcast, LossShapeAndBadShapesUntouched) {
  const std::vector<double> x(5, 0.5), t(3, 0.1), v(5, 1.0);
  const auto out = losskit::gaussian_nll_loss(ConstView<double>(x.data(), Shape{5}), ConstView<double>(t.data(), Shape{3, 1}),
                                              ConstView<double>(v.data(), Shape{5}), {.reduction = Reduction::None});
  EXPECT_EQ(out.shape(), (Shape{3, 5}));
  std::vector<double> o(5), gx(5);
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] {
        losskit::gaussian_nll_loss_forward_backward(ConstView<double>(x.data(), Shape{5}), ConstView<double>(t.data(), Shape{3}),
                                                    ConstView<double>(v.data(), Shape{5}), TensorView<double>(o.data(), Shape{5}),
                                                    TensorView<double>(gx.data(), Shape{5}), {}, {}, {.reduction = Reduction::None});
      },
      ErrorKind::Shape, "input of shape [5] and target of shape [3] do not broadcast", {&o, &gx}, -7.0));
  // var with two differing dims (PyTorch 2.x: "var is of incorrect size").
  const std::vector<double> x2(24, 0.5), v2(4, 1.0);
  std::vector<double> o2(1);
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] {
        losskit::gaussian_nll_loss(ConstView<double>(x2.data(), Shape{2, 3, 4}), ConstView<double>(x2.data(), Shape{2, 3, 4}),
                                   ConstView<double>(v2.data(), Shape{1, 1, 4}), TensorView<double>(o2.data(), Shape{}));
      },
      ErrorKind::Value, "var has shape [1, 1, 4]", {&o2}, -7.0));
}

TEST(MarginLossesZeroD, OneScoreIsOneClass) {
  const double x = 0.7, g = 1;
  const std::int64_t t0 = 0;
  double out = -1, gx = -1;
  losskit::multi_margin_loss_forward_backward(ConstView<double>(&x, Shape{}), ConstView<std::int64_t>(&t0, Shape{1}),
                                              TensorView<double>(&out, Shape{1}), TensorView<double>(&gx, Shape{}),
                                              {.reduction = Reduction::None});
  EXPECT_EQ(out, 0.0);
  EXPECT_EQ(gx, 0.0);
  const auto v = losskit::multi_margin_loss(ConstView<double>(&x, Shape{}), ConstView<std::int64_t>(&t0, Shape{1}),
                                            {.reduction = Reduction::None});
  EXPECT_EQ(v.shape(), (Shape{1}));  // the target's shape, as PyTorch
  const auto m = losskit::multilabel_margin_loss(ConstView<double>(&x, Shape{}), ConstView<std::int64_t>(&t0, Shape{}),
                                                 {.reduction = Reduction::None});
  EXPECT_EQ(m.shape(), (Shape{}));
  EXPECT_EQ(m.item(), 0.0);
  losskit::multilabel_margin_loss_backward(ConstView<double>(&g, Shape{}), ConstView<double>(&x, Shape{}),
                                           ConstView<std::int64_t>(&t0, Shape{}), TensorView<double>(&gx, Shape{}));
  EXPECT_EQ(gx, 0.0);
  // A class id outside [0, 1): an Index error, nothing written.
  const std::int64_t t1 = 1;
  std::vector<double> o(1), gg(1);
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] {
        losskit::multi_margin_loss_forward_backward(ConstView<double>(&x, Shape{}), ConstView<std::int64_t>(&t1, Shape{}),
                                                    TensorView<double>(o.data(), Shape{}), TensorView<double>(gg.data(), Shape{}));
      },
      ErrorKind::Index, "target", {&o, &gg}, -7.0));
}

TEST(MarginLossesZeroD, SingleRowTargetShapes) {
  // (C) input with a (1) target, and (1, C) input with a 0-d target: the 'none' loss takes the
  // target's shape.
  const double x[3] = {0.3, -0.2, 0.9};
  const std::int64_t t = 2;
  const auto a = losskit::multi_margin_loss(ConstView<double>(x, Shape{3}), ConstView<std::int64_t>(&t, Shape{1}),
                                            {.reduction = Reduction::None});
  const auto b = losskit::multi_margin_loss(ConstView<double>(x, Shape{1, 3}), ConstView<std::int64_t>(&t, Shape{}),
                                            {.reduction = Reduction::None});
  EXPECT_EQ(a.shape(), (Shape{1}));
  EXPECT_EQ(b.shape(), (Shape{}));
  const double want = (std::max(0.0, 1 - 0.9 + 0.3) + std::max(0.0, 1 - 0.9 - 0.2)) / 3;
  EXPECT_NEAR(a.item(), want, 1e-15);
  EXPECT_NEAR(b.item(), want, 1e-15);
}

TEST(TripletMargin, MarginMustBePositive) {
  const std::vector<double> a(6, 0.1), p(6, 0.2), n(6, 0.3);
  for (double m : {0.0, -0.5}) {
    std::vector<double> out(1);
    EXPECT_TRUE(lktest::expect_error_untouched<double>(
        [&] {
          losskit::triplet_margin_loss(ConstView<double>(a.data(), Shape{2, 3}), ConstView<double>(p.data(), Shape{2, 3}),
                                       ConstView<double>(n.data(), Shape{2, 3}), TensorView<double>(out.data(), Shape{}),
                                       {.margin = m});
        },
        ErrorKind::Value, "margin = ", {&out}, -7.0));
    EXPECT_TRUE(lktest::expect_error_untouched<double>(
        [&] {
          losskit::triplet_margin_with_distance_loss(
              ConstView<double>(a.data(), Shape{2, 3}), ConstView<double>(p.data(), Shape{2, 3}),
              ConstView<double>(n.data(), Shape{2, 3}), TensorView<double>(out.data(), Shape{}),
              {.distance = losskit::TripletDistance::Cosine, .margin = m});
        },
        ErrorKind::Value, "must be > 0", {&out}, -7.0));
  }
}

TEST(TripletCosine, ClampPassesTheGradientStraightThrough) {
  // PyTorch 2.x: d max(|u|, eps) / du = u / |u| even where the clamp is active. With
  // u = v = (1e-9, 0) and eps = 1e-8: cos = 0.01, d cos / du_0 = 1e7 - 1e6 = 9e6.
  const double u[2] = {1e-9, 0}, far[2] = {-1, 0}, g = 1;
  double ga[2], gp[2], gn[2];
  // d(a, p) = 1 - cos(a, p) with a = p = u; the hinge is active (margin 1 + d(a,p) - d(a,n) > 0).
  losskit::triplet_margin_with_distance_loss_backward(
      ConstView<double>(&g, Shape{}), ConstView<double>(u, Shape{2}), ConstView<double>(u, Shape{2}),
      ConstView<double>(far, Shape{2}), TensorView<double>(ga, Shape{2}), TensorView<double>(gp, Shape{2}),
      TensorView<double>(gn, Shape{2}), {.distance = losskit::TripletDistance::Cosine, .margin = 1.0});
  EXPECT_NEAR(gp[0], -9e6, 1e-2);  // d/dp of (1 - cos(a, p)) = -d cos / dp
}


TEST(CrossEntropyProbabilityTargetGradient, FiniteDifferencesEveryOption) {
  lktest::Rng rng(11);
  struct Form {
    Shape s;
    double e;
    bool weighted;
  };
  const Form forms[] = {{Shape{4, 6}, 0.0, false}, {Shape{4, 6}, 0.3, true}, {Shape{2, 3, 5}, 0.1, true},
                        {Shape{6}, 0.0, true}};
  for (const auto& f : forms) {
    const int cd = f.s.ndim() == 1 ? 0 : 1;
    const std::size_t n = static_cast<std::size_t>(f.s.numel());
    const auto x = rng.normal(n, 0, 2), t = rng.uniform(n, 0, 1), w = rng.uniform(static_cast<std::size_t>(f.s[cd]), 0.5, 2);
    for (Reduction r : kReductions) {
      losskit::CrossEntropyOptions<double> o{.reduction = r, .label_smoothing = f.e};
      if (f.weighted) o.weight = std::span<const double>(w);
      auto loss = [&](const std::vector<double>& tt) {
        const auto out = losskit::cross_entropy(ConstView<double>(x.data(), f.s), ConstView<double>(tt.data(), f.s), o);
        double sum = 0;
        for (std::int64_t i = 0; i < out.numel(); ++i) sum += out[i] * (1 + 0.25 * static_cast<double>(i % 3));
        return std::pair{sum, out.shape()};
      };
      const Shape ls = loss(t).second;
      std::vector<double> up(static_cast<std::size_t>(ls.numel()));
      for (std::size_t i = 0; i < up.size(); ++i) up[i] = 1 + 0.25 * static_cast<double>(i % 3);
      std::vector<double> gx(n), gt(n);
      losskit::cross_entropy_backward(ConstView<double>(up.data(), ls), ConstView<double>(x.data(), f.s),
                                      ConstView<double>(t.data(), f.s), TensorView<double>(gx.data(), f.s),
                                      TensorView<double>(gt.data(), f.s), o);
      EXPECT_TRUE(lktest::check_gradient([&](const auto& a) { return loss(a).first; }, t, gt))
          << f.s.str() << " " << losskit::to_string(r);
      // float32 (the SIMD rows for the input gradient, the scalar pass for the target's).
      const auto xf = lktest::cast<float>(x), tf = lktest::cast<float>(t), wf = lktest::cast<float>(w);
      losskit::CrossEntropyOptions<float> of{.reduction = r, .label_smoothing = f.e};
      if (f.weighted) of.weight = std::span<const float>(wf);
      const auto upf = lktest::cast<float>(up);
      std::vector<float> gxf(n), gtf(n);
      losskit::cross_entropy_backward(ConstView<float>(upf.data(), ls), ConstView<float>(xf.data(), f.s),
                                      ConstView<float>(tf.data(), f.s), TensorView<float>(gxf.data(), f.s),
                                      TensorView<float>(gtf.data(), f.s), of);
      for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(gtf[i], gt[i], 1e-5 * (1 + std::fabs(gt[i])));
    }
  }
}

TEST(CrossEntropyProbabilityTargetGradient, BadBufferLeavesEverythingUntouched) {
  const std::vector<double> x(12, 0.1), t(12, 0.25);
  std::vector<double> out(1), gx(12), gt(10);
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] {
        losskit::cross_entropy_forward_backward(ConstView<double>(x.data(), Shape{3, 4}), ConstView<double>(t.data(), Shape{3, 4}),
                                                TensorView<double>(out.data(), Shape{}), TensorView<double>(gx.data(), Shape{3, 4}),
                                                TensorView<double>(gt.data(), Shape{2, 5}));
      },
      ErrorKind::Shape, "grad_target", {&out, &gx, &gt}, -7.0));
}

TEST(MultilabelSoftMarginTargetGradient, FiniteDifferences) {
  lktest::Rng rng(12);
  const Shape s{3, 7};
  const auto x = rng.normal(21, 0, 2), y = rng.uniform(21, 0, 1), w = rng.uniform(7, 0.5, 1.5);
  for (Reduction r : kReductions) {
    const losskit::MultilabelSoftMarginOptions<double> o{.weight = ConstView<double>(w.data(), Shape{7}), .reduction = r};
    const Shape ls = r == Reduction::None ? Shape{3} : Shape{};
    const std::vector<double> up = r == Reduction::None ? std::vector<double>{0.5, 1.0, 2.0} : std::vector<double>{1.5};
    std::vector<double> gx(21), gy(21);
    losskit::multilabel_soft_margin_loss_backward(ConstView<double>(up.data(), ls), ConstView<double>(x.data(), s),
                                                  ConstView<double>(y.data(), s), TensorView<double>(gx.data(), s),
                                                  TensorView<double>(gy.data(), s), o);
    auto f = [&](const std::vector<double>& yy) {
      return weighted_total(losskit::multilabel_soft_margin_loss(ConstView<double>(x.data(), s),
                                                                 ConstView<double>(yy.data(), s), o),
                            up);
    };
    EXPECT_TRUE(lktest::check_gradient(f, y, gy)) << losskit::to_string(r);
  }
}

TEST(MarginRankingTargetGradient, FiniteDifferencesAndSimdSizes) {
  lktest::Rng rng(13);
  for (std::int64_t n : {5, 300}) {  // 300 float32: the SIMD sweep serves the input gradients only
    const Shape s{n};
    const auto x1 = rng.normal(static_cast<std::size_t>(n)), x2 = rng.normal(static_cast<std::size_t>(n));
    const auto y = rng.uniform(static_cast<std::size_t>(n), -1, 1);
    for (Reduction r : kReductions) {
      const losskit::MarginRankingLossOptions o{.margin = 0.3, .reduction = r};
      const std::vector<double> up(r == Reduction::None ? static_cast<std::size_t>(n) : 1, 0.75);
      const Shape us = r == Reduction::None ? s : Shape{};
      std::vector<double> g1(x1.size()), g2(x1.size()), gy(x1.size());
      losskit::margin_ranking_loss_backward(ConstView<double>(up.data(), us), ConstView<double>(x1.data(), s),
                                            ConstView<double>(x2.data(), s), ConstView<double>(y.data(), s),
                                            TensorView<double>(g1.data(), s), TensorView<double>(g2.data(), s),
                                            TensorView<double>(gy.data(), s), o);
      auto f = [&](const std::vector<double>& yy) {
        return weighted_total(losskit::margin_ranking_loss(ConstView<double>(x1.data(), s), ConstView<double>(x2.data(), s),
                                                           ConstView<double>(yy.data(), s), o),
                              up);
      };
      EXPECT_TRUE(lktest::check_gradient(f, y, gy)) << n << " " << losskit::to_string(r);
      const auto f1 = lktest::cast<float>(x1), f2 = lktest::cast<float>(x2), fy = lktest::cast<float>(y);
      std::vector<float> out(up.size()), h1(x1.size()), h2(x1.size()), hy(x1.size());
      losskit::margin_ranking_loss_forward_backward(ConstView<float>(f1.data(), s), ConstView<float>(f2.data(), s),
                                                    ConstView<float>(fy.data(), s), TensorView<float>(out.data(), us),
                                                    TensorView<float>(h1.data(), s), TensorView<float>(h2.data(), s),
                                                    TensorView<float>(hy.data(), s), o);
      for (std::size_t i = 0; i < x1.size(); ++i) {
        EXPECT_NEAR(hy[i] * 0.75f, gy[i], 1e-5);
        EXPECT_NEAR(h1[i] * 0.75f, g1[i], 1e-5);
      }
    }
  }
}

}  // namespace
