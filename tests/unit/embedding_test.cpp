// Unit tests of the embedding losses (losskit/embedding.hpp): values against the formulas,
// float64 finite-difference gradients w.r.t. every input for every option, extremes, empty
// batches and a table of bad inputs. Parity with libtorch: tests/torch/regression_embedding_torch_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
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
using V = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();

lktest::Rng& rng() {
  static lktest::Rng r(2024);
  return r;
}

V labels(std::size_t n, bool with_other = false) {
  V y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = (i % 3 == 2 && with_other) ? 0.0 : (rng().integer(0, 1) ? 1.0 : -1.0);
  return y;
}

/// Forward of K inputs into `out` with reduction r; fused gives (out, grads).
using Fwd = std::function<void(const std::vector<V>&, TensorView<double>, Reduction)>;
using Fused = std::function<void(const std::vector<V>&, TensorView<double>, std::vector<V>&, Reduction)>;
using Bwd = std::function<void(ConstView<double>, const std::vector<V>&, std::vector<V>&, Reduction)>;

/// Finite differences w.r.t. every input, for Mean and Sum (fused) and None (backward, random upstream).
void check_all_grads(const Fwd& fwd, const Fused& fused, const Bwd& bwd, const std::vector<V>& in, const Shape& loss_shape,
                     double rtol = 1e-5) {
  const std::size_t nl = static_cast<std::size_t>(loss_shape.numel());
  for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
    double o = 0;
    std::vector<V> g;
    for (const auto& v : in) g.emplace_back(v.size());
    fused(in, {&o, Shape{}}, g, r);
    double o2 = 0;
    fwd(in, {&o2, Shape{}}, r);
    EXPECT_DOUBLE_EQ(o, o2);
    for (std::size_t k = 0; k < in.size(); ++k) {
      auto f = [&](const V& x) {
        auto args = in;
        args[k] = x;
        double v = 0;
        fwd(args, {&v, Shape{}}, r);
        return v;
      };
      EXPECT_TRUE(check_gradient(f, in[k], g[k], 1e-6, rtol)) << "input " << k << " reduction " << losskit::to_string(r);
    }
  }
  const V u = rng().uniform(nl, 0.5, 1.5);
  std::vector<V> g;
  for (const auto& v : in) g.emplace_back(v.size());
  bwd({u.data(), loss_shape}, in, g, Reduction::None);
  for (std::size_t k = 0; k < in.size(); ++k) {
    auto f = [&](const V& x) {
      auto args = in;
      args[k] = x;
      V l(nl);
      fwd(args, {l.data(), loss_shape}, Reduction::None);
      double a = 0;
      for (std::size_t i = 0; i < nl; ++i) a += u[i] * l[i];
      return a;
    };
    EXPECT_TRUE(check_gradient(f, in[k], g[k], 1e-6, rtol)) << "input " << k << " reduction none";
  }
}

// ----------------------------------------------------------------------------- hinge embedding
TEST(HingeEmbeddingLoss, ValuesAndGradients) {
  const Shape s{3, 7};
  V x = rng().normal(21, 0.5, 1.0);
  const V y = labels(21, /*with_other=*/true);
  for (double margin : {1.0, 0.4, -0.3}) {
    SCOPED_TRACE(margin);
    const auto l = losskit::hinge_embedding_loss(ConstView<double>(x.data(), s), ConstView<double>(y.data(), s),
                                                 {.margin = margin, .reduction = Reduction::None});
    double sum = 0;
    for (std::size_t i = 0; i < 21; ++i) {
      const double e = (y[i] != 1 ? std::max(0.0, margin - x[i]) : 0.0) + (y[i] != -1 ? x[i] : 0.0);
      EXPECT_DOUBLE_EQ(l[static_cast<std::int64_t>(i)], e);
      sum += e;
    }
    EXPECT_NEAR(losskit::hinge_embedding_loss(ConstView<double>(x.data(), s), ConstView<double>(y.data(), s),
                                              {.margin = margin})
                    .item(),
                sum / 21, 1e-14);
    const Fwd fwd = [&](const std::vector<V>& in, TensorView<double> o, Reduction r) {
      losskit::hinge_embedding_loss(ConstView<double>(in[0].data(), s), ConstView<double>(y.data(), s), o,
                                    {.margin = margin, .reduction = r});
    };
    const Fused fused = [&](const std::vector<V>& in, TensorView<double> o, std::vector<V>& g, Reduction r) {
      losskit::hinge_embedding_loss_forward_backward(ConstView<double>(in[0].data(), s), ConstView<double>(y.data(), s),
                                                     o, {g[0].data(), s}, {.margin = margin, .reduction = r});
    };
    const Bwd bwd = [&](ConstView<double> go, const std::vector<V>& in, std::vector<V>& g, Reduction r) {
      losskit::hinge_embedding_loss_backward(go, ConstView<double>(in[0].data(), s), ConstView<double>(y.data(), s),
                                             {g[0].data(), s}, {.margin = margin, .reduction = r});
    };
    check_all_grads(fwd, fused, bwd, {x}, s);
  }
  // The tie margin == x passes the gradient (PyTorch's clamp_min).
  const double xt = 1.0, yt = -1.0;
  double o, g;
  losskit::hinge_embedding_loss_forward_backward(ConstView<double>(&xt, Shape{}), ConstView<double>(&yt, Shape{}),
                                                 {&o, Shape{}}, {&g, Shape{}}, {.margin = 1.0});
  EXPECT_EQ(o, 0.0);
  EXPECT_EQ(g, -1.0);
}

