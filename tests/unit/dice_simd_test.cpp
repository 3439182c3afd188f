// dice_loss's float32 SIMD path (kernels/dice.cpp) against the float64 scalar path on the same
// inputs cast to double: values and gradients for every activation, form and target kind, on
// shapes with vector tails, fewer positions than lanes, several chunks and several blocks;
// the scalar fallback for chunks with non-finite or huge values; thread-count determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/testing.hpp"

namespace {

using losskit::ConstView;
using losskit::DiceLossOptions;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;

enum class Tgt { Dense, SoftDense, Ids, FloatIds };
enum class Act { None, Sigmoid, Softmax };

struct Cfg {
  Act act = Act::Softmax;
  Tgt tgt = Tgt::Dense;
  bool squared_pred = false, soft_label = false, jaccard = false, batch = false;
  bool include_background = true, weights = false;
  std::string str() const {
    std::ostringstream os;
    os << "act=" << static_cast<int>(act) << " tgt=" << static_cast<int>(tgt) << " sq=" << squared_pred
       << " soft=" << soft_label << " jac=" << jaccard << " batch=" << batch << " bg=" << include_background
       << " w=" << weights;
    return os.str();
  }
};

template <class T>
DiceLossOptions<T> opts_of(const Cfg& c, const std::vector<T>& w, Reduction r) {
  DiceLossOptions<T> o;
  o.include_background = c.include_background;
  o.to_onehot_y = c.tgt == Tgt::FloatIds;
  o.sigmoid = c.act == Act::Sigmoid;
  o.softmax = c.act == Act::Softmax;
  o.squared_pred = c.squared_pred;
  o.soft_label = c.soft_label;
  o.jaccard = c.jaccard;
  o.batch = c.batch;
  o.reduction = r;
  o.weight = std::span<const T>(w);
  return o;
}

/// The data of one comparison: float32 inputs and their float64 copies.
struct Data {
  Shape xs, ts;  // input shape, target shape
  std::vector<float> x, t;
  std::vector<double> xd, td;
  std::vector<std::int64_t> ids;
};

Data make_data(const Cfg& c, std::int64_t B, std::int64_t C, const std::vector<std::int64_t>& spatial, std::uint64_t seed) {
  lktest::Rng rng(seed);
  Data d;
  d.xs = Shape{B, C};
  std::int64_t S = 1;
  for (const auto s : spatial) {
    d.xs.push_back(s);
    S *= s;
  }
  const auto n = static_cast<std::size_t>(B * C * S);
  d.x = lktest::cast<float>(c.act == Act::None ? rng.uniform(n, 0, 1) : rng.normal(n, 0, 2));
  d.xd = lktest::cast<double>(d.x);
  const std::int64_t ncls = C == 1 ? 2 : C;  // a single channel takes a binary mask
  d.ids = rng.classes(static_cast<std::size_t>(B * S), ncls);
  if (c.tgt == Tgt::Dense || c.tgt == Tgt::SoftDense) {
    d.ts = d.xs;
    if (c.tgt == Tgt::SoftDense) {
      d.t = lktest::cast<float>(rng.uniform(n, 0, 1));
    } else {
      d.t.assign(n, 0.0f);
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t s = 0; s < S; ++s) {
          const std::int64_t id = d.ids[static_cast<std::size_t>(b * S + s)];
          if (C == 1) d.t[static_cast<std::size_t>(b * S + s)] = static_cast<float>(id);
          else d.t[static_cast<std::size_t>((b * C + id) * S + s)] = 1.0f;
        }
    }
  } else {
    d.ts = d.xs;
    d.ts[1] = 1;
    if (c.tgt == Tgt::Ids) {
      Shape no_ch{B};
      for (const auto s : spatial) no_ch.push_back(s);
      d.ts = no_ch;
    }
    d.t = lktest::cast<float>(lktest::cast<double>(d.ids));
  }
  d.td = lktest::cast<double>(d.t);
  return d;
}

Shape none_shape(const Cfg& c, const Data& d) {
  const std::int64_t C = d.xs[1];
  const std::int64_t Cp = C - ((!c.include_background && C > 1) ? 1 : 0);
  Shape s;
  if (!c.batch) s.push_back(d.xs[0]);
  s.push_back(Cp);
  for (int k = 2; k < d.xs.ndim(); ++k) s.push_back(1);
  return s;
}

