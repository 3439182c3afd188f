// dice_loss: hand-computed values, float64 finite-difference gradients for every option,
// MONAI's single-channel quirks, extreme inputs, strides, determinism and bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/testing.hpp"

namespace {

using losskit::ConstView;
using losskit::DiceLossOptions;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using Opts = DiceLossOptions<double>;

constexpr double kInf = std::numeric_limits<double>::infinity();

// ------------------------------------------------------------------------ hand-computed -----

// One channel, a 2x2 image:  p = [0.9 0.2; 0.6 0.1],  t = [1 0; 1 0].
//   tp = 0.9 + 0.6 = 1.5,  P = sum p = 1.8,  G = sum t = 2
//   dice     f = 1 - (2*1.5 + 1e-5) / (1.8 + 2 + 1e-5)          = 1 - 3.00001 / 3.80001
//   jaccard  f = 1 - (2*1.5 + 1e-5) / (2*(1.8 + 2 - 1.5) + 1e-5) = 1 - 3.00001 / 4.60001
//   squared  P = .81 + .04 + .36 + .01 = 1.22, G = 2, sum (p-t)^2 = .01 + .04 + .16 + .01 = .22,
//            tp = (1.22 + 2 - .22) / 2 = 1.5,  f = 1 - 3.00001 / 3.22001
//   soft_label (ord 1): sum |p - t| = .1 + .2 + .4 + .1 = .8, tp = (1.8 + 2 - .8) / 2 = 1.5: as dice.
// d f / d p_i (dice) = -2 t_i / Den + Num / Den^2, Den = 3.80001, Num = 3.00001.
const double kP[] = {0.9, 0.2, 0.6, 0.1};
const double kT[] = {1, 0, 1, 0};

double scalar(ConstView<double> x, ConstView<double> t, const Opts& o) { return losskit::dice_loss(x, t, o).item(); }

TEST(DiceLoss, HandComputed2x2) {
  const ConstView<double> x(kP, {1, 1, 2, 2}), t(kT, {1, 1, 2, 2});
  EXPECT_NEAR(scalar(x, t, {}), 1 - 3.00001 / 3.80001, 1e-14);
  EXPECT_NEAR(scalar(x, t, {.jaccard = true}), 1 - 3.00001 / 4.60001, 1e-14);
  EXPECT_NEAR(scalar(x, t, {.squared_pred = true}), 1 - 3.00001 / 3.22001, 1e-14);
  EXPECT_NEAR(scalar(x, t, {.soft_label = true}), 1 - 3.00001 / 3.80001, 1e-14);
  EXPECT_NEAR(scalar(x, t, {.smooth_nr = 0, .smooth_dr = 0}), 1 - 3.0 / 3.8, 1e-14);
  double g[4];
  double one = 1;
  losskit::dice_loss_backward(ConstView<double>(&one, {}), x, t, TensorView<double>(g, {1, 1, 2, 2}), {});
  const double den = 3.80001, num = 3.00001;
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(g[i], -2 * kT[i] / den + num / (den * den), 1e-14) << i;
}

TEST(DiceLoss, PerfectPredictionIsZero) {
  // Three classes over a 2x3 image, one-hot probabilities equal to the target.
  const std::int64_t ids[] = {0, 1, 2, 2, 1, 0};
  std::vector<double> p(18, 0.0);
  for (int i = 0; i < 6; ++i) p[static_cast<std::size_t>(ids[i] * 6 + i)] = 1.0;
  const ConstView<double> x(p.data(), {1, 3, 2, 3});
  EXPECT_NEAR(scalar(x, x, {}), 0.0, 1e-12);
  EXPECT_NEAR(losskit::dice_loss(x, ConstView<std::int64_t>(ids, {1, 2, 3})).item(), 0.0, 1e-12);
  EXPECT_NEAR(losskit::dice_loss(x, ConstView<std::int64_t>(ids, {1, 2, 3}), {.jaccard = true}).item(), 0.0, 1e-12);
  // With logits: softmax of a large margin is nearly one-hot.
  std::vector<double> z(18, -30.0);
  for (int i = 0; i < 6; ++i) z[static_cast<std::size_t>(ids[i] * 6 + i)] = 30.0;
  EXPECT_NEAR(losskit::dice_loss(ConstView<double>(z.data(), {1, 3, 2, 3}), ConstView<std::int64_t>(ids, {1, 2, 3}),
                                 {.softmax = true})
                  .item(),
              0.0, 1e-12);
}

TEST(DiceLoss, SoftLabelScoresSoftTargetAgainstItselfAsZero) {
  const double p[] = {0.3, 0.5, 0.2, 0.7};
  const ConstView<double> x(p, {1, 1, 4});
  EXPECT_NEAR(scalar(x, x, {.soft_label = true}), 0.0, 1e-12);
  // The product form does not: tp = sum p^2 = .87, P = G = 1.7 -> 1 - (1.74 + 1e-5) / (3.4 + 1e-5).
  EXPECT_NEAR(scalar(x, x, {}), 1 - 1.74001 / 3.40001, 1e-14);
}

TEST(DiceLoss, ReductionsAndNoneShape) {
  lktest::Rng rng(7);
  const auto p = rng.uniform(2 * 3 * 4, 0.05, 0.95);
  const auto t = rng.uniform(2 * 3 * 4, 0, 1);
  const ConstView<double> x(p.data(), {2, 3, 2, 2}), y(t.data(), {2, 3, 2, 2});
  const auto none = losskit::dice_loss(x, y, {.reduction = Reduction::None});
  EXPECT_EQ(none.shape(), (Shape{2, 3, 1, 1}));
  const auto none_nobg = losskit::dice_loss(x, y, {.include_background = false, .reduction = Reduction::None});
  EXPECT_EQ(none_nobg.shape(), (Shape{2, 2, 1, 1}));
  const auto none_batch = losskit::dice_loss(x, y, {.reduction = Reduction::None, .batch = true});
  EXPECT_EQ(none_batch.shape(), (Shape{3, 1, 1}));
  double sum = 0;
  for (double v : none.values()) sum += v;
  EXPECT_NEAR(losskit::dice_loss(x, y, {.reduction = Reduction::Sum}).item(), sum, 1e-14);
  EXPECT_NEAR(losskit::dice_loss(x, y).item(), sum / 6, 1e-14);
  // Background removal drops channel 0: the None entries are channels 1 and 2 of the full one.
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c) EXPECT_DOUBLE_EQ(none_nobg[b * 2 + c], none[b * 3 + c + 1]);
  // weight multiplies f per class.
  const double w[] = {0.5, 2.0, 0.0};
  const auto wn = losskit::dice_loss(x, y, {.reduction = Reduction::None, .weight = w});
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 3; ++c) EXPECT_DOUBLE_EQ(wn[b * 3 + c], none[b * 3 + c] * w[c]);
  // batch: sums over the batch before the division.
  for (int c = 0; c < 3; ++c) {
    double tp = 0, P = 0, G = 0;
    for (int b = 0; b < 2; ++b)
      for (int d = 0; d < 4; ++d) {
        const double pv = p[static_cast<std::size_t>((b * 3 + c) * 4 + d)], tv = t[static_cast<std::size_t>((b * 3 + c) * 4 + d)];
        tp += pv * tv;
        P += pv;
        G += tv;
      }
    EXPECT_NEAR(none_batch[c], 1 - (2 * tp + 1e-5) / (P + G + 1e-5), 1e-14);
  }
}