// ----------------------------------------------------------------------------- margin ranking
TEST(MarginRankingLoss, ValuesAndGradients) {
  for (const Shape& s : {Shape{13}, Shape{3, 4}, Shape{}}) {
    const auto n = static_cast<std::size_t>(s.numel());
    const V x1 = rng().normal(n), x2 = rng().normal(n), y = labels(n);
    for (double margin : {0.0, 0.5, -0.2}) {
      SCOPED_TRACE(::testing::Message() << s.str() << " margin " << margin);
      const auto l = losskit::margin_ranking_loss(ConstView<double>(x1.data(), s), ConstView<double>(x2.data(), s),
                                                  ConstView<double>(y.data(), s),
                                                  {.margin = margin, .reduction = Reduction::None});
      for (std::size_t i = 0; i < n; ++i)
        EXPECT_DOUBLE_EQ(l[static_cast<std::int64_t>(i)], std::max(0.0, -y[i] * (x1[i] - x2[i]) + margin));
      const Fwd fwd = [&](const std::vector<V>& in, TensorView<double> o, Reduction r) {
        losskit::margin_ranking_loss(ConstView<double>(in[0].data(), s), ConstView<double>(in[1].data(), s),
                                     ConstView<double>(y.data(), s), o, {.margin = margin, .reduction = r});
      };
      const Fused fused = [&](const std::vector<V>& in, TensorView<double> o, std::vector<V>& g, Reduction r) {
        losskit::margin_ranking_loss_forward_backward(ConstView<double>(in[0].data(), s), ConstView<double>(in[1].data(), s),
                                                      ConstView<double>(y.data(), s), o, {g[0].data(), s},
                                                      {g[1].data(), s}, {.margin = margin, .reduction = r});
      };
      const Bwd bwd = [&](ConstView<double> go, const std::vector<V>& in, std::vector<V>& g, Reduction r) {
        losskit::margin_ranking_loss_backward(go, ConstView<double>(in[0].data(), s), ConstView<double>(in[1].data(), s),
                                              ConstView<double>(y.data(), s), {g[0].data(), s}, {g[1].data(), s},
                                              {.margin = margin, .reduction = r});
      };
      check_all_grads(fwd, fused, bwd, {x1, x2}, s);
    }
  }
}

// ----------------------------------------------------------------------------- cosine embedding
double cos_ref(const double* a, const double* b, std::int64_t D) {
  double ab = 0, aa = 0, bb = 0;
  for (std::int64_t d = 0; d < D; ++d) {
    ab += a[d] * b[d];
    aa += a[d] * a[d];
    bb += b[d] * b[d];
  }
  return ab / std::sqrt((aa + 1e-12) * (bb + 1e-12));
}