/// Runs (float32, float64) x (forward with Reduction::None, forward_backward with `r`).
template <class T>
void run(const Cfg& c, const Data& d, const std::vector<T>& w, std::vector<T>& vals, T& total, std::vector<T>& g,
         Reduction r) {
  const std::vector<T>& x = [&]() -> const std::vector<T>& {
    if constexpr (std::is_same_v<T, float>) return d.x;
    else return d.xd;
  }();
  const std::vector<T>& t = [&]() -> const std::vector<T>& {
    if constexpr (std::is_same_v<T, float>) return d.t;
    else return d.td;
  }();
  const Shape ns = none_shape(c, d);
  vals.assign(static_cast<std::size_t>(ns.numel()), T(-1));
  g.assign(x.size(), T(-1));
  total = T(-1);
  const ConstView<T> xv(x.data(), d.xs);
  if (c.tgt == Tgt::Ids) {
    const ConstView<std::int64_t> tv(d.ids.data(), d.ts);
    losskit::dice_loss(xv, tv, TensorView<T>(vals.data(), ns), opts_of<T>(c, w, Reduction::None));
    losskit::dice_loss_forward_backward(xv, tv, TensorView<T>(&total, {}), TensorView<T>(g.data(), d.xs),
                                        opts_of<T>(c, w, r));
  } else {
    const ConstView<T> tv(t.data(), d.ts);
    losskit::dice_loss(xv, tv, TensorView<T>(vals.data(), ns), opts_of<T>(c, w, Reduction::None));
    losskit::dice_loss_forward_backward(xv, tv, TensorView<T>(&total, {}), TensorView<T>(g.data(), d.xs),
                                        opts_of<T>(c, w, r));
  }
}

/// float32 (SIMD) vs float64 (scalar): values within 1e-6 (absolute + relative), gradient
/// entries within 2e-6 of the largest gradient entry (the documented float32 accuracy).
void compare(const Cfg& c, std::int64_t B, std::int64_t C, const std::vector<std::int64_t>& spatial,
             std::uint64_t seed = 1, Reduction r = Reduction::Mean) {
  const Data d = make_data(c, B, C, spatial, seed);
  const std::int64_t Cp = C - ((!c.include_background && C > 1) ? 1 : 0);
  std::vector<double> wd;
  if (c.weights)
    for (std::int64_t k = 0; k < Cp; ++k) wd.push_back(0.25 + 0.5 * static_cast<double>(k));
  const std::vector<float> wf = lktest::cast<float>(wd);
  std::vector<float> vf, gf;
  std::vector<double> vd, gd;
  float tf = 0;
  double td = 0;
  run<float>(c, d, wf, vf, tf, gf, r);
  run<double>(c, d, wd, vd, td, gd, r);
  const std::string where = c.str() + " shape " + d.xs.str();
  ASSERT_EQ(vf.size(), vd.size());
  for (std::size_t i = 0; i < vd.size(); ++i) {
    ASSERT_TRUE(std::isfinite(vd[i])) << where;
    EXPECT_NEAR(vf[i], vd[i], 1e-6 * (1 + std::fabs(vd[i]))) << where << " value " << i;
  }
  EXPECT_NEAR(tf, td, 1e-6 * (1 + std::fabs(td))) << where << " total";
  double gmax = 0;
  for (const double v : gd) gmax = std::max(gmax, std::fabs(v));
  ASSERT_GT(gmax, 0.0) << where;
  int bad = 0;
  for (std::size_t i = 0; i < gd.size() && bad < 5; ++i)
    if (!(std::fabs(gf[i] - gd[i]) <= 2e-6 * gmax)) {
      ADD_FAILURE() << where << " grad " << i << ": " << gf[i] << " vs " << gd[i] << " (max " << gmax << ")";
      ++bad;
    }
}

// Spatial extents: a vector tail (37), fewer positions than any vector (5, 1), several
// chunks with a tail (300), several pass-1 blocks (2 x 2600), two spatial dims (3 x 7).
const std::vector<std::vector<std::int64_t>> kSpatial = {{37}, {5}, {1}, {300}, {3, 7}, {2, 2600}};