// ---------------------------------------------------------------- MONAI single-channel quirks -----

TEST(DiceLoss, SingleChannelIgnoresSoftmaxOneHotAndBackground) {
  lktest::Rng rng(3);
  const auto p = rng.uniform(2 * 5, 0.05, 0.95);
  const std::vector<double> t = {1, 0, 0, 1, 1, 0, 1, 0, 0, 1};
  const ConstView<double> x(p.data(), {2, 1, 5}), y(t.data(), {2, 1, 5});
  const double base = scalar(x, y, {});
  EXPECT_EQ(scalar(x, y, {.softmax = true}), base);
  EXPECT_EQ(scalar(x, y, {.to_onehot_y = true}), base);
  EXPECT_EQ(scalar(x, y, {.include_background = false}), base);
  // A single-channel input takes int64 ids 0/1 as a binary mask (MONAI: to_onehot_y ignored).
  const std::vector<std::int64_t> ids = {1, 0, 0, 1, 1, 0, 1, 0, 0, 1};
  EXPECT_EQ(losskit::dice_loss(x, ConstView<std::int64_t>(ids.data(), {2, 1, 5})).item(), base);
  EXPECT_EQ(losskit::dice_loss(x, ConstView<std::int64_t>(ids.data(), {2, 5})).item(), base);
  // Weight with a single class left is ignored (MONAI applies it only with more than one class).
  const double w1[] = {7.0};
  EXPECT_EQ(scalar(x, y, {.weight = w1}), base);
  const auto p2 = rng.uniform(2 * 2 * 5, 0.05, 0.95);
  const ConstView<double> x2(p2.data(), {2, 2, 5});
  const auto t2 = rng.uniform(2 * 2 * 5, 0, 1);
  const ConstView<double> y2(t2.data(), {2, 2, 5});
  EXPECT_EQ(scalar(x2, y2, {.include_background = false, .weight = w1}), scalar(x2, y2, {.include_background = false}));
}