TEST(CosineEmbeddingLoss, ValuesAndGradients) {
  for (const auto& [s, ts] : {std::pair{Shape{6, 5}, Shape{6}}, std::pair{Shape{4}, Shape{}}}) {
    const auto n = static_cast<std::size_t>(s.numel()), N = static_cast<std::size_t>(ts.numel());
    const std::int64_t D = s[s.ndim() - 1];
    const V a = rng().normal(n), b = rng().normal(n);
    V y = labels(N, N > 3);
    for (double margin : {0.0, 0.3, -0.5}) {
      SCOPED_TRACE(::testing::Message() << s.str() << " margin " << margin);
      const auto l = losskit::cosine_embedding_loss(ConstView<double>(a.data(), s), ConstView<double>(b.data(), s),
                                                    ConstView<double>(y.data(), ts),
                                                    {.margin = margin, .reduction = Reduction::None});
      for (std::size_t i = 0; i < N; ++i) {
        const double c = cos_ref(a.data() + i * D, b.data() + i * D, D);
        const double e = y[i] == 1 ? 1 - c : (y[i] == -1 ? std::max(0.0, c - margin) : 0.0);
        EXPECT_NEAR(l[static_cast<std::int64_t>(i)], e, 1e-14);
      }
      const Fwd fwd = [&](const std::vector<V>& in, TensorView<double> o, Reduction r) {
        losskit::cosine_embedding_loss(ConstView<double>(in[0].data(), s), ConstView<double>(in[1].data(), s),
                                       ConstView<double>(y.data(), ts), o, {.margin = margin, .reduction = r});
      };
      const Fused fused = [&](const std::vector<V>& in, TensorView<double> o, std::vector<V>& g, Reduction r) {
        losskit::cosine_embedding_loss_forward_backward(ConstView<double>(in[0].data(), s),
                                                        ConstView<double>(in[1].data(), s),
                                                        ConstView<double>(y.data(), ts), o, {g[0].data(), s},
                                                        {g[1].data(), s}, {.margin = margin, .reduction = r});
      };
      const Bwd bwd = [&](ConstView<double> go, const std::vector<V>& in, std::vector<V>& g, Reduction r) {
        losskit::cosine_embedding_loss_backward(go, ConstView<double>(in[0].data(), s), ConstView<double>(in[1].data(), s),
                                                ConstView<double>(y.data(), ts), {g[0].data(), s}, {g[1].data(), s},
                                                {.margin = margin, .reduction = r});
      };
      check_all_grads(fwd, fused, bwd, {a, b}, ts);
    }
  }
  // Zero vectors: cos = 0 (the 1e-12 keeps it finite), finite gradients.
  const double z[3] = {0, 0, 0}, one[3] = {1, 2, 3}, y1 = 1;
  double o, g1[3], g2[3];
  losskit::cosine_embedding_loss_forward_backward(ConstView<double>(z, Shape{3}), ConstView<double>(one, Shape{3}),
                                                  ConstView<double>(&y1, Shape{}), {&o, Shape{}}, {g1, Shape{3}},
                                                  {g2, Shape{3}}, {});
  EXPECT_EQ(o, 1.0);
  for (int d = 0; d < 3; ++d) EXPECT_TRUE(std::isfinite(g1[d]) && std::isfinite(g2[d]));
}

// ----------------------------------------------------------------------------- triplets
double pdist_ref(const double* u, const double* w, std::int64_t D, double p, double eps) {
  double acc = 0, m = 0;
  for (std::int64_t d = 0; d < D; ++d) {
    const double v = std::fabs(u[d] - w[d] + eps);
    if (std::isinf(p)) m = std::max(m, v);
    else acc += std::pow(v, p);
  }
  return std::isinf(p) ? m : std::pow(acc, 1 / p);
}
double cosdist_ref(const double* u, const double* w, std::int64_t D, double eps) {
  double uw = 0, uu = 0, ww = 0;
  for (std::int64_t d = 0; d < D; ++d) {
    uw += u[d] * w[d];
    uu += u[d] * u[d];
    ww += w[d] * w[d];
  }
  return 1 - uw / (std::max(std::sqrt(uu), eps) * std::max(std::sqrt(ww), eps));
}

struct TripletCase {
  Shape shape;
  bool with_distance;
  losskit::TripletDistance distance;
  double p, eps, margin;
  bool swap;
};