TEST(DiceSimd, SoftmaxEveryChannelCountAndTargetKind) {
  for (const std::int64_t C : {2, 3, 4, 5, 9})
    for (const Tgt tgt : {Tgt::Dense, Tgt::Ids, Tgt::FloatIds})
      for (const auto& sp : kSpatial) compare({.act = Act::Softmax, .tgt = tgt}, 2, C, sp, static_cast<std::uint64_t>(C));
}

TEST(DiceSimd, SigmoidAndNoActivation) {
  for (const Act act : {Act::Sigmoid, Act::None})
    for (const std::int64_t C : {1, 2, 3, 5})
      for (const Tgt tgt : {Tgt::Dense, Tgt::Ids})
        for (const auto& sp : kSpatial) compare({.act = act, .tgt = tgt}, 2, C, sp, 7);
}

TEST(DiceSimd, SingleChannelBinaryMask) {
  // C == 1: softmax and to_onehot_y are ignored; int64 ids are the binary mask itself.
  for (const Act act : {Act::Sigmoid, Act::Softmax, Act::None})
    for (const Tgt tgt : {Tgt::Dense, Tgt::Ids})
      for (const auto& sp : kSpatial) compare({.act = act, .tgt = tgt}, 3, 1, sp, 3);
}

TEST(DiceSimd, EveryOption) {
  for (const Act act : {Act::Softmax, Act::Sigmoid, Act::None})
    for (const Tgt tgt : {Tgt::Dense, Tgt::SoftDense, Tgt::Ids})
      for (const bool sq : {false, true})
        for (const bool soft : {false, true})
          for (const bool jac : {false, true})
            for (const bool batch : {false, true})
              for (const bool bg : {true, false})
                for (const bool w : {false, true}) {
                  const Cfg c{.act = act, .tgt = tgt, .squared_pred = sq, .soft_label = soft, .jaccard = jac,
                              .batch = batch, .include_background = bg, .weights = w};
                  compare(c, 2, 4, {37}, 11);
                  compare(c, 2, 5, {150}, 12, Reduction::Sum);
                }
}

TEST(DiceSimd, ManyChannelsSmallerChunks) {
  // C > 64 takes 64-position chunks; D = 200 has three of them and a tail.
  compare({.act = Act::Softmax, .tgt = Tgt::Ids}, 2, 70, {200}, 5);
  compare({.act = Act::Sigmoid, .tgt = Tgt::Dense, .include_background = false, .weights = true}, 1, 70, {200}, 6);
}

TEST(DiceSimd, ChannelsLastAndPaddedViewsGiveTheSameBits) {
  // Layouts the kernels cannot read directly are staged as contiguous copies: same bits.
  lktest::Rng rng(17);
  const int B = 2, C = 4, H = 9, W = 13;
  const auto z = lktest::cast<float>(rng.normal(B * C * H * W));
  const auto t = lktest::cast<float>(rng.uniform(B * C * H * W, 0, 1));
  const Shape xs{B, C, H, W};
  const DiceLossOptions<float> o{.sigmoid = true, .batch = true};
  float out_ref = 0, out = 0;
  std::vector<float> g_ref(z.size()), zl(z.size()), tl(z.size()), gl(z.size());
  losskit::dice_loss_forward_backward(ConstView<float>(z.data(), xs), ConstView<float>(t.data(), xs),
                                      TensorView<float>(&out_ref, {}), TensorView<float>(g_ref.data(), xs), o);
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < H * W; ++i) {
        zl[static_cast<std::size_t>((b * H * W + i) * C + c)] = z[static_cast<std::size_t>((b * C + c) * H * W + i)];
        tl[static_cast<std::size_t>((b * H * W + i) * C + c)] = t[static_cast<std::size_t>((b * C + c) * H * W + i)];
      }
  const Shape cl{H * W * C, 1, W * C, C};
  losskit::dice_loss_forward_backward(ConstView<float>(zl.data(), xs, cl), ConstView<float>(tl.data(), xs, cl),
                                      TensorView<float>(&out, {}), TensorView<float>(gl.data(), xs, cl), o);
  EXPECT_EQ(std::memcmp(&out, &out_ref, sizeof(float)), 0);
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < H * W; ++i)
        ASSERT_EQ(gl[static_cast<std::size_t>((b * H * W + i) * C + c)], g_ref[static_cast<std::size_t>((b * C + c) * H * W + i)]);
}