TEST(DiceLoss, OneHotIdsMatchDenseOneHot) {
  lktest::Rng rng(11);
  const int B = 2, C = 4, D = 6;
  const auto z = rng.normal(B * C * D);
  const auto ids = rng.classes(B * D, C);
  std::vector<double> oh(B * C * D, 0.0), fids(B * D);
  for (int b = 0; b < B; ++b)
    for (int d = 0; d < D; ++d) {
      oh[static_cast<std::size_t>((b * C + ids[static_cast<std::size_t>(b * D + d)]) * D + d)] = 1.0;
      fids[static_cast<std::size_t>(b * D + d)] = static_cast<double>(ids[static_cast<std::size_t>(b * D + d)]);
    }
  const ConstView<double> x(z.data(), {B, C, D});
  for (const bool soft : {false, true})
    for (const bool sq : {false, true})
      for (const bool bg : {false, true}) {
        const Opts o{.include_background = bg, .softmax = true, .squared_pred = sq, .soft_label = soft};
        Opts oo = o;
        oo.to_onehot_y = true;
        const double dense = scalar(x, ConstView<double>(oh.data(), {B, C, D}), o);
        EXPECT_EQ(scalar(x, ConstView<double>(fids.data(), {B, 1, D}), oo), dense);
        EXPECT_EQ(losskit::dice_loss(x, ConstView<std::int64_t>(ids.data(), {B, 1, D}), o).item(), dense);
        EXPECT_EQ(losskit::dice_loss(x, ConstView<std::int64_t>(ids.data(), {B, D}), o).item(), dense);
      }
}

// ----------------------------------------------------------- float64 finite differences -----

enum class TMode { Dense, FloatIds, Int64WithChannel, Int64NoChannel };

struct GradCase {
  int B, C;
  std::vector<std::int64_t> spatial;
  int act;  // 0 none, 1 sigmoid, 2 softmax
  bool squared, jaccard, batch, background, soft, weighted;
  Reduction red;
  TMode tmode;
};

std::string describe(const GradCase& k) {
  std::string s = "B=" + std::to_string(k.B) + " C=" + std::to_string(k.C) + " act=" + std::to_string(k.act) +
                  " sq=" + std::to_string(k.squared) + " jac=" + std::to_string(k.jaccard) +
                  " batch=" + std::to_string(k.batch) + " bg=" + std::to_string(k.background) +
                  " soft=" + std::to_string(k.soft) + " w=" + std::to_string(k.weighted) +
                  " red=" + std::string(losskit::to_string(k.red)) + " tmode=" + std::to_string(static_cast<int>(k.tmode));
  return s;
}