void run_triplet_case(const TripletCase& c) {
  SCOPED_TRACE(::testing::Message() << c.shape.str() << " wd " << c.with_distance << " dist " << static_cast<int>(c.distance)
                                    << " p " << c.p << " eps " << c.eps << " margin " << c.margin << " swap " << c.swap);
  const auto n = static_cast<std::size_t>(c.shape.numel());
  const std::int64_t D = c.shape[c.shape.ndim() - 1];
  Shape ls;
  for (int k = 0; k + 1 < c.shape.ndim(); ++k) ls.push_back(c.shape[k]);
  const auto R = static_cast<std::size_t>(ls.numel());
  const V a = rng().normal(n), p = rng().normal(n), ng = rng().normal(n);
  const Shape s = c.shape;
  auto call_fwd = [&](const std::vector<V>& in, TensorView<double> o, Reduction r) {
    const ConstView<double> A(in[0].data(), s), P(in[1].data(), s), N(in[2].data(), s);
    if (c.with_distance)
      losskit::triplet_margin_with_distance_loss(A, P, N, o, {.distance = c.distance, .margin = c.margin, .swap = c.swap,
                                                              .reduction = r, .p = c.p, .eps = c.eps});
    else
      losskit::triplet_margin_loss(A, P, N, o, {.margin = c.margin, .p = c.p, .eps = c.eps, .swap = c.swap, .reduction = r});
  };
  auto call_fused = [&](const std::vector<V>& in, TensorView<double> o, std::vector<V>& g, Reduction r) {
    const ConstView<double> A(in[0].data(), s), P(in[1].data(), s), N(in[2].data(), s);
    if (c.with_distance)
      losskit::triplet_margin_with_distance_loss_forward_backward(
          A, P, N, o, {g[0].data(), s}, {g[1].data(), s}, {g[2].data(), s},
          {.distance = c.distance, .margin = c.margin, .swap = c.swap, .reduction = r, .p = c.p, .eps = c.eps});
    else
      losskit::triplet_margin_loss_forward_backward(A, P, N, o, {g[0].data(), s}, {g[1].data(), s}, {g[2].data(), s},
                                                    {.margin = c.margin, .p = c.p, .eps = c.eps, .swap = c.swap,
                                                     .reduction = r});
  };
  auto call_bwd = [&](ConstView<double> go, const std::vector<V>& in, std::vector<V>& g, Reduction r) {
    const ConstView<double> A(in[0].data(), s), P(in[1].data(), s), N(in[2].data(), s);
    if (c.with_distance)
      losskit::triplet_margin_with_distance_loss_backward(
          go, A, P, N, {g[0].data(), s}, {g[1].data(), s}, {g[2].data(), s},
          {.distance = c.distance, .margin = c.margin, .swap = c.swap, .reduction = r, .p = c.p, .eps = c.eps});
    else
      losskit::triplet_margin_loss_backward(go, A, P, N, {g[0].data(), s}, {g[1].data(), s}, {g[2].data(), s},
                                            {.margin = c.margin, .p = c.p, .eps = c.eps, .swap = c.swap, .reduction = r});
  };
  V l(R);
  call_fwd({a, p, ng}, {l.data(), ls}, Reduction::None);
  const bool cosine = c.with_distance && c.distance == losskit::TripletDistance::Cosine;
  for (std::size_t i = 0; i < R; ++i) {
    auto dist = [&](const V& u, const V& w) {
      return cosine ? cosdist_ref(u.data() + i * D, w.data() + i * D, D, 1e-8)
                    : pdist_ref(u.data() + i * D, w.data() + i * D, D, c.p, c.eps);
    };
    double dn = dist(a, ng);
    if (c.swap) dn = std::min(dn, dist(p, ng));
    EXPECT_NEAR(l[i], std::max(0.0, c.margin + dist(a, p) - dn), 1e-12);
  }
  check_all_grads(call_fwd, call_fused, call_bwd, {a, p, ng}, ls, 1e-5);
}

TEST(TripletMarginLoss, EveryOption) {
  for (const Shape& s : {Shape{7, 5}, Shape{6}, Shape{2, 3, 4}})
    for (double p : {2.0, 1.0, 3.0, 1.5, kInf})
      for (double eps : {1e-6, 0.1})
        for (double margin : {1.0, 0.3})
          for (bool swap : {false, true}) run_triplet_case({s, false, {}, p, eps, margin, swap});
}

TEST(TripletMarginWithDistanceLoss, BuiltInDistances) {
  for (const Shape& s : {Shape{7, 5}, Shape{6}})
    for (bool swap : {false, true})
      for (double margin : {1.0, 0.2}) {
        run_triplet_case({s, true, losskit::TripletDistance::Pairwise, 2.0, 1e-6, margin, swap});
        run_triplet_case({s, true, losskit::TripletDistance::Pairwise, 1.0, 0.0, margin, swap});
        run_triplet_case({s, true, losskit::TripletDistance::Cosine, 2.0, 1e-6, margin, swap});
      }
}

TEST(TripletMarginLoss, SwapTieSplitsAndZeroDistance) {
  // anchor == positive: d(a, n) == d(p, n), so the minimum's gradient is split evenly, and
  // d(a, p) = |eps| (finite gradient); with eps = 0 the zero norm has gradient 0.
  const double a[2] = {1, 2}, n[2] = {0, 0};
  double o, ga[2], gp[2], gn[2];
  losskit::triplet_margin_loss_forward_backward(ConstView<double>(a, Shape{2}), ConstView<double>(a, Shape{2}),
                                                ConstView<double>(n, Shape{2}), {&o, Shape{}}, {ga, Shape{2}},
                                                {gp, Shape{2}}, {gn, Shape{2}},
                                                {.margin = 5.0, .eps = 0.0, .swap = true});
  const double norm = std::sqrt(5.0);
  EXPECT_NEAR(o, 5.0 - norm, 1e-15);
  for (int d = 0; d < 2; ++d) {
    EXPECT_NEAR(ga[d], -0.5 * a[d] / norm, 1e-15);
    EXPECT_NEAR(gp[d], -0.5 * a[d] / norm, 1e-15);
    EXPECT_NEAR(gn[d], a[d] / norm, 1e-15);
  }
}