// ------------------------------------------------------------- scalar fallback chunks -----

/// One (b, c, d) value of a [B, C, D] tensor replaced; the float32 and float64 results then
/// agree where the float64 ones are finite, and are NaN / inf exactly where they are.
void compare_special(Act act, std::int64_t C, float v, std::int64_t pos_b, std::int64_t pos_c, std::int64_t pos_d,
                     bool in_target) {
  const std::int64_t B = 2, D = 700;
  lktest::Rng rng(31);
  auto x = lktest::cast<float>(rng.normal(static_cast<std::size_t>(B * C * D), 0, 2));
  auto t = lktest::cast<float>(rng.uniform(static_cast<std::size_t>(B * C * D), 0, 1));
  (in_target ? t : x)[static_cast<std::size_t>((pos_b * C + pos_c) * D + pos_d)] = v;
  const auto xd = lktest::cast<double>(x), td = lktest::cast<double>(t);
  const Shape xs{B, C, D};
  const Shape ns{B, C, 1};
  std::vector<float> of(static_cast<std::size_t>(B * C)), gf(x.size());
  std::vector<double> od(of.size()), gd(x.size());
  DiceLossOptions<float> o;
  o.sigmoid = act == Act::Sigmoid;
  o.softmax = act == Act::Softmax;
  o.reduction = Reduction::None;
  DiceLossOptions<double> odd;
  odd.sigmoid = o.sigmoid;
  odd.softmax = o.softmax;
  odd.reduction = Reduction::None;
  std::vector<float> gof(of.size(), 1.0f);
  std::vector<double> god(of.size(), 1.0);
  losskit::dice_loss(ConstView<float>(x.data(), xs), ConstView<float>(t.data(), xs), TensorView<float>(of.data(), ns), o);
  losskit::dice_loss(ConstView<double>(xd.data(), xs), ConstView<double>(td.data(), xs),
                     TensorView<double>(od.data(), ns), odd);
  losskit::dice_loss_backward(ConstView<float>(gof.data(), ns), ConstView<float>(x.data(), xs),
                              ConstView<float>(t.data(), xs), TensorView<float>(gf.data(), xs), o);
  losskit::dice_loss_backward(ConstView<double>(god.data(), ns), ConstView<double>(xd.data(), xs),
                              ConstView<double>(td.data(), xs), TensorView<double>(gd.data(), xs), odd);
  const std::string where = "act " + std::to_string(static_cast<int>(act)) + " C " + std::to_string(C) + " v " +
                            std::to_string(v) + (in_target ? " in target" : " in input");
  int finite = 0;
  for (std::size_t i = 0; i < od.size(); ++i) {
    if (std::isnan(od[i])) {
      EXPECT_TRUE(std::isnan(of[i])) << where << " value " << i;
    } else {
      ++finite;
      EXPECT_NEAR(of[i], od[i], 5e-6 * (1 + std::fabs(od[i]))) << where << " value " << i;
    }
  }
  EXPECT_GT(finite, 0) << where;
  double gmax = 0;
  for (const double g : gd)
    if (std::isfinite(g)) gmax = std::max(gmax, std::fabs(g));
  int bad = 0;
  for (std::size_t i = 0; i < gd.size() && bad < 5; ++i) {
    const bool ok = std::isnan(gd[i]) ? std::isnan(gf[i])
                                      : (std::isinf(gd[i]) ? gf[i] == static_cast<float>(gd[i])
                                                           : std::fabs(gf[i] - gd[i]) <= 1e-5 * gmax + 1e-30);
    if (!ok) {
      ADD_FAILURE() << where << " grad " << i << ": " << gf[i] << " vs " << gd[i];
      ++bad;
    }
  }
}