void run_grad_case(const GradCase& k, lktest::Rng& rng) {
  SCOPED_TRACE(describe(k));
  Shape xs{k.B, k.C};
  Shape ids_shape{k.B, 1};
  Shape ids_nc{k.B};
  std::int64_t D = 1;
  for (auto s : k.spatial) {
    xs.push_back(s);
    ids_shape.push_back(s);
    ids_nc.push_back(s);
    D *= s;
  }
  const std::size_t n = static_cast<std::size_t>(xs.numel());
  std::vector<double> x = k.act == 0 ? rng.uniform(n, 0.05, 0.95) : rng.normal(n, 0, 1.5);
  std::vector<double> dense = rng.uniform(n, 0, 1);
  const auto ids = rng.classes(static_cast<std::size_t>(k.B * D), k.C == 1 ? 2 : k.C);
  const auto fids = lktest::cast<double>(ids);
  const std::vector<double> w = {0.7, 1.3, 0.0, 2.5, 0.4};
  Opts o{.include_background = k.background,
         .to_onehot_y = k.tmode == TMode::FloatIds,
         .sigmoid = k.act == 1,
         .softmax = k.act == 2,
         .squared_pred = k.squared,
         .jaccard = k.jaccard,
         .reduction = k.red,
         .smooth_nr = 1e-3,
         .smooth_dr = 2e-3,
         .batch = k.batch,
         .soft_label = k.soft};
  const std::int64_t Cp = (!k.background && k.C > 1) ? k.C - 1 : k.C;
  if (k.weighted) o.weight = std::span<const double>(w.data(), static_cast<std::size_t>(Cp));
  // C == 1 with FloatIds: MONAI ignores to_onehot_y, the target is used as-is (binary values).
  const bool float_ids_as_ids = k.tmode == TMode::FloatIds && k.C > 1;
  std::vector<double> tvals = dense;
  if (k.tmode == TMode::FloatIds && k.C == 1) tvals = fids;
  auto call_fwd = [&](ConstView<double> xv, TensorView<double> out) {
    switch (k.tmode) {
      case TMode::Dense: losskit::dice_loss(xv, ConstView<double>(tvals.data(), xs), out, o); break;
      case TMode::FloatIds:
        losskit::dice_loss(xv, ConstView<double>(float_ids_as_ids ? fids.data() : tvals.data(), ids_shape), out, o);
        break;
      case TMode::Int64WithChannel: losskit::dice_loss(xv, ConstView<std::int64_t>(ids.data(), ids_shape), out, o); break;
      case TMode::Int64NoChannel: losskit::dice_loss(xv, ConstView<std::int64_t>(ids.data(), ids_nc), out, o); break;
    }
  };
  auto call_bwd = [&](ConstView<double> go, ConstView<double> xv, TensorView<double> gi) {
    switch (k.tmode) {
      case TMode::Dense: losskit::dice_loss_backward(go, xv, ConstView<double>(tvals.data(), xs), gi, o); break;
      case TMode::FloatIds:
        losskit::dice_loss_backward(go, xv, ConstView<double>(float_ids_as_ids ? fids.data() : tvals.data(), ids_shape),
                                    gi, o);
        break;
      case TMode::Int64WithChannel:
        losskit::dice_loss_backward(go, xv, ConstView<std::int64_t>(ids.data(), ids_shape), gi, o);
        break;
      case TMode::Int64NoChannel:
        losskit::dice_loss_backward(go, xv, ConstView<std::int64_t>(ids.data(), ids_nc), gi, o);
        break;
    }
  };
  auto call_fb = [&](ConstView<double> xv, TensorView<double> out, TensorView<double> gi) {
    switch (k.tmode) {
      case TMode::Dense: losskit::dice_loss_forward_backward(xv, ConstView<double>(tvals.data(), xs), out, gi, o); break;
      case TMode::FloatIds:
        losskit::dice_loss_forward_backward(
            xv, ConstView<double>(float_ids_as_ids ? fids.data() : tvals.data(), ids_shape), out, gi, o);
        break;
      case TMode::Int64WithChannel:
        losskit::dice_loss_forward_backward(xv, ConstView<std::int64_t>(ids.data(), ids_shape), out, gi, o);
        break;
      case TMode::Int64NoChannel:
        losskit::dice_loss_forward_backward(xv, ConstView<std::int64_t>(ids.data(), ids_nc), out, gi, o);
        break;
    }
  };
  Shape none_shape;
  if (!k.batch) none_shape.push_back(k.B);
  none_shape.push_back(Cp);
  for (std::size_t i = 0; i < k.spatial.size(); ++i) none_shape.push_back(1);
  const Shape out_shape = k.red == Reduction::None ? none_shape : Shape{};
  const std::size_t nout = static_cast<std::size_t>(out_shape.numel());
  const std::vector<double> gout = k.red == Reduction::None ? rng.uniform(nout, -1, 1) : std::vector<double>{0.7};
  auto f = [&](const std::vector<double>& xv) {
    std::vector<double> out(nout);
    call_fwd(ConstView<double>(xv.data(), xs), TensorView<double>(out.data(), out_shape));
    double s = 0;
    for (std::size_t i = 0; i < nout; ++i) s += gout[i] * out[i];
    return s;
  };
  std::vector<double> g(n);
  call_bwd(ConstView<double>(gout.data(), out_shape), ConstView<double>(x.data(), xs), TensorView<double>(g.data(), xs));
  EXPECT_TRUE(lktest::check_gradient(f, x, g, 1e-6, 1e-5, 1e-8));
  // The fused call: the forward's values and the gradient with a unit upstream gradient.
  std::vector<double> out_fb(nout), g_fb(n), out_f(nout), g1(n);
  const std::vector<double> ones(nout, 1.0);
  call_fb(ConstView<double>(x.data(), xs), TensorView<double>(out_fb.data(), out_shape), TensorView<double>(g_fb.data(), xs));
  call_fwd(ConstView<double>(x.data(), xs), TensorView<double>(out_f.data(), out_shape));
  call_bwd(ConstView<double>(ones.data(), out_shape), ConstView<double>(x.data(), xs), TensorView<double>(g1.data(), xs));
  EXPECT_EQ(out_fb, out_f);
  EXPECT_EQ(g_fb, g1);
}

