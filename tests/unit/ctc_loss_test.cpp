// ctc_loss: values against a brute-force sum over every alignment, float64 finite differences
// through log_softmax, the float32 SIMD kernel (every compiled target) against float64, strided
// views, thread counts, special values, ctc_infeasible, and bad inputs with untouched buffers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "losskit/sequence.hpp"
#include "losskit/threading.hpp"
#include "support/targets.hpp"
#include "support/testing.hpp"

namespace {
using losskit::ConstView;
using losskit::CtcLossOptions;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using I64 = std::vector<std::int64_t>;
constexpr double kInf = std::numeric_limits<double>::infinity();

/// log_softmax over the last dim of rows of C.
std::vector<double> log_softmax(const std::vector<double>& z, std::size_t C) {
  std::vector<double> out(z.size());
  for (std::size_t r = 0; r < z.size() / C; ++r) {
    double m = -kInf, s = 0;
    for (std::size_t c = 0; c < C; ++c) m = std::max(m, z[r * C + c]);
    for (std::size_t c = 0; c < C; ++c) s += std::exp(z[r * C + c] - m);
    for (std::size_t c = 0; c < C; ++c) out[r * C + c] = z[r * C + c] - m - std::log(s);
  }
  return out;
}

/// -log of the summed probability of every path of length T over C classes that collapses
/// (merge repeats, drop blanks) to `target`: the definition, by enumeration.
double brute_force(const std::vector<double>& lp, std::int64_t T, std::int64_t C, const I64& target,
                   std::int64_t blank) {
  double total = 0;
  std::vector<std::int64_t> path(static_cast<std::size_t>(T), 0);
  for (;;) {
    I64 collapsed;
    std::int64_t prev = -1;
    for (const std::int64_t c : path) {
      if (c != prev && c != blank) collapsed.push_back(c);
      prev = c;
    }
    if (collapsed == target) {
      double p = 1;
      for (std::int64_t t = 0; t < T; ++t) p *= std::exp(lp[static_cast<std::size_t>(t * C + path[static_cast<std::size_t>(t)])]);
      total += p;
    }
    std::int64_t k = 0;
    while (k < T && ++path[static_cast<std::size_t>(k)] == C) path[static_cast<std::size_t>(k++)] = 0;
    if (k == T) break;
  }
  return -std::log(total);
}

TEST(CtcLoss, MatchesEveryAlignmentSummed) {
  lktest::Rng rng(7);
  const std::vector<I64> targets = {{}, {1}, {2}, {1, 2}, {1, 1}, {2, 1, 2}, {1, 1, 1}, {2, 2, 1}};
  for (const std::int64_t blank : {0, 2}) {
    for (std::int64_t T = 1; T <= 6; ++T) {
      for (I64 tgt : targets) {
        for (auto& v : tgt) v = (blank == 2) ? v - 1 : v;  // labels in [0, C) \ {blank}
        const std::int64_t C = 3;
        const std::vector<double> lp = log_softmax(rng.normal(static_cast<std::size_t>(T * C)), 3);
        const I64 il{T}, tl{static_cast<std::int64_t>(tgt.size())};
        const I64 tg = tgt.empty() ? I64{0} : tgt;
        const ConstView<std::int64_t> tv(tg.data(), Shape{1, static_cast<std::int64_t>(tg.size())});
        const auto loss = losskit::ctc_loss(ConstView<double>(lp.data(), Shape{T, 1, C}), tv, il, tl,
                                            {.blank = blank, .reduction = Reduction::Sum});
        const double want = brute_force(lp, T, C, tgt, blank);
        if (std::isinf(want)) {
          EXPECT_EQ(loss.view().flat(0), kInf) << "T " << T << " L " << tgt.size();
        } else {
          EXPECT_NEAR(loss.view().flat(0), want, 1e-12 * std::max(1.0, std::fabs(want))) << "T " << T << " L " << tgt.size();
        }
      }
    }
  }
}

/// A batch with padded targets, lengths shorter than the tensors, one infeasible sequence
/// (index 2: labels 3 3 need 3 steps, it has 2) and one empty target.
struct Batch {
  std::int64_t T = 7, N = 4, C = 5, S = 4;
  I64 targets{1, 2, 2, 4, /**/ 3, 1, 0, 0, /**/ 3, 3, 0, 0, /**/ 0, 0, 0, 0};
  I64 il{7, 6, 2, 3}, tl{4, 2, 2, 0};
  ConstView<std::int64_t> tv() const { return {targets.data(), Shape{N, S}}; }
};

TEST(CtcLoss, FiniteDifferencesThroughLogSoftmax) {
  // PyTorch's gradient is the gradient w.r.t. the logits z when log_probs = log_softmax(z).
  const Batch b;
  lktest::Rng rng(11);
  const std::vector<double> z = rng.normal(static_cast<std::size_t>(b.T * b.N * b.C));
  for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    for (const bool zi : {false, true}) {
      const CtcLossOptions o{.blank = 0, .reduction = r, .zero_infinity = zi};
      const Shape out_shape = r == Reduction::None ? Shape{b.N} : Shape{};
      const std::vector<double> up = r == Reduction::None ? rng.uniform(static_cast<std::size_t>(b.N), 0.5, 2) : std::vector<double>{0.7};
      I64 il = b.il;
      if (!zi) il[2] = 3;  // feasible unless zero_infinity is on (an infinite loss has no derivative)
      auto f = [&](const std::vector<double>& zz) {
        const std::vector<double> lp = log_softmax(zz, static_cast<std::size_t>(b.C));
        const auto out = losskit::ctc_loss(ConstView<double>(lp.data(), Shape{b.T, b.N, b.C}), b.tv(), il, b.tl, o);
        double s = 0;
        for (std::int64_t i = 0; i < out.view().numel(); ++i) s += up[static_cast<std::size_t>(i)] * out.view().flat(i);
        return s;
      };
      const std::vector<double> lp = log_softmax(z, static_cast<std::size_t>(b.C));
      std::vector<double> grad(z.size());
      losskit::ctc_loss_backward(ConstView<double>(up.data(), out_shape), ConstView<double>(lp.data(), Shape{b.T, b.N, b.C}),
                                 b.tv(), il, b.tl, TensorView<double>(grad.data(), Shape{b.T, b.N, b.C}), o);
      EXPECT_TRUE(lktest::check_gradient(f, z, grad, 1e-6, 1e-6, 1e-8)) << "reduction " << static_cast<int>(r) << " zi " << zi;
      // rows past each sequence's length have no gradient
      for (std::int64_t t = il[1]; t < b.T; ++t)
        for (std::int64_t c = 0; c < b.C; ++c) EXPECT_EQ(grad[static_cast<std::size_t>((t * b.N + 1) * b.C + c)], 0.0);
    }
  }
}