TEST(EmbeddingExtremes, EmptyBatchAndInfinities) {
  const Shape s{0, 4}, ls{0};
  double o = 1;
  losskit::triplet_margin_loss(ConstView<double>(nullptr, s), ConstView<double>(nullptr, s),
                               ConstView<double>(nullptr, s), {&o, Shape{}}, {.reduction = Reduction::Sum});
  EXPECT_EQ(o, 0.0);
  EXPECT_TRUE(std::isnan(losskit::triplet_margin_loss(ConstView<double>(nullptr, s), ConstView<double>(nullptr, s),
                                                      ConstView<double>(nullptr, s))
                             .item()));
  EXPECT_TRUE(std::isnan(losskit::cosine_embedding_loss(ConstView<double>(nullptr, s), ConstView<double>(nullptr, s),
                                                        ConstView<double>(nullptr, ls))
                             .item()));
  EXPECT_TRUE(std::isnan(losskit::margin_ranking_loss(ConstView<double>(nullptr, ls), ConstView<double>(nullptr, ls),
                                                      ConstView<double>(nullptr, ls))
                             .item()));
  EXPECT_TRUE(std::isnan(
      losskit::hinge_embedding_loss(ConstView<double>(nullptr, ls), ConstView<double>(nullptr, ls)).item()));
  // Infinite scores: margin ranking saturates to 0 or inf with finite gradients.
  const double x1[2] = {kInf, -kInf}, x2[2] = {0, 0}, y[2] = {1, 1};
  double l[2], g1[2], g2[2];
  losskit::margin_ranking_loss_forward_backward(ConstView<double>(x1, Shape{2}), ConstView<double>(x2, Shape{2}),
                                                ConstView<double>(y, Shape{2}), {l, Shape{2}}, {g1, Shape{2}},
                                                {g2, Shape{2}}, {.reduction = Reduction::None});
  EXPECT_EQ(l[0], 0.0);
  EXPECT_EQ(l[1], kInf);
  EXPECT_EQ(g1[0], 0.0);
  EXPECT_EQ(g1[1], -1.0);
  EXPECT_EQ(g2[1], 1.0);
  // Huge embeddings: the cosine stays in [-1, 1].
  const double big1[2] = {1e150, 1e150}, big2[2] = {1e150, -1e150}, ym = -1;
  const auto c = losskit::cosine_embedding_loss(ConstView<double>(big1, Shape{2}), ConstView<double>(big2, Shape{2}),
                                                ConstView<double>(&ym, Shape{}), {.margin = -1.0});
  EXPECT_NEAR(c.item(), 1.0, 1e-12);  // cos = 0, max(0, 0 - (-1)) = 1
}