TEST(DiceLoss, GradientEveryOptionFloat64) {
  lktest::Rng rng(2024);
  int cases = 0;
  for (int act = 0; act < 3; ++act)
    for (const bool squared : {false, true})
      for (const bool jaccard : {false, true})
        for (const bool batch : {false, true})
          for (const bool background : {true, false})
            for (const bool soft : {false, true})
              for (const bool weighted : {false, true})
                for (const Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None})
                  for (const TMode tm : {TMode::Dense, TMode::FloatIds, TMode::Int64WithChannel, TMode::Int64NoChannel}) {
                    const bool three_d = (cases % 3) == 0;
                    GradCase k{2, 3, three_d ? std::vector<std::int64_t>{2, 2, 2} : std::vector<std::int64_t>{2, 3},
                               act, squared, jaccard, batch, background, soft, weighted, red, tm};
                    run_grad_case(k, rng);
                    ++cases;
                    if (::testing::Test::HasFailure()) return;
                  }
  EXPECT_EQ(cases, 3 * 2 * 2 * 2 * 2 * 2 * 2 * 3 * 4);
}

TEST(DiceLoss, GradientSingleAndTwoChannels) {
  lktest::Rng rng(5);
  for (const int C : {1, 2})
    for (int act = 0; act < 3; ++act)
      for (const bool squared : {false, true})
        for (const bool soft : {false, true})
          for (const bool background : {true, false})
            for (const bool weighted : {false, true})
              for (const TMode tm : {TMode::Dense, TMode::FloatIds, TMode::Int64WithChannel, TMode::Int64NoChannel}) {
                GradCase k{3, C, {4}, act, squared, false, false, background, soft, weighted, Reduction::None, tm};
                run_grad_case(k, rng);
                if (::testing::Test::HasFailure()) return;
              }
}

// --------------------------------------------------------------------------- extremes -----

TEST(DiceLoss, HugeLogitsStayFinite) {
  const int B = 1, C = 3, D = 4;
  const double z[] = {1e4, -1e4, 1e4, -1e4, -1e4, 1e4, -1e4, 1e4, 0, 0, -1e4, 1e4};
  const std::int64_t ids[] = {0, 1, 2, 1};
  for (const bool sig : {false, true})
    for (const bool sq : {false, true})
      for (const bool soft : {false, true}) {
        const Opts o{.sigmoid = sig, .softmax = !sig, .squared_pred = sq, .soft_label = soft};
        double out = 0;
        std::vector<double> g(B * C * D);
        losskit::dice_loss_forward_backward(ConstView<double>(z, {B, C, D}), ConstView<std::int64_t>(ids, {B, D}),
                                            TensorView<double>(&out, {}), TensorView<double>(g.data(), {B, C, D}), o);
        EXPECT_TRUE(std::isfinite(out));
        EXPECT_GE(out, 0.0);
        EXPECT_LE(out, 1.0);
        for (double v : g) EXPECT_TRUE(std::isfinite(v));
      }
}

TEST(DiceLoss, MinusInfLogitsWithSoftmax) {
  // Masked classes (-inf logits) get probability 0, a finite loss and a zero gradient.
  const int B = 1, C = 3, D = 2;
  const double z[] = {0.5, -kInf, -kInf, 1.0, 0.2, -0.3};
  const std::int64_t ids[] = {0, 1};
  double out = 0;
  std::vector<double> g(B * C * D);
  for (const bool soft : {false, true}) {
    losskit::dice_loss_forward_backward(ConstView<double>(z, {B, C, D}), ConstView<std::int64_t>(ids, {B, 1, D}),
                                        TensorView<double>(&out, {}), TensorView<double>(g.data(), {B, C, D}),
                                        {.softmax = true, .soft_label = soft});
    EXPECT_TRUE(std::isfinite(out));
    for (double v : g) EXPECT_TRUE(std::isfinite(v));
    EXPECT_EQ(g[1], 0.0);  // input[0, 0, 1] = -inf
    EXPECT_EQ(g[2], 0.0);  // input[0, 1, 0] = -inf
  }
}

TEST(DiceLoss, AllZeroTargetAndPredictionIsZeroThanksToSmoothing) {
  const std::vector<double> zeros(2 * 2 * 3, 0.0);
  const ConstView<double> x(zeros.data(), {2, 2, 3});
  for (const bool sq : {false, true})
    for (const bool jac : {false, true})
      for (const bool soft : {false, true}) {
        const Opts o{.squared_pred = sq, .jaccard = jac, .soft_label = soft};
        std::vector<double> g(12, 1.0);
        double out = 1;
        losskit::dice_loss_forward_backward(x, x, TensorView<double>(&out, {}), TensorView<double>(g.data(), {2, 2, 3}), o);
        EXPECT_EQ(out, 0.0);
        for (double v : g) EXPECT_TRUE(std::isfinite(v));
      }
  // Without smoothing it is 0/0, as in MONAI.
  EXPECT_TRUE(std::isnan(scalar(x, x, {.smooth_nr = 0, .smooth_dr = 0})));
}