TEST(CtcLoss, ReductionsAndZeroInfinity) {
  const Batch b;
  lktest::Rng rng(3);
  const std::vector<double> lp = log_softmax(rng.normal(static_cast<std::size_t>(b.T * b.N * b.C)), 5);
  const ConstView<double> x(lp.data(), Shape{b.T, b.N, b.C});
  const auto none = losskit::ctc_loss(x, b.tv(), b.il, b.tl, {.reduction = Reduction::None});
  EXPECT_EQ(none.view().flat(2), kInf);
  EXPECT_TRUE(std::isfinite(none.view().flat(0)));
  const auto none_zi = losskit::ctc_loss(x, b.tv(), b.il, b.tl, {.reduction = Reduction::None, .zero_infinity = true});
  EXPECT_EQ(none_zi.view().flat(2), 0.0);
  double mean = 0, sum = 0;
  for (std::int64_t n = 0; n < b.N; ++n) {
    const double v = none_zi.view().flat(n);
    sum += v;
    mean += v / static_cast<double>(std::max<std::int64_t>(b.tl[static_cast<std::size_t>(n)], 1));
  }
  const auto m = losskit::ctc_loss(x, b.tv(), b.il, b.tl, {.zero_infinity = true});
  const auto s = losskit::ctc_loss(x, b.tv(), b.il, b.tl, {.reduction = Reduction::Sum, .zero_infinity = true});
  EXPECT_NEAR(m.view().flat(0), mean / 4, 1e-12);
  EXPECT_NEAR(s.view().flat(0), sum, 1e-12);
  EXPECT_EQ(losskit::ctc_loss(x, b.tv(), b.il, b.tl, CtcLossOptions{}).view().flat(0), kInf);
  // the infeasible sequence's gradient: NaN without zero_infinity, 0 with it
  std::vector<double> g(lp.size());
  const TensorView<double> gv(g.data(), Shape{b.T, b.N, b.C});
  std::vector<double> out(1);
  losskit::ctc_loss_forward_backward(x, b.tv(), b.il, b.tl, TensorView<double>(out.data(), Shape{}), gv, {});
  EXPECT_TRUE(std::isnan(g[static_cast<std::size_t>((0 * b.N + 2) * b.C)]));
  EXPECT_EQ(g[static_cast<std::size_t>((2 * b.N + 2) * b.C)], 0.0);  // t >= input length
  losskit::ctc_loss_forward_backward(x, b.tv(), b.il, b.tl, TensorView<double>(out.data(), Shape{}), gv,
                                     {.zero_infinity = true});
  for (std::int64_t t = 0; t < b.T; ++t)
    for (std::int64_t c = 0; c < b.C; ++c) EXPECT_EQ(g[static_cast<std::size_t>((t * b.N + 2) * b.C + c)], 0.0);
}