TEST(DiceSimd, NonFiniteAndHugeValuesTakeTheScalarPath) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const Act act : {Act::Softmax, Act::Sigmoid, Act::None})
    for (const std::int64_t C : {1, 3, 4, 6}) {
      compare_special(act, C, nan, 1, C - 1, 333, false);
      compare_special(act, C, nan, 0, 0, 699, true);
      compare_special(act, C, 1e30f, 0, 0, 5, true);
      if (act != Act::None) {
        compare_special(act, C, inf, 1, 0, 130, false);
        compare_special(act, C, -inf, 0, C - 1, 10, false);
        compare_special(act, C, 1e20f, 1, 0, 640, false);
        compare_special(act, C, -1e20f, 0, 0, 256, false);
      }
    }
}

TEST(DiceSimd, AllMinusInfColumnIsNaNLikeTorch) {
  // softmax of a position whose logits are all -inf is NaN (torch), through the fallback.
  const int C = 3, D = 40;
  std::vector<float> x(C * D, 0.5f), t(C * D, 0.0f), g(C * D);
  for (int c = 0; c < C; ++c) x[static_cast<std::size_t>(c * D + 17)] = -std::numeric_limits<float>::infinity();
  for (int d = 0; d < D; ++d) t[static_cast<std::size_t>((d % C) * D + d)] = 1.0f;
  float out = 0;
  losskit::dice_loss_forward_backward(ConstView<float>(x.data(), {1, C, D}), ConstView<float>(t.data(), {1, C, D}),
                                      TensorView<float>(&out, {}), TensorView<float>(g.data(), {1, C, D}), {.softmax = true});
  EXPECT_TRUE(std::isnan(out));
  EXPECT_TRUE(std::isnan(g[17]));
}

// ------------------------------------------------------------------------ determinism -----

TEST(DiceSimd, BitwiseIdenticalForAnyThreadCount) {
  lktest::Rng rng(41);
  const int saved = losskit::get_num_threads();
  struct Run {
    Act act;
    int C;
    bool dense;
  };
  for (const Run& run : {Run{Act::Softmax, 5, true}, Run{Act::Softmax, 3, true}, Run{Act::Sigmoid, 1, true},
                         Run{Act::None, 4, false}, Run{Act::Softmax, 4, false}}) {
    const int B = 3, D = 30001;
    const auto n = static_cast<std::size_t>(B * run.C * D);
    const auto x = lktest::cast<float>(run.act == Act::None ? rng.uniform(n, 0, 1) : rng.normal(n));
    const auto t = lktest::cast<float>(rng.uniform(n, 0, 1));
    const auto ids = rng.classes(static_cast<std::size_t>(B * D), run.C);
    const std::vector<float> w = {0.5f, 1.0f, 1.5f, 2.0f, 2.5f};
    for (const bool batch : {false, true}) {
      DiceLossOptions<float> o;
      o.sigmoid = run.act == Act::Sigmoid;
      o.softmax = run.act == Act::Softmax;
      o.batch = batch;
      o.squared_pred = batch;
      if (run.C > 1) o.weight = std::span<const float>(w.data(), static_cast<std::size_t>(run.C));
      float ref = 0;
      std::vector<float> ref_g;
      for (const int nt : {1, 2, 3, 8}) {
        losskit::set_num_threads(nt);
        float out = 0;
        std::vector<float> g(n);
        if (run.dense)
          losskit::dice_loss_forward_backward(ConstView<float>(x.data(), {B, run.C, D}), ConstView<float>(t.data(), {B, run.C, D}),
                                              TensorView<float>(&out, {}), TensorView<float>(g.data(), {B, run.C, D}), o);
        else
          losskit::dice_loss_forward_backward(ConstView<float>(x.data(), {B, run.C, D}), ConstView<std::int64_t>(ids.data(), {B, D}),
                                              TensorView<float>(&out, {}), TensorView<float>(g.data(), {B, run.C, D}), o);
        if (nt == 1) {
          ref = out;
          ref_g = g;
          EXPECT_TRUE(std::isfinite(out));
        } else {
          EXPECT_EQ(std::memcmp(&out, &ref, sizeof(float)), 0) << nt << " C " << run.C;
          EXPECT_TRUE(g == ref_g) << nt << " C " << run.C;
        }
      }
    }
  }
  losskit::set_num_threads(saved);
}

}  // namespace