TEST(DiceLoss, EmptySpatialDimsAndEmptyBatch) {
  const double* none = nullptr;
  // D = 0: every sum is 0, f = 1 - smooth_nr / smooth_dr = 0.
  const auto e = losskit::dice_loss(ConstView<double>(none, {2, 3, 0}), ConstView<double>(none, {2, 3, 0}),
                                    {.reduction = Reduction::None});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 1}));
  for (double v : e.values()) EXPECT_EQ(v, 0.0);
  double out = -1;
  losskit::dice_loss_forward_backward(ConstView<double>(none, {2, 3, 0}), ConstView<std::int64_t>(nullptr, {2, 0}),
                                      TensorView<double>(&out, {}), TensorView<double>(nullptr, {2, 3, 0}), {});
  EXPECT_EQ(out, 0.0);
  // B = 0: Mean over no entries is NaN (torch.mean of an empty tensor), Sum is 0.
  EXPECT_TRUE(std::isnan(losskit::dice_loss(ConstView<double>(none, {0, 3, 4}), ConstView<double>(none, {0, 3, 4})).item()));
  EXPECT_EQ(losskit::dice_loss(ConstView<double>(none, {0, 3, 4}), ConstView<double>(none, {0, 3, 4}),
                               {.reduction = Reduction::Sum})
                .item(),
            0.0);
  EXPECT_EQ(losskit::dice_loss(ConstView<double>(none, {0, 3, 4}), ConstView<double>(none, {0, 3, 4}),
                               {.reduction = Reduction::None})
                .shape(),
            (Shape{0, 3, 1}));
}

// ---------------------------------------------------------------- strides, determinism -----

TEST(DiceLoss, StridedViewsMatchContiguousBitwise) {
  lktest::Rng rng(9);
  const int B = 2, C = 3, H = 4, W = 5;
  const auto z = lktest::cast<float>(rng.normal(B * C * H * W));
  const auto ids = rng.classes(B * H * W, C);
  const Shape xs{B, C, H, W};
  const DiceLossOptions<float> o{.softmax = true, .squared_pred = true, .reduction = Reduction::None};
  std::vector<float> out_ref(B * C), g_ref(z.size());
  losskit::dice_loss_forward_backward(ConstView<float>(z.data(), xs), ConstView<std::int64_t>(ids.data(), {B, H, W}),
                                      TensorView<float>(out_ref.data(), {B, C, 1, 1}),
                                      TensorView<float>(g_ref.data(), xs), o);
  // Channels-last input (collapsible spatial dims) and gradient.
  std::vector<float> zl(z.size()), gl(z.size());
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < H * W; ++i) zl[static_cast<std::size_t>((b * H * W + i) * C + c)] = z[static_cast<std::size_t>((b * C + c) * H * W + i)];
  const Shape cl_strides{H * W * C, 1, W * C, C};
  std::vector<float> out(B * C);
  losskit::dice_loss_forward_backward(ConstView<float>(zl.data(), xs, cl_strides),
                                      ConstView<std::int64_t>(ids.data(), {B, H, W}),
                                      TensorView<float>(out.data(), {B, C, 1, 1}),
                                      TensorView<float>(gl.data(), xs, cl_strides), o);
  EXPECT_EQ(out, out_ref);
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < H * W; ++i)
        EXPECT_EQ(gl[static_cast<std::size_t>((b * H * W + i) * C + c)], g_ref[static_cast<std::size_t>((b * C + c) * H * W + i)]);
  // Non-collapsible views (every row padded by 3): staged, same bits.
  const int Wp = W + 3;
  std::vector<float> zp(static_cast<std::size_t>(B * C * H * Wp), 99.f), gp(zp.size(), -7.f);
  std::vector<std::int64_t> idp(static_cast<std::size_t>(B * H * Wp), 99);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) {
        for (int c = 0; c < C; ++c)
          zp[static_cast<std::size_t>(((b * C + c) * H + h) * Wp + w)] = z[static_cast<std::size_t>(((b * C + c) * H + h) * W + w)];
        idp[static_cast<std::size_t>((b * H + h) * Wp + w)] = ids[static_cast<std::size_t>((b * H + h) * W + w)];
      }
  const Shape ps{C * H * Wp, H * Wp, Wp, 1};
  losskit::dice_loss_forward_backward(ConstView<float>(zp.data(), xs, ps),
                                      ConstView<std::int64_t>(idp.data(), {B, H, W}, {H * Wp, Wp, 1}),
                                      TensorView<float>(out.data(), {B, C, 1, 1}), TensorView<float>(gp.data(), xs, ps), o);
  EXPECT_EQ(out, out_ref);
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < Wp; ++w) {
          const float v = gp[static_cast<std::size_t>(((b * C + c) * H + h) * Wp + w)];
          if (w < W) EXPECT_EQ(v, g_ref[static_cast<std::size_t>(((b * C + c) * H + h) * W + w)]);
          else EXPECT_EQ(v, -7.f);  // padding untouched
        }
}