TEST(CtcLoss, ZeroInputLength) {
  std::vector<double> lp(3 * 2 * 4, std::log(0.25));
  const I64 tg{1, 2, 1, 2};
  const auto out = losskit::ctc_loss(ConstView<double>(lp.data(), Shape{3, 2, 4}), ConstView<std::int64_t>(tg.data(), Shape{2, 2}),
                                     I64{0, 0}, I64{0, 1}, {.reduction = Reduction::None});
  EXPECT_EQ(out.view().flat(0), 0.0);
  EXPECT_TRUE(std::signbit(out.view().flat(0)));  // -0.0, as PyTorch (the negated log-likelihood 0)
  EXPECT_EQ(out.view().flat(1), kInf);
}

TEST(CtcLoss, SpecialValuesOfLogProbs) {
  const Batch b;
  lktest::Rng rng(5);
  std::vector<double> lp = log_softmax(rng.normal(static_cast<std::size_t>(b.T * b.N * b.C)), 5);
  auto at = [&](std::int64_t t, std::int64_t n, std::int64_t c) -> double& { return lp[static_cast<std::size_t>((t * b.N + n) * b.C + c)]; };
  at(1, 0, 3) = -kInf;                                 // a class sequence 0 never uses
  at(0, 1, 0) = std::numeric_limits<double>::quiet_NaN();  // blank at t = 0 of sequence 1
  std::vector<double> g(lp.size()), out(static_cast<std::size_t>(b.N));
  I64 il = b.il;
  il[2] = 3;
  losskit::ctc_loss_forward_backward(ConstView<double>(lp.data(), Shape{b.T, b.N, b.C}), b.tv(), il, b.tl,
                                     TensorView<double>(out.data(), Shape{b.N}),
                                     TensorView<double>(g.data(), Shape{b.T, b.N, b.C}), {.reduction = Reduction::None});
  EXPECT_TRUE(std::isfinite(out[0]));
  EXPECT_TRUE(std::isnan(g[static_cast<std::size_t>((1 * b.N + 0) * b.C + 3)]));  // PyTorch: exp(-inf - -inf)
  EXPECT_TRUE(std::isfinite(g[static_cast<std::size_t>((1 * b.N + 0) * b.C + 2)]));
  EXPECT_TRUE(std::isnan(out[1]));
  EXPECT_TRUE(std::isnan(g[static_cast<std::size_t>((3 * b.N + 1) * b.C + 2)]));
  EXPECT_EQ(g[static_cast<std::size_t>((6 * b.N + 1) * b.C + 2)], 0.0);  // past its 6 steps
  EXPECT_TRUE(std::isfinite(out[3]));
}