TEST(EmbeddingErrors, BadInputsLeaveOutputsUntouched) {
  const V a(12, 0.5), b(12, 0.25), y(4, 1.0);
  V out(12), g1(12), g2(12), g3(12);
  const Shape s{4, 3};
  const ConstView<double> A(a.data(), s), B(b.data(), s), Y(y.data(), Shape{4});
  const TensorView<double> O(out.data(), Shape{}), G1(g1.data(), s), G2(g2.data(), s), G3(g3.data(), s);
  struct Case {
    const char* what;
    std::function<void()> call;
    ErrorKind kind;
    std::string needle;
  };
  const std::vector<Case> cases{
      {"hinge shapes", [&] { losskit::hinge_embedding_loss(A, Y, O); }, ErrorKind::Shape,
       "hinge_embedding_loss: input and target must have the same shape (got input: [4, 3], target: [4])"},
      {"ranking target shape", [&] { losskit::margin_ranking_loss(A, B, Y, O); }, ErrorKind::Shape,
       "margin_ranking_loss: expected target of shape [4, 3] for input1 of shape [4, 3], got [4]"},
      {"ranking input shapes",
       [&] { losskit::margin_ranking_loss(A, ConstView<double>(b.data(), Shape{3, 4}), A, O); }, ErrorKind::Shape,
       "margin_ranking_loss: input1 and input2 must have the same shape"},
      {"cosine 2-D target", [&] { losskit::cosine_embedding_loss(A, B, A, O); }, ErrorKind::Shape,
       "cosine_embedding_loss: target must be 0-d or 1-D"},
      {"cosine dims", [&] { losskit::cosine_embedding_loss(A, B, ConstView<double>(y.data(), Shape{}), O); },
       ErrorKind::Shape, "cosine_embedding_loss: a 0-D target expects 1-D inputs"},
      {"cosine batch", [&] { losskit::cosine_embedding_loss(A, B, ConstView<double>(y.data(), Shape{3}), O); },
       ErrorKind::Shape, "cosine_embedding_loss: expected target of shape [4] for input1 of shape [4, 3], got [3]"},
      {"triplet shapes", [&] { losskit::triplet_margin_loss(A, B, ConstView<double>(b.data(), Shape{3, 4}), O); },
       ErrorKind::Shape, "triplet_margin_loss: anchor and negative must have the same shape"},
      {"triplet 0-d", [&] { losskit::triplet_margin_loss(Y, Y, ConstView<double>(y.data(), Shape{}), O); },
       ErrorKind::Shape, "triplet_margin_loss: negative must have at least 1 dim"},
      {"triplet p", [&] { losskit::triplet_margin_loss_forward_backward(A, B, A, O, G1, G2, G3, {.p = -1.0}); },
       ErrorKind::Value, "triplet_margin_loss: p = -1 must be >= 0"},
      {"unknown distance",
       [&] {
         losskit::triplet_margin_with_distance_loss_forward_backward(
             A, B, A, O, G1, G2, G3, {.distance = static_cast<losskit::TripletDistance>(7)});
       },
       ErrorKind::Value, "triplet_margin_with_distance_loss: distance = 7 is not a TripletDistance"},
      {"triplet none out",
       [&] { losskit::triplet_margin_loss(A, B, A, TensorView<double>(out.data(), s), {.reduction = Reduction::None}); },
       ErrorKind::Shape, "triplet_margin_loss: out has shape [4, 3], expected [4]"},
      {"triplet grad shape",
       [&] {
         losskit::triplet_margin_loss_forward_backward(A, B, A, O, G1, TensorView<double>(g2.data(), Shape{12}), G3, {});
       },
       ErrorKind::Shape, "triplet_margin_loss: grad_positive has shape [12], expected [4, 3]"},
      {"grads alias",
       [&] { losskit::triplet_margin_loss_forward_backward(A, B, A, O, G1, G1, G3, {}); }, ErrorKind::Runtime,
       "triplet_margin_loss: grad_positive overlaps grad_anchor"},
      {"grad_output shape",
       [&] {
         losskit::cosine_embedding_loss_backward(ConstView<double>(y.data(), Shape{3}), A, B, Y, G1, G2,
                                                 {.reduction = Reduction::None});
       },
       ErrorKind::Shape, "cosine_embedding_loss: grad_output has shape [3], expected [4]"},
      {"batchmean", [&] { losskit::margin_ranking_loss(Y, Y, Y, O, {.reduction = Reduction::BatchMean}); },
       ErrorKind::Value, "margin_ranking_loss: reduction = 'batchmean' is only defined for kl_div"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_TRUE(lktest::expect_error_untouched<double>(c.call, c.kind, c.needle, {&out, &g1, &g2, &g3}, -5.0));
  }
}

TEST(EmbeddingFloat, StridedMatchesContiguous) {
  // A (5, 4) embedding matrix read through a transposed view equals its contiguous copy.
  const V base = rng().normal(20), other = rng().normal(20), neg = rng().normal(20);
  const auto bf = lktest::cast<float>(base), of = lktest::cast<float>(other), nf = lktest::cast<float>(neg);
  std::vector<float> bt(20), ot(20), nt(20);
  for (int i = 0; i < 5; ++i)
    for (int d = 0; d < 4; ++d) {
      bt[static_cast<std::size_t>(i * 4 + d)] = bf[static_cast<std::size_t>(d * 5 + i)];
      ot[static_cast<std::size_t>(i * 4 + d)] = of[static_cast<std::size_t>(d * 5 + i)];
      nt[static_cast<std::size_t>(i * 4 + d)] = nf[static_cast<std::size_t>(d * 5 + i)];
    }
  const Shape s{5, 4}, st{1, 5};
  const auto strided = losskit::triplet_margin_loss(ConstView<float>(bf.data(), s, st), ConstView<float>(of.data(), s, st),
                                                    ConstView<float>(nf.data(), s, st), {.reduction = Reduction::None});
  const auto contiguous = losskit::triplet_margin_loss(ConstView<float>(bt.data(), s), ConstView<float>(ot.data(), s),
                                                       ConstView<float>(nt.data(), s), {.reduction = Reduction::None});
  for (std::int64_t i = 0; i < 5; ++i) EXPECT_EQ(strided[i], contiguous[i]);
}

// float32 rows of 16 or more contiguous values run the SIMD row kernels (kernels/rows.hpp),
// float64 rows the scalar loops: on the same values the two agree to float32 rounding (both
// form the row sums and gradient rows in float64; only the summation order differs).
TEST(EmbeddingFloat, SimdRowsMatchFloat64) {
  using TOpts = losskit::TripletMarginLossOptions;
  using WOpts = losskit::TripletMarginWithDistanceLossOptions;
  for (const std::int64_t D : {16, 17, 40, 300}) {
    SCOPED_TRACE("D = " + std::to_string(D));
    const std::int64_t R = 9;
    const std::size_t RD = static_cast<std::size_t>(R * D);
    const Shape s{R, D}, ls{R};
    auto f32 = [](const V& v) {
      const auto f = lktest::cast<float>(v);
      return V(f.begin(), f.end());
    };
    const V a = f32(rng().normal(RD)), p = f32(rng().normal(RD)), up = f32(rng().uniform(static_cast<std::size_t>(R), 0.5, 1.5));
    V n = f32(rng().normal(RD));
    for (std::int64_t d = 0; d < D; ++d) n[static_cast<std::size_t>(D + d)] = p[static_cast<std::size_t>(D + d)];  // d(p, n) = 0
    V y = labels(static_cast<std::size_t>(R));
    // Each call returns the per-row losses, the fused gradients and the backward's gradients.
    auto triplet = [&](auto zero, const auto& opts) {
      using T = decltype(zero);
      const auto A = lktest::cast<T>(a), P = lktest::cast<T>(p), N = lktest::cast<T>(n), U = lktest::cast<T>(up);
      std::vector<T> l(static_cast<std::size_t>(R)), ga(RD), gp(RD), gn(RD);
      std::vector<double> r;
      auto keep = [&](const std::vector<T>& v) { r.insert(r.end(), v.begin(), v.end()); };
      if constexpr (std::is_same_v<std::decay_t<decltype(opts)>, TOpts>) {
        losskit::triplet_margin_loss_forward_backward(ConstView<T>(A.data(), s), ConstView<T>(P.data(), s), ConstView<T>(N.data(), s),
                                                      {l.data(), ls}, {ga.data(), s}, {gp.data(), s}, {gn.data(), s}, opts);
        keep(l), keep(ga), keep(gp), keep(gn);
        losskit::triplet_margin_loss_backward(ConstView<T>(U.data(), ls), ConstView<T>(A.data(), s), ConstView<T>(P.data(), s),
                                              ConstView<T>(N.data(), s), {ga.data(), s}, {gp.data(), s}, {gn.data(), s}, opts);
      } else {
        losskit::triplet_margin_with_distance_loss_forward_backward(
            ConstView<T>(A.data(), s), ConstView<T>(P.data(), s), ConstView<T>(N.data(), s), {l.data(), ls}, {ga.data(), s},
            {gp.data(), s}, {gn.data(), s}, opts);
        keep(l), keep(ga), keep(gp), keep(gn);
        losskit::triplet_margin_with_distance_loss_backward(ConstView<T>(U.data(), ls), ConstView<T>(A.data(), s),
                                                            ConstView<T>(P.data(), s), ConstView<T>(N.data(), s),
                                                            {ga.data(), s}, {gp.data(), s}, {gn.data(), s}, opts);
      }
      keep(ga), keep(gp), keep(gn);
      return r;
    };
    auto cosine = [&](auto zero, double margin) {
      using T = decltype(zero);
      const auto A = lktest::cast<T>(a), P = lktest::cast<T>(p), Y = lktest::cast<T>(y), U = lktest::cast<T>(up);
      std::vector<T> l(static_cast<std::size_t>(R)), g1(RD), g2(RD);
      std::vector<double> r;
      auto keep = [&](const std::vector<T>& v) { r.insert(r.end(), v.begin(), v.end()); };
      const losskit::CosineEmbeddingLossOptions o{.margin = margin, .reduction = Reduction::None};
      losskit::cosine_embedding_loss_forward_backward(ConstView<T>(A.data(), s), ConstView<T>(P.data(), s),
                                                      ConstView<T>(Y.data(), ls), {l.data(), ls}, {g1.data(), s},
                                                      {g2.data(), s}, o);
      keep(l), keep(g1), keep(g2);
      losskit::cosine_embedding_loss_backward(ConstView<T>(U.data(), ls), ConstView<T>(A.data(), s),
                                              ConstView<T>(P.data(), s), ConstView<T>(Y.data(), ls), {g1.data(), s},
                                              {g2.data(), s}, o);
      keep(g1), keep(g2);
      return r;
    };
    auto expect_close = [](const std::vector<double>& f, const std::vector<double>& d) {
      ASSERT_EQ(f.size(), d.size());
      for (std::size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(f[i], d[i], 2e-6 * (1 + std::fabs(d[i]))) << "entry " << i;
    };
    for (const bool swap : {false, true}) {
      SCOPED_TRACE(swap ? "swap" : "no swap");
      for (const double pn : {1.0, 2.0}) {
        const TOpts o{.margin = 1.0, .p = pn, .swap = swap, .reduction = Reduction::None};
        expect_close(triplet(0.0f, o), triplet(0.0, o));
      }
      const WOpts w{.distance = losskit::TripletDistance::Cosine, .margin = 0.5, .swap = swap, .reduction = Reduction::None};
      expect_close(triplet(0.0f, w), triplet(0.0, w));
    }
    for (const double margin : {0.0, 0.2}) expect_close(cosine(0.0f, margin), cosine(0.0, margin));
  }
}

// Rows with a padded row stride (contiguous within a row) take the same SIMD row kernels as
// packed rows: bitwise the same losses and gradients.
TEST(EmbeddingFloat, PaddedRowsMatchPackedRows) {
  const std::int64_t R = 6, D = 40, P = D + 3;
  const Shape s{R, D}, ls{R};
  auto make = [](std::size_t n) { return lktest::cast<float>(rng().normal(n)); };
  const auto a = make(static_cast<std::size_t>(R * D)), p = make(static_cast<std::size_t>(R * D)),
             n = make(static_cast<std::size_t>(R * D));
  const auto y = lktest::cast<float>(labels(static_cast<std::size_t>(R)));
  auto pad = [&](const std::vector<float>& v) {
    std::vector<float> w(static_cast<std::size_t>(R * P), 99.0f);
    for (std::int64_t i = 0; i < R; ++i)
      for (std::int64_t d = 0; d < D; ++d) w[static_cast<std::size_t>(i * P + d)] = v[static_cast<std::size_t>(i * D + d)];
    return w;
  };
  const auto ap = pad(a), pp = pad(p), np = pad(n);
  const losskit::Shape st{P, 1};
  for (const double pn : {1.0, 2.0}) {
    const losskit::TripletMarginLossOptions o{.p = pn, .swap = true, .reduction = Reduction::None};
    std::vector<float> l1(R), l2(R), g1(static_cast<std::size_t>(3 * R * D)), g2(g1.size());
    auto gv = [&](std::vector<float>& g, int k) { return TensorView<float>(g.data() + k * R * D, s); };
    losskit::triplet_margin_loss_forward_backward(ConstView<float>(a.data(), s), ConstView<float>(p.data(), s),
                                                  ConstView<float>(n.data(), s), {l1.data(), ls}, gv(g1, 0), gv(g1, 1),
                                                  gv(g1, 2), o);
    losskit::triplet_margin_loss_forward_backward(ConstView<float>(ap.data(), s, st), ConstView<float>(pp.data(), s, st),
                                                  ConstView<float>(np.data(), s, st), {l2.data(), ls}, gv(g2, 0),
                                                  gv(g2, 1), gv(g2, 2), o);
    EXPECT_TRUE(l1 == l2) << "p = " << pn;
    EXPECT_TRUE(g1 == g2) << "p = " << pn;
  }
  std::vector<float> l1(R), l2(R), g1(static_cast<std::size_t>(2 * R * D)), g2(g1.size());
  const losskit::CosineEmbeddingLossOptions o{.margin = 0.1, .reduction = Reduction::None};
  losskit::cosine_embedding_loss_forward_backward(ConstView<float>(a.data(), s), ConstView<float>(p.data(), s),
                                                  ConstView<float>(y.data(), ls), {l1.data(), ls}, {g1.data(), s},
                                                  {g1.data() + R * D, s}, o);
  losskit::cosine_embedding_loss_forward_backward(ConstView<float>(ap.data(), s, st), ConstView<float>(pp.data(), s, st),
                                                  ConstView<float>(y.data(), ls), {l2.data(), ls}, {g2.data(), s},
                                                  {g2.data() + R * D, s}, o);
  EXPECT_TRUE(l1 == l2);
  EXPECT_TRUE(g1 == g2);
}

}  // namespace

namespace {

// Results are bitwise identical for any thread count (fixed blocks added in a fixed order).
TEST(EmbeddingThreads, BitwiseIdenticalForAnyThreadCount) {
  const std::size_t N = 20011, D = 37;  // rows of 37: the SIMD row kernels and their tails
  const auto a = lktest::cast<float>(rng().normal(N * D)), p = lktest::cast<float>(rng().normal(N * D)),
             n = lktest::cast<float>(rng().normal(N * D)), y = lktest::cast<float>(labels(N));
  const Shape s{static_cast<std::int64_t>(N), static_cast<std::int64_t>(D)}, ls{static_cast<std::int64_t>(N)};
  auto run = [&] {
    std::vector<float> r, g1(N * D), g2(N * D), g3(N * D);
    float o;
    losskit::triplet_margin_loss_forward_backward(ConstView<float>(a.data(), s), ConstView<float>(p.data(), s),
                                                  ConstView<float>(n.data(), s), {&o, Shape{}}, {g1.data(), s},
                                                  {g2.data(), s}, {g3.data(), s}, {.swap = true});
    r.push_back(o);
    r.insert(r.end(), g3.begin(), g3.end());
    losskit::cosine_embedding_loss_forward_backward(ConstView<float>(a.data(), s), ConstView<float>(p.data(), s),
                                                    ConstView<float>(y.data(), ls), {&o, Shape{}}, {g1.data(), s},
                                                    {g2.data(), s}, {.margin = 0.2});
    r.push_back(o);
    r.insert(r.end(), g1.begin(), g1.end());
    losskit::margin_ranking_loss(ConstView<float>(a.data(), s), ConstView<float>(p.data(), s),
                                 ConstView<float>(n.data(), s), {&o, Shape{}}, {.margin = 0.1});
    r.push_back(o);
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