TEST(DiceLoss, BitwiseIdenticalForAnyThreadCount) {
  lktest::Rng rng(13);
  const int B = 3, C = 4, D = 40000;
  const auto z = lktest::cast<float>(rng.normal(static_cast<std::size_t>(B * C * D)));
  const auto ids = rng.classes(static_cast<std::size_t>(B * D), C);
  const int saved = losskit::get_num_threads();
  std::vector<float> ref_g[2];
  float ref[2] = {0, 0};
  for (const int nt : {1, 2, 3, 8}) {
    losskit::set_num_threads(nt);
    for (const int batch : {0, 1}) {
      float out = 0;
      std::vector<float> g(z.size());
      losskit::dice_loss_forward_backward(ConstView<float>(z.data(), {B, C, D}), ConstView<std::int64_t>(ids.data(), {B, D}),
                                          TensorView<float>(&out, {}), TensorView<float>(g.data(), {B, C, D}),
                                          {.softmax = true, .batch = batch == 1});
      if (nt == 1) {
        ref[batch] = out;
        ref_g[batch] = g;
      } else {
        EXPECT_EQ(std::memcmp(&out, &ref[batch], sizeof(float)), 0) << nt;
        EXPECT_EQ(g, ref_g[batch]) << nt;
      }
    }
  }
  losskit::set_num_threads(saved);
}

// -------------------------------------------------------------------------- bad inputs -----