/// float32 (SIMD) against float64, on every compiled target, with strided views.
TEST(CtcLoss, Float32KernelMatchesFloat64OnEveryTarget) {
  lktest::Rng rng(21);
  for (const auto& [T, N, C, S] : std::vector<std::array<std::int64_t, 4>>{{1, 1, 2, 1}, {9, 3, 4, 3}, {40, 3, 7, 17}, {60, 2, 33, 29}}) {
    const std::vector<double> lp = log_softmax(rng.normal(static_cast<std::size_t>(T * N * C), 0, 2), static_cast<std::size_t>(C));
    I64 tg(static_cast<std::size_t>(N * S));
    for (auto& v : tg) v = rng.integer(1, static_cast<int>(C) - 1);
    I64 il(static_cast<std::size_t>(N)), tl(static_cast<std::size_t>(N));
    for (std::int64_t n = 0; n < N; ++n) {
      il[static_cast<std::size_t>(n)] = n == 0 ? T : rng.integer(static_cast<int>(std::max<std::int64_t>(1, T / 2)), static_cast<int>(T));
      tl[static_cast<std::size_t>(n)] = rng.integer(0, static_cast<int>(std::min(S, il[static_cast<std::size_t>(n)] / 2)));
    }
    const ConstView<std::int64_t> tv(tg.data(), Shape{N, S});
    const Shape shape{T, N, C};
    std::vector<double> out64(static_cast<std::size_t>(N)), g64(lp.size()), up64 = rng.uniform(static_cast<std::size_t>(N), 0.5, 1.5);
    const CtcLossOptions o{.blank = 0, .reduction = Reduction::None};
    losskit::ctc_loss_forward_backward(ConstView<double>(lp.data(), shape), tv, il, tl, TensorView<double>(out64.data(), Shape{N}),
                                       TensorView<double>(g64.data(), shape), o);
    // float32 copies: contiguous, and with the classes strided (a (T, C, N) buffer read as (T, N, C))
    const std::vector<float> lpf = lktest::cast<float>(lp);
    std::vector<float> lpt(lp.size());
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t c = 0; c < C; ++c) lpt[static_cast<std::size_t>((t * C + c) * N + n)] = lpf[static_cast<std::size_t>((t * N + n) * C + c)];
    auto tol = [&](std::int64_t n) { return 1e-6 * (4 + std::fabs(out64[static_cast<std::size_t>(n)])); };
    lktest::for_each_target([&] {
      for (const bool strided : {false, true}) {
        const ConstView<float> x = strided ? ConstView<float>(lpt.data(), shape, Shape{C * N, 1, N}) : ConstView<float>(lpf.data(), shape);
        std::vector<float> out(static_cast<std::size_t>(N)), g(lp.size(), -7.0f);
        const TensorView<float> gv = strided ? TensorView<float>(g.data(), shape, Shape{C * N, 1, N}) : TensorView<float>(g.data(), shape);
        losskit::ctc_loss_forward_backward(x, tv, il, tl, TensorView<float>(out.data(), Shape{N}), gv, o);
        for (std::int64_t n = 0; n < N; ++n)
          EXPECT_NEAR(out[static_cast<std::size_t>(n)], out64[static_cast<std::size_t>(n)], 2e-5 * std::max(1.0, std::fabs(out64[static_cast<std::size_t>(n)])));
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t n = 0; n < N; ++n)
            for (std::int64_t c = 0; c < C; ++c) {
              const float v = strided ? g[static_cast<std::size_t>((t * C + c) * N + n)] : g[static_cast<std::size_t>((t * N + n) * C + c)];
              // float32 cancellation in alpha + beta + loss - lp: an error of a few ULP of the loss
              ASSERT_NEAR(v, g64[static_cast<std::size_t>((t * N + n) * C + c)], tol(n)) << t << " " << n << " " << c << " strided " << strided;
            }
        // the backward with an upstream gradient
        const std::vector<float> up = lktest::cast<float>(up64);
        losskit::ctc_loss_backward(ConstView<float>(up.data(), Shape{N}), x, tv, il, tl, gv, o);
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t n = 0; n < N; ++n)
            for (std::int64_t c = 0; c < C; ++c) {
              const float v = strided ? g[static_cast<std::size_t>((t * C + c) * N + n)] : g[static_cast<std::size_t>((t * N + n) * C + c)];
              ASSERT_NEAR(v, up64[static_cast<std::size_t>(n)] * g64[static_cast<std::size_t>((t * N + n) * C + c)], 2 * tol(n));
            }
      }
    });
  }
}

