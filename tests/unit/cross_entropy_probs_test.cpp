// cross_entropy with probability targets, float32: the SIMD row kernel (kernels/softmax_probs.cpp,
// taken for contiguous [N, C] rows) against the scalar float64 path (taken when the same values
// are passed through a view whose class stride is 2). Every class-count tail, every option and
// call form; exact zeros next to -inf logits; special rows identical to the scalar path; huge
// logits; streamed gradients; in-place gradients; thread-count determinism.
//
// Tolerances (see the accuracy note in kernels/softmax_probs.cpp): a row loss within
// 1e-6 |ref| + 3e-7 (A |lse| + sum_c |a_c x_c| + A); a gradient entry within 4 float32 ULP (at worst) of
// |g_c| + |gs| A p_c, i.e. 8 * 2^-24 relative (plus gs A 2^-125 for exps flushed to zero).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <losskit/losskit.hpp>

#include "support/testing.hpp"

using losskit::ConstView;
using losskit::CrossEntropyOptions;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using lktest::Rng;

namespace {

constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNaNF = std::numeric_limits<float>::quiet_NaN();

enum class Call { Forward, Backward, BackwardPerRow, Both };
const char* name(Call c) {
  switch (c) {
    case Call::Forward: return "forward";
    case Call::Backward: return "backward";
    case Call::BackwardPerRow: return "backward(per-row grad_output)";
    default: return "forward_backward";
  }
}

struct Problem {
  std::int64_t N = 1, C = 1;
  std::vector<float> x, t, w;  // w empty: no weights
  double smoothing = 0;
  Reduction reduction = Reduction::Mean;
  std::string str() const {
    return "N " + std::to_string(N) + " C " + std::to_string(C) + (w.empty() ? "" : " weighted") + " smoothing " +
           std::to_string(smoothing) + " reduction " + std::string(losskit::to_string(reduction));
  }
  CrossEntropyOptions<float> opts() const { return {.weight = w, .reduction = reduction, .label_smoothing = smoothing}; }
  Shape out_shape() const { return reduction == Reduction::None ? Shape{N} : Shape{}; }
};

struct Result {
  std::vector<float> out, grad;
};

/// Runs one call; scalar = pass the logits through a class stride of 2 (scalar branch).
/// grad_output: one value per row (per-row call) or one scalar (others).
Result run(const Problem& p, Call call, bool scalar, const std::vector<float>& grad_output, float* grad_buf = nullptr) {
  const Shape s{p.N, p.C};
  std::vector<float> xs;
  ConstView<float> xv(p.x.data(), s);
  if (scalar) {
    xs.assign(p.x.size() * 2, 0.0f);
    for (std::size_t i = 0; i < p.x.size(); ++i) xs[2 * i] = p.x[i];
    xv = ConstView<float>(xs.data(), s, Shape{2 * p.C, 2});
  }
  const ConstView<float> tv(p.t.data(), s);
  Result r;
  r.out.assign(static_cast<std::size_t>(p.out_shape().numel()), -7.0f);
  std::vector<float> g_own;
  float* g = grad_buf;
  if (!g) {
    g_own.assign(p.x.size(), -7.0f);
    g = g_own.data();
  }
  const auto o = p.opts();
  switch (call) {
    case Call::Forward:
      losskit::cross_entropy(xv, tv, TensorView<float>(r.out.data(), p.out_shape()), o);
      break;
    case Call::Backward:
    case Call::BackwardPerRow:
      losskit::cross_entropy_backward(ConstView<float>(grad_output.data(), p.out_shape()), xv, tv,
                                      TensorView<float>(g, s), o);
      break;
    case Call::Both:
      losskit::cross_entropy_forward_backward(xv, tv, TensorView<float>(r.out.data(), p.out_shape()),
                                              TensorView<float>(g, s), o);
      break;
  }
  if (call != Call::Forward) r.grad.assign(g, g + p.x.size());
  if (call == Call::Backward || call == Call::BackwardPerRow) r.out.clear();
  return r;
}

/// float64 row quantities for the tolerances.
struct RowInfo {
  double A = 0, lse = 0, scale = 0;  // scale: A |lse| + sum |a x| + A
  double m = 0, log_s = 0;           // p_c = exp((x_c - m) - log_s): exact even for huge logits
  double p(double x) const { return std::exp((x - m) - log_s); }
};
std::vector<RowInfo> row_info(const Problem& p) {
  std::vector<RowInfo> v(static_cast<std::size_t>(p.N));
  const double e = p.smoothing, eC = e / static_cast<double>(p.C);
  for (std::int64_t i = 0; i < p.N; ++i) {
    const float* x = p.x.data() + i * p.C;
    const float* t = p.t.data() + i * p.C;
    double m = -INFINITY;
    for (std::int64_t c = 0; c < p.C; ++c) m = std::max(m, static_cast<double>(x[c]));
    double s = 0;
    for (std::int64_t c = 0; c < p.C; ++c) s += std::exp(static_cast<double>(x[c]) - m);
    RowInfo& r = v[static_cast<std::size_t>(i)];
    r.lse = m + std::log(s);
    r.m = m, r.log_s = std::log(s);
    double sax = 0;
    for (std::int64_t c = 0; c < p.C; ++c) {
      const double a = (p.w.empty() ? 1.0 : p.w[static_cast<std::size_t>(c)]) * ((1 - e) * t[c] + eC);
      if (a == 0) continue;
      r.A += a;
      sax += std::fabs(a * x[c]);
    }
    r.scale = std::fabs(r.A * r.lse) + sax + std::fabs(r.A);
  }
  return v;
}

bool same_special(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

/// Compares SIMD against the scalar path for one problem and call. exact_grad: compare the
/// gradient with gs (A p_c - a_c) formed here in float64 with p_c = exp((x_c - m) - log S)
/// instead (the scalar path's exp(x_c - lse) loses p_c when lse rounds, e.g. logits near 1e30).
void compare(const Problem& p, Call call, const std::vector<float>& go, const std::string& what,
             bool exact_grad = false) {
  SCOPED_TRACE(what + " " + p.str() + " " + name(call));
  const Result fast = run(p, call, false, go), ref = run(p, call, true, go);
  const auto info = row_info(p);
  const double N = static_cast<double>(p.N);
  // Loss.
  if (!ref.out.empty()) {
    ASSERT_EQ(fast.out.size(), ref.out.size());
    for (std::size_t k = 0; k < ref.out.size(); ++k) {
      const double v = fast.out[k], r = ref.out[k];
      double tol;
      if (p.reduction == Reduction::None) {
        tol = 1e-6 * std::fabs(r) + 3e-7 * info[k].scale;
      } else {
        double sc = 0;
        for (const auto& ri : info) sc += ri.scale;
        if (p.reduction == Reduction::Mean) sc /= N;
        tol = 1e-6 * std::fabs(r) + 3e-7 * sc;
      }
      if (!std::isfinite(r) || !std::isfinite(v) || !std::isfinite(tol)) {
        EXPECT_TRUE(same_special(v, r)) << "loss " << k << ": " << v << " vs " << r;
      } else {
        EXPECT_NEAR(v, r, tol) << "loss " << k;
      }
    }
  }
  // Gradient.
  if (!ref.grad.empty()) {
    ASSERT_EQ(fast.grad.size(), ref.grad.size());
    int bad = 0;
    for (std::int64_t i = 0; i < p.N; ++i) {
      double gs = call == Call::BackwardPerRow ? go[static_cast<std::size_t>(i)] : call == Call::Backward ? go[0] : 1.0;
      if (p.reduction == Reduction::Mean) gs /= N;
      const RowInfo& ri = info[static_cast<std::size_t>(i)];
      for (std::int64_t c = 0; c < p.C; ++c) {
        const std::size_t k = static_cast<std::size_t>(i * p.C + c);
        const double pc = ri.p(p.x[k]);
        double r = ref.grad[k];
        if (exact_grad) {
          const double e = p.smoothing, eC = e / static_cast<double>(p.C);
          const double a = (p.w.empty() ? 1.0 : p.w[static_cast<std::size_t>(c)]) * ((1 - e) * p.t[k] + eC);
          r = gs * (ri.A * pc - a);
        }
        const double v = fast.grad[k];
        const double tol = 8 * 0x1p-24 * (std::fabs(r) + std::fabs(gs * ri.A) * pc) + std::fabs(gs * ri.A) * 0x1p-125;
        const bool ok = (!std::isfinite(r) || !std::isfinite(v) || !std::isfinite(tol)) ? same_special(v, r)
                                                                                          : std::fabs(v - r) <= tol;
        if (!ok && ++bad <= 5) ADD_FAILURE() << "grad (" << i << ", " << c << "): " << v << " vs " << r << " tol " << tol;
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

/// Random problem: soft labels with exact zeros (about 1 in 5); where a target is 0, the logit
/// is -inf in about 1 in 4 cases (only when the row has other finite logits); class 0 weight 0.
Problem make(Rng& rng, std::int64_t N, std::int64_t C, bool weighted, double smoothing, Reduction red,
             bool neg_inf = true) {
  Problem p;
  p.N = N, p.C = C, p.smoothing = smoothing, p.reduction = red;
  const auto x = rng.normal(static_cast<std::size_t>(N * C), 0.5, 3.0);
  auto t = rng.simplex(static_cast<std::size_t>(N), static_cast<std::size_t>(C));
  const auto u = rng.uniform(static_cast<std::size_t>(N * C) * 2, 0, 1);
  p.x.assign(x.begin(), x.end());
  p.t.assign(t.size(), 0.0f);
  for (std::size_t k = 0; k < t.size(); ++k) {
    const bool zero = C > 1 && u[2 * k] < 0.2;
    p.t[k] = zero ? 0.0f : static_cast<float>(t[k]);
    if (zero && neg_inf && u[2 * k + 1] < 0.25 && (k % static_cast<std::size_t>(C)) != 0) p.x[k] = -kInfF;
  }
  if (weighted) {
    const auto w = rng.uniform(static_cast<std::size_t>(C), 0.1, 3.0);
    p.w.assign(w.begin(), w.end());
    if (C > 1) p.w[0] = 0.0f;
  }
  return p;
}

std::vector<float> grad_outputs(Rng& rng, const Problem& p, Call call) {
  if (call == Call::BackwardPerRow) {
    const auto g = rng.uniform(static_cast<std::size_t>(p.N), -2.0, 2.0);
    return {g.begin(), g.end()};
  }
  return {0.75f};
}

// ------------------------------------------------------------------------------ tests -----

TEST(CrossEntropyProbsSimd, MatchesScalarPathEveryOption) {
  Rng rng(2024);
  for (const std::int64_t C : {1, 2, 7, 16, 17, 100, 1000, 4099})
    for (const std::int64_t N : {1, 2, 3, 4, 5, 300})
      for (const bool weighted : {false, true})
        for (const double sm : {0.0, 0.2})
          for (const Reduction red : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
            // -inf logits only where they give a finite loss (a_c = 0): no smoothing, or weight 0
            // (class 0 with weights); other -inf rows are covered by SpecialRowsAsScalar.
            const Problem p = make(rng, N, C, weighted, sm, red, sm == 0);
            for (const Call call : {Call::Forward, Call::Backward, Call::BackwardPerRow, Call::Both}) {
              if (call == Call::BackwardPerRow && red != Reduction::None) continue;
              if (call == Call::Backward && red == Reduction::None) continue;
              compare(p, call, grad_outputs(rng, p, call), "random");
              if (HasFatalFailure()) return;
            }
          }
}

// The two paths really differ (so the comparisons above can fail): float32 against float64
// arithmetic gives some gradient entries that are not bitwise equal.
TEST(CrossEntropyProbsSimd, PathsAreDistinct) {
  Rng rng(7);
  const Problem p = make(rng, 64, 1000, true, 0.1, Reduction::Sum, false);
  const Result a = run(p, Call::Both, false, {}), b = run(p, Call::Both, true, {});
  EXPECT_NE(std::memcmp(a.grad.data(), b.grad.data(), a.grad.size() * sizeof(float)), 0);
}

TEST(CrossEntropyProbsSimd, ZeroTargetsNextToNegInfLogits) {
  // a_c = 0 where x_c = -inf: the term counts 0 (not NaN), the gradient there is 0.
  for (const std::int64_t C : {2, 7, 16, 17, 100}) {
    Problem p;
    p.N = 3, p.C = C, p.reduction = Reduction::None;
    p.x.assign(static_cast<std::size_t>(3 * C), 0.0f);
    p.t.assign(p.x.size(), 0.0f);
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t c = 0; c < C; ++c) {
        const std::size_t k = static_cast<std::size_t>(i * C + c);
        p.x[k] = c % 2 ? -kInfF : static_cast<float>(c) * 0.25f - static_cast<float>(i);
        p.t[k] = c % 2 ? 0.0f : 1.0f;
      }
    const Result r = run(p, Call::Both, false, {});
    for (float v : r.out) EXPECT_TRUE(std::isfinite(v)) << C;
    for (std::int64_t c = 1; c < C; c += 2) EXPECT_EQ(r.grad[static_cast<std::size_t>(c)], 0.0f) << C;
    compare(p, Call::Both, {}, "zeros next to -inf");
    p.reduction = Reduction::Mean;
    compare(p, Call::Forward, {}, "zeros next to -inf");
  }
}

TEST(CrossEntropyProbsSimd, SpecialRowsAsScalar) {
  // Rows with NaN / +inf logits, only -inf logits, -inf where a_c != 0, a NaN or inf target, or
  // a NaN upstream gradient: the kernel hands them to the scalar row, so results are identical.
  for (const std::int64_t C : {2, 7, 17, 100, 1000}) {
    Rng rng(static_cast<std::uint64_t>(C));
    for (const bool weighted : {false, true})
      for (const double sm : {0.0, 0.1}) {
        Problem p = make(rng, 9, C, weighted, sm, Reduction::None, false);
        auto row = [&](std::int64_t i, std::int64_t c) -> float& { return p.x[static_cast<std::size_t>(i * C + c)]; };
        auto trow = [&](std::int64_t i, std::int64_t c) -> float& { return p.t[static_cast<std::size_t>(i * C + c)]; };
        row(1, C - 1) = kNaNF;
        row(2, C / 2) = kInfF;
        for (std::int64_t c = 0; c < C; ++c) row(3, c) = -kInfF;
        row(4, C - 1) = -kInfF, trow(4, C - 1) = 0.5f;  // a_c != 0 at -inf: loss +inf
        trow(5, 0) = kNaNF;
        trow(6, C - 1) = kInfF;
        row(7, 0) = kInfF, row(7, C - 1) = -kInfF;
        const std::vector<std::int64_t> special{1, 2, 3, 4, 5, 6, 7};
        std::vector<float> go(9, 1.5f);
        go[8] = kNaNF;
        for (const Call call : {Call::Forward, Call::BackwardPerRow, Call::Both}) {
          SCOPED_TRACE(p.str() + " " + name(call));
          const Result a = run(p, call, false, go), b = run(p, call, true, go);
          std::vector<std::int64_t> rows = special;
          if (call == Call::BackwardPerRow) rows.push_back(8);
          for (std::int64_t i : rows) {
            if (!b.out.empty())
              EXPECT_TRUE(same_special(a.out[static_cast<std::size_t>(i)], b.out[static_cast<std::size_t>(i)]))
                  << "row " << i << ": " << a.out[static_cast<std::size_t>(i)] << " vs "
                  << b.out[static_cast<std::size_t>(i)];
            if (!b.grad.empty())
              for (std::int64_t c = 0; c < C; ++c) {
                const std::size_t k = static_cast<std::size_t>(i * C + c);
                EXPECT_TRUE(same_special(a.grad[k], b.grad[k])) << "row " << i << " class " << c;
              }
          }
        }
        // The sum of a batch holding a special row.
        p.reduction = Reduction::Sum;
        const Result a = run(p, Call::Forward, false, {}), b = run(p, Call::Forward, true, {});
        EXPECT_TRUE(same_special(a.out[0], b.out[0]));
      }
  }
}

TEST(CrossEntropyProbsSimd, HugeLogits) {
  Rng rng(99);
  for (const std::int64_t C : {7, 17, 1000})
    for (const double sm : {0.0, 0.1}) {
      Problem p = make(rng, 4, C, true, sm, Reduction::None, false);
      for (std::int64_t c = 0; c < C; ++c) {
        p.x[static_cast<std::size_t>(c)] *= 1e30f;                   // row 0: spread +-1e30
        p.x[static_cast<std::size_t>(C + c)] = c % 3 ? 1e30f : -1e30f;  // row 1: ties at 1e30
        p.x[static_cast<std::size_t>(2 * C + c)] += 1e30f;              // row 2: 1e30 + small (all 1e30)
      }
      for (const Call call : {Call::Forward, Call::BackwardPerRow, Call::Both})
        compare(p, call, grad_outputs(rng, p, call), "huge", true);
      p.reduction = Reduction::Mean;
      compare(p, Call::Both, {}, "huge", true);
    }
}

TEST(CrossEntropyProbsSimd, StreamedGradientUnaligned) {
  // A gradient of at least kernels::kStreamBytes (32 MiB) is written with non-temporal stores;
  // the buffer starts one float past a vector boundary so the aligned part needs a head.
  Rng rng(5);
  const std::int64_t N = 2048, C = 4099;
  ASSERT_GE(N * C * 4, std::int64_t{32} << 20);
  const Problem p = make(rng, N, C, true, 0.1, Reduction::Mean, false);
  std::vector<float> buf(static_cast<std::size_t>(N * C) + 64);
  float* g = buf.data() + 1;
  while (reinterpret_cast<std::uintptr_t>(g) % 64 != 4) ++g;
  const Result a = run(p, Call::Both, false, {}, g), b = run(p, Call::Both, true, {});
  ASSERT_EQ(a.grad.size(), b.grad.size());
  const auto info = row_info(p);
  int bad = 0;
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t c = 0; c < C; ++c) {
      const std::size_t k = static_cast<std::size_t>(i * C + c);
      const double gsA = info[static_cast<std::size_t>(i)].A / static_cast<double>(N);
      const double tol = 8 * 0x1p-24 * (std::fabs(b.grad[k]) + gsA * info[static_cast<std::size_t>(i)].p(p.x[k])) +
                         gsA * 0x1p-125;
      if (!(std::fabs(static_cast<double>(a.grad[k]) - b.grad[k]) <= tol) && ++bad <= 5)
        ADD_FAILURE() << "grad (" << i << ", " << c << "): " << a.grad[k] << " vs " << b.grad[k];
    }
  EXPECT_EQ(bad, 0);
  EXPECT_NEAR(a.out[0], b.out[0], 1e-6 * std::fabs(b.out[0]));
}

TEST(CrossEntropyProbsSimd, InplaceGradientMatches) {
  Rng rng(11);
  for (const std::int64_t C : {7, 100, 4099}) {
    Problem p = make(rng, 5, C, true, 0.1, Reduction::Mean);
    p.x[static_cast<std::size_t>(C + 1)] = kNaNF;  // a scalar-fallback row, in place too
    const Result a = run(p, Call::Both, false, {});
    std::vector<float> xg = p.x, out(1);
    auto o = p.opts();
    o.inplace_grad = true;
    losskit::cross_entropy_forward_backward(ConstView<float>(xg.data(), {5, C}), ConstView<float>(p.t.data(), {5, C}),
                                            TensorView<float>(out.data(), {}), TensorView<float>(xg.data(), {5, C}), o);
    EXPECT_TRUE(same_special(out[0], a.out[0]));
    for (std::size_t k = 0; k < xg.size(); ++k) EXPECT_TRUE(same_special(xg[k], a.grad[k])) << C << " " << k;
  }
}

TEST(CrossEntropyProbsSimd, ThreadCountDeterminism) {
  Rng rng(3);
  const int before = losskit::get_num_threads();
  for (const std::int64_t C : {16, 1000}) {
    // grain 16384 / C rows per block: several blocks, split unevenly across 2 and 3 threads.
    const std::int64_t N = C == 16 ? 7000 : 301;
    for (const Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      const Problem p = make(rng, N, C, true, 0.1, red);
      std::vector<Result> rs;
      for (int nt : {1, 2, 3}) {
        losskit::set_num_threads(nt);
        rs.push_back(run(p, Call::Both, false, {}));
      }
      for (std::size_t k = 1; k < rs.size(); ++k) {
        EXPECT_EQ(std::memcmp(rs[0].out.data(), rs[k].out.data(), rs[0].out.size() * sizeof(float)), 0) << C;
        EXPECT_EQ(std::memcmp(rs[0].grad.data(), rs[k].grad.data(), rs[0].grad.size() * sizeof(float)), 0) << C;
      }
    }
  }
  losskit::set_num_threads(before);
}

}  // namespace