TEST(DiceLoss, BadInputsLeaveOutputsUntouched) {
  const int B = 2, C = 3, D = 4;
  std::vector<double> x(B * C * D, 0.3), t(B * C * D, 0.0), out(B * C, 0), g(B * C * D, 0);
  std::vector<std::int64_t> ids = {0, 1, 2, 1, 0, 2, 1, 1};
  std::vector<double> fids = {0, 1, 2, 1, 0, 2, 1, 1};
  const Shape xs{B, C, D};
  const ConstView<double> X(x.data(), xs), T(t.data(), xs);
  const TensorView<double> G(g.data(), xs);
  const TensorView<double> O(out.data(), {});
  const double one = 1;
  const ConstView<double> GO(&one, {});
  struct Bad {
    const char* what;
    std::function<void()> call;
    ErrorKind kind;
    std::string needle;
  };
  std::vector<std::int64_t> bad_ids = ids;
  bad_ids[5] = 3;
  std::vector<std::int64_t> neg_ids = ids;
  neg_ids[2] = -1;
  std::vector<double> frac_ids = fids;
  frac_ids[6] = 1.5;
  std::vector<double> big_fids = fids;
  big_fids[3] = 3;
  std::vector<std::int64_t> bin_ids(B * D, 0);
  bin_ids[7] = 2;
  const double neg_w[] = {1.0, -0.5, 1.0};
  const double short_w[] = {1.0, 1.0};
  const double bg_w[] = {1.0, 1.0, 1.0};
  std::vector<double> x1(B * 1 * D, 0.3);
  std::vector<double> wrong_t(B * 2 * D, 0.0);
  const std::vector<Bad> table = {
      {"shape mismatch", [&] { losskit::dice_loss(X, ConstView<double>(wrong_t.data(), {B, 2, D}), O); },
       ErrorKind::Shape, "target has shape [2, 2, 4] but input has shape [2, 3, 4]"},
      {"spatial mismatch int64", [&] { losskit::dice_loss(X, ConstView<std::int64_t>(ids.data(), {B, 1, 4, 1}), O); },
       ErrorKind::Shape, "class ids must have shape [2, 1, 4] or [2, 4]"},
      {"to_onehot_y with one-hot target", [&] { losskit::dice_loss(X, T, O, {.to_onehot_y = true}); }, ErrorKind::Shape,
       "with to_onehot_y the target holds class ids of shape [2, 1, 4]"},
      {"class id too large", [&] { losskit::dice_loss(X, ConstView<std::int64_t>(bad_ids.data(), {B, D}), O); },
       ErrorKind::Index, "target[1, 1] = 3 is outside [0, 3)"},
      {"negative class id", [&] { losskit::dice_loss(X, ConstView<std::int64_t>(neg_ids.data(), {B, 1, D}), O); },
       ErrorKind::Index, "target[0, 0, 2] = -1 is outside [0, 3)"},
      {"fractional float id",
       [&] { losskit::dice_loss(X, ConstView<double>(frac_ids.data(), {B, 1, D}), O, {.to_onehot_y = true}); },
       ErrorKind::Value, "target[1, 0, 2] = 1.5 is not an integer class id in [0, 3)"},
      {"float id too large",
       [&] { losskit::dice_loss(X, ConstView<double>(big_fids.data(), {B, 1, D}), O, {.to_onehot_y = true}); },
       ErrorKind::Index, "target[0, 0, 3] = 3 is outside [0, 3)"},
      {"single-channel id not binary",
       [&] { losskit::dice_loss(ConstView<double>(x1.data(), {B, 1, D}), ConstView<std::int64_t>(bin_ids.data(), {B, D}), O); },
       ErrorKind::Index, "target[1, 3] = 2 is not 0 or 1"},
      {"weight length", [&] { losskit::dice_loss(X, T, O, {.weight = short_w}); }, ErrorKind::Shape,
       "weight has 2 entries but there are 3 classes"},
      {"weight length without background", [&] { losskit::dice_loss(X, T, O, {.include_background = false, .weight = bg_w}); },
       ErrorKind::Shape, "weight has 3 entries but there are 2 classes after background removal"},
      {"negative weight", [&] { losskit::dice_loss(X, T, O, {.weight = neg_w}); }, ErrorKind::Value,
       "weight[1] = -0.5 must be >= 0"},
      {"sigmoid and softmax", [&] { losskit::dice_loss(X, T, O, {.sigmoid = true, .softmax = true}); }, ErrorKind::Value,
       "sigmoid = true and softmax = true are not compatible"},
      {"batchmean", [&] { losskit::dice_loss(X, T, O, {.reduction = Reduction::BatchMean}); }, ErrorKind::Value,
       "batchmean"},
      {"input without spatial dims", [&] { losskit::dice_loss(ConstView<double>(x.data(), {B, C}), ConstView<double>(t.data(), {B, C}), O); },
       ErrorKind::Shape, "at least one spatial dim"},
      {"out shape for none",
       [&] { losskit::dice_loss(X, T, TensorView<double>(out.data(), {B, C}), {.reduction = Reduction::None}); },
       ErrorKind::Shape, "out has shape [2, 3], expected [2, 3, 1]"},
      {"out shape for mean", [&] { losskit::dice_loss(X, T, TensorView<double>(out.data(), {2})); }, ErrorKind::Shape,
       "out has shape [2], expected []"},
      {"grad_input shape",
       [&] { losskit::dice_loss_backward(GO, X, T, TensorView<double>(g.data(), {B, C, D - 1})); }, ErrorKind::Shape,
       "grad_input has shape [2, 3, 3], expected [2, 3, 4]"},
      {"grad_output shape",
       [&] { losskit::dice_loss_backward(GO, X, T, G, {.reduction = Reduction::None}); }, ErrorKind::Shape,
       "grad_output has shape [], expected [2, 3, 1]"},
      {"grad_input overlaps input",
       [&] { losskit::dice_loss_forward_backward(ConstView<double>(g.data(), xs), T, O, G); }, ErrorKind::Runtime,
       "grad_input overlaps input"},
      {"out overlaps input",
       [&] {
         losskit::dice_loss(ConstView<double>(g.data(), xs), T, TensorView<double>(g.data() + 3, {}));
       },
       ErrorKind::Runtime, "out overlaps input"},
      {"grad_input overlaps out",
       [&] { losskit::dice_loss_forward_backward(X, T, TensorView<double>(g.data() + 5, {}), G); }, ErrorKind::Runtime,
       "grad_input overlaps out"},
  };
  for (const auto& b : table) {
    SCOPED_TRACE(b.what);
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, "dice_loss: ", {&out, &g}, -42.0));
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.needle, {&out, &g}, -42.0));
  }
}

TEST(DiceLoss, FloatOverloadsAgreeWithDouble) {
  lktest::Rng rng(21);
  const int B = 2, C = 3, D = 7;
  const auto z = rng.normal(B * C * D);
  const auto ids = rng.classes(B * D, C);
  const auto zf = lktest::cast<float>(z);
  const double vd = losskit::dice_loss(ConstView<double>(z.data(), {B, C, D}), ConstView<std::int64_t>(ids.data(), {B, D}),
                                       {.sigmoid = true, .jaccard = true})
                        .item();
  const float vf = losskit::dice_loss(ConstView<float>(zf.data(), {B, C, D}), ConstView<std::int64_t>(ids.data(), {B, D}),
                                      {.sigmoid = true, .jaccard = true})
                       .item();
  EXPECT_NEAR(vf, vd, 1e-6);
}

}  // namespace