TEST(CtcLoss, ConcatenatedTargetsUnbatchedAndEveryCall) {
  const Batch b;
  lktest::Rng rng(9);
  const std::vector<double> lp = log_softmax(rng.normal(static_cast<std::size_t>(b.T * b.N * b.C)), 5);
  const ConstView<double> x(lp.data(), Shape{b.T, b.N, b.C});
  I64 cat;
  for (std::int64_t n = 0; n < b.N; ++n)
    for (std::int64_t k = 0; k < b.tl[static_cast<std::size_t>(n)]; ++k) cat.push_back(b.targets[static_cast<std::size_t>(n * b.S + k)]);
  const CtcLossOptions o{.reduction = Reduction::None};
  const auto padded = losskit::ctc_loss(x, b.tv(), b.il, b.tl, o);
  const auto concat = losskit::ctc_loss(x, ConstView<std::int64_t>(cat.data(), Shape{static_cast<std::int64_t>(cat.size())}), b.il, b.tl, o);
  for (std::int64_t n = 0; n < b.N; ++n) EXPECT_EQ(padded.view().flat(n), concat.view().flat(n));
  // unbatched: sequence 0 alone, (T, C) with a 1-D target; the loss is 0-d
  std::vector<double> one(static_cast<std::size_t>(b.T * b.C));
  for (std::int64_t t = 0; t < b.T; ++t)
    for (std::int64_t c = 0; c < b.C; ++c) one[static_cast<std::size_t>(t * b.C + c)] = lp[static_cast<std::size_t>((t * b.N) * b.C + c)];
  const auto u = losskit::ctc_loss(ConstView<double>(one.data(), Shape{b.T, b.C}), ConstView<std::int64_t>(b.targets.data(), Shape{4}),
                                   I64{7}, I64{4}, o);
  EXPECT_EQ(u.view().ndim(), 0);
  EXPECT_EQ(u.view().flat(0), padded.view().flat(0));
  // the four calls agree: forward into a buffer, fused, backward with ones
  std::vector<double> out(1), out2(1), g1(lp.size()), g2(lp.size());
  const I64 il{7, 6, 3, 3};
  losskit::ctc_loss(x, b.tv(), il, b.tl, TensorView<double>(out.data(), Shape{}));
  losskit::ctc_loss_forward_backward(x, b.tv(), il, b.tl, TensorView<double>(out2.data(), Shape{}), TensorView<double>(g1.data(), x.shape()));
  const double one_up = 1.0;
  losskit::ctc_loss_backward(ConstView<double>(&one_up, Shape{}), x, b.tv(), il, b.tl, TensorView<double>(g2.data(), x.shape()));
  EXPECT_EQ(out[0], out2[0]);
  EXPECT_EQ(g1, g2);
}

TEST(CtcLoss, SameBitsForAnyThreadCount) {
  lktest::Rng rng(13);
  const std::int64_t T = 50, N = 9, C = 12, S = 20;
  const std::vector<float> lp = lktest::cast<float>(log_softmax(rng.normal(static_cast<std::size_t>(T * N * C)), 12));
  I64 tg(static_cast<std::size_t>(N * S));
  for (auto& v : tg) v = rng.integer(1, 11);
  const I64 il(static_cast<std::size_t>(N), T), tl(static_cast<std::size_t>(N), S);
  const int saved = losskit::get_num_threads();
  auto run = [&](int threads) {
    losskit::set_num_threads(threads);
    std::vector<float> out(1), g(lp.size());
    losskit::ctc_loss_forward_backward(ConstView<float>(lp.data(), Shape{T, N, C}), ConstView<std::int64_t>(tg.data(), Shape{N, S}), il, tl,
                                       TensorView<float>(out.data(), Shape{}), TensorView<float>(g.data(), Shape{T, N, C}));
    g.push_back(out[0]);
    return g;
  };
  const auto one = run(1), two = run(2), three = run(3);
  losskit::set_num_threads(saved);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
}

TEST(CtcLoss, Infeasible) {
  const Batch b;
  EXPECT_EQ(losskit::ctc_infeasible(b.tv(), b.il, b.tl), (I64{2}));
  const I64 cat{1, 1, 2};  // sequence 0: "1 1" needs 3 steps, sequence 1: "2" needs 1
  EXPECT_EQ(losskit::ctc_infeasible(ConstView<std::int64_t>(cat.data(), Shape{3}), I64{2, 0}, I64{2, 1}), (I64{0, 1}));
  EXPECT_EQ(losskit::ctc_infeasible(ConstView<std::int64_t>(cat.data(), Shape{3}), I64{3, 1}, I64{2, 1}), (I64{}));
}

TEST(CtcLoss, BadInputsLeaveBuffersUntouched) {
  const Batch b;
  std::vector<double> lp(static_cast<std::size_t>(b.T * b.N * b.C), -1.0);
  const ConstView<double> x(lp.data(), Shape{b.T, b.N, b.C});
  std::vector<double> out(static_cast<std::size_t>(b.N)), g(lp.size());
  const TensorView<double> ov(out.data(), Shape{b.N}), gv(g.data(), x.shape());
  const CtcLossOptions none{.reduction = Reduction::None};
  I64 bad_ids = b.targets;
  struct Case {
    const char* needle;
    ErrorKind kind;
    std::function<void()> call;
  };
  I64 blank_id = b.targets, neg = b.targets;
  blank_id[1] = 0;
  neg[4] = -3;
  bad_ids[5] = 5;
  auto fb = [&](ConstView<double> lpv, ConstView<std::int64_t> tv, const I64& il, const I64& tl, TensorView<double> o,
                TensorView<double> gg, CtcLossOptions opts) {
    return [=] { losskit::ctc_loss_forward_backward(lpv, tv, il, tl, o, gg, opts); };
  };
  const ConstView<std::int64_t> tv = b.tv();
  const std::vector<Case> cases = {
      {"blank = 5 is outside [0, 5)", ErrorKind::Runtime, fb(x, tv, b.il, b.tl, ov, gv, {.blank = 5, .reduction = Reduction::None})},
      {"blank = -1", ErrorKind::Runtime, fb(x, tv, b.il, b.tl, ov, gv, {.blank = -1, .reduction = Reduction::None})},
      {"input_lengths[1] = -2 is negative", ErrorKind::Shape, fb(x, tv, I64{7, -2, 2, 3}, b.tl, ov, gv, none)},
      {"input_lengths[0] = 8 is longer than log_probs (7 steps)", ErrorKind::Shape, fb(x, tv, I64{8, 6, 2, 3}, b.tl, ov, gv, none)},
      {"target_lengths[3] = -1 is negative", ErrorKind::Shape, fb(x, tv, b.il, I64{4, 2, 2, -1}, ov, gv, none)},
      {"target_lengths[0] = 5 is longer than the padded targets (4", ErrorKind::Shape, fb(x, tv, b.il, I64{5, 2, 2, 0}, ov, gv, none)},
      {"input_lengths has 3 values but the batch has 4", ErrorKind::Shape, fb(x, tv, I64{7, 6, 2}, b.tl, ov, gv, none)},
      {"target_lengths has 5 values", ErrorKind::Shape, fb(x, tv, b.il, I64{1, 1, 1, 1, 1}, ov, gv, none)},
      {"targets[0, 1] = 0 is the blank label", ErrorKind::Index,
       fb(x, ConstView<std::int64_t>(blank_id.data(), Shape{4, 4}), b.il, b.tl, ov, gv, none)},
      {"targets[1, 0] = -3 is outside [0, 5)", ErrorKind::Index, fb(x, ConstView<std::int64_t>(neg.data(), Shape{4, 4}), b.il, b.tl, ov, gv, none)},
      {"targets[1, 1] = 5 is outside [0, 5)", ErrorKind::Index,
       fb(x, ConstView<std::int64_t>(bad_ids.data(), Shape{4, 4}), b.il, b.tl, ov, gv, none)},
      {"targets is 1-D (the sequences concatenated) with 7 labels but target_lengths sum to 8", ErrorKind::Shape,
       fb(x, ConstView<std::int64_t>(b.targets.data(), Shape{7}), b.il, b.tl, ov, gv, none)},
      {"targets has shape [2, 8] but the batch has 4", ErrorKind::Shape,
       fb(x, ConstView<std::int64_t>(b.targets.data(), Shape{2, 8}), b.il, b.tl, ov, gv, none)},
      {"targets must be 1-D (concatenated) or 2-D (padded)", ErrorKind::Shape,
       fb(x, ConstView<std::int64_t>(b.targets.data(), Shape{4, 2, 2}), b.il, b.tl, ov, gv, none)},
      {"log_probs must be (T, N, C) or unbatched (T, C)", ErrorKind::Shape,
       fb(ConstView<double>(lp.data(), Shape{b.T * b.N * b.C}), tv, b.il, b.tl, ov, gv, none)},
      {"log_probs has shape [0, 4, 5] and no elements", ErrorKind::Shape,
       fb(ConstView<double>(lp.data(), Shape{0, 4, 5}), tv, I64{0, 0, 0, 0}, I64{0, 0, 0, 0}, ov, gv, none)},
      {"out", ErrorKind::Shape, fb(x, tv, b.il, b.tl, TensorView<double>(out.data(), Shape{}), gv, none)},
      {"grad_log_probs", ErrorKind::Shape, fb(x, tv, b.il, b.tl, ov, TensorView<double>(g.data(), Shape{b.T, b.N, b.C - 1}), none)},
      {"reduction", ErrorKind::Value, fb(x, tv, b.il, b.tl, ov, gv, {.reduction = Reduction::BatchMean})},
      {"grad_log_probs overlaps log_probs", ErrorKind::Runtime,
       fb(x, tv, b.il, b.tl, ov, TensorView<double>(lp.data(), x.shape()), none)},
  };
  for (const auto& c : cases)
    EXPECT_TRUE(lktest::expect_error_untouched<double>(c.call, c.kind, c.needle, {&out, &g}, 42.0)) << c.needle;
  // the backward checks its upstream gradient's shape
  EXPECT_TRUE(lktest::expect_error_untouched<double>(
      [&] { losskit::ctc_loss_backward(ConstView<double>(out.data(), Shape{3}), x, tv, b.il, b.tl, gv, none); }, ErrorKind::Shape,
      "grad_output", {&g}, 42.0));
  // ctc_infeasible validates the lengths too
  EXPECT_THROW(losskit::ctc_infeasible(tv, I64{1, -1, 1, 1}, b.tl), losskit::Error);
}

}  // namespace
