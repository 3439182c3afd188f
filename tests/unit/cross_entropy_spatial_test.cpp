// cross_entropy with class-id targets on spatial float32 inputs (N, C, d1..dk): the SIMD kernel
// (kernels/softmax_spatial.cpp, lanes along positions) against the scalar float64 path. The
// scalar path is forced by giving the very same values through views whose position stride is
// 2 (the canonical layout then has sD != 1). Every class count, every tail length, every option,
// every call form; extreme inputs; thread-count determinism.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
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

enum class Call { Forward, Backward, ForwardBackward };
const char* name_of(Call c) {
  return c == Call::Forward ? "forward" : c == Call::Backward ? "backward" : "forward_backward";
}

struct Problem {
  std::int64_t N = 1, C = 1, D = 1;
  std::vector<float> x;          // contiguous (N, C, D)
  std::vector<std::int64_t> y;   // (N, D)
  std::vector<float> w;          // empty: unweighted
  std::vector<float> gup;        // (N, D) per-position upstream gradient
  std::int64_t ignore = -100;
  double smoothing = 0;
  std::string str() const {
    return "N " + std::to_string(N) + " C " + std::to_string(C) + " D " + std::to_string(D) +
           (w.empty() ? "" : " weighted") + " ignore_index " + std::to_string(ignore) + " smoothing " +
           std::to_string(smoothing);
  }
};

/// Floats before the gradient in its buffer (moves the alignment of the SIMD path's streamed
/// gradient stores).
std::size_t g_grad_offset = 0;

struct Result {
  std::vector<float> out, grad;
};

/// Runs one call. scalar_path: every view (input, target, out, upstream gradient, gradient) with
/// stride 2 along the positions, which keeps cross_entropy on its scalar branch; else the input
/// and gradient are contiguous (the SIMD path), the target / out / upstream gradient strided
/// when strided_aux. inplace: forward_backward writing the gradient over the input.
Result run(const Problem& p, Call call, Reduction r, bool scalar_path, bool strided_aux = false,
           bool inplace = false) {
  const std::int64_t N = p.N, C = p.C, D = p.D;
  const std::int64_t s = scalar_path ? 2 : 1, sa = scalar_path || strided_aux ? 3 : 1;
  const Shape shape{N, C, D}, strides{C * D * s, D * s, s};
  std::vector<float> xb(static_cast<std::size_t>(N * C * D * s), 0.0f);
  for (std::size_t i = 0; i < p.x.size(); ++i) xb[i * static_cast<std::size_t>(s)] = p.x[i];
  std::vector<std::int64_t> yb(static_cast<std::size_t>(N * D * sa), 0);
  std::vector<float> gupb(static_cast<std::size_t>(N * D * sa), 0.0f);
  for (std::size_t i = 0; i < p.y.size(); ++i) {
    yb[i * static_cast<std::size_t>(sa)] = p.y[i];
    gupb[i * static_cast<std::size_t>(sa)] = p.gup[i];
  }
  const Shape lshape{N, D}, lstrides{D * sa, sa};
  const ConstView<std::int64_t> yv(yb.data(), lshape, lstrides);
  std::vector<float> gbuf(xb.size() + g_grad_offset, 12345.0f);
  float* const gdata = gbuf.data() + g_grad_offset;
  TensorView<float> gv(inplace ? xb.data() : gdata, shape, strides);
  const ConstView<float> xv(xb.data(), shape, strides);
  const bool none = r == Reduction::None;
  std::vector<float> ob(static_cast<std::size_t>(none ? N * D * sa : 1), 999.0f);
  const TensorView<float> ov = none ? TensorView<float>(ob.data(), lshape, lstrides) : TensorView<float>(ob.data(), {});
  const float g0 = 0.7f;
  const ConstView<float> up = none ? ConstView<float>(gupb.data(), lshape, lstrides) : ConstView<float>(&g0, {});
  CrossEntropyOptions<float> o{.weight = p.w, .ignore_index = p.ignore, .reduction = r,
                               .label_smoothing = p.smoothing, .inplace_grad = inplace};
  switch (call) {
    case Call::Forward: losskit::cross_entropy(xv, yv, ov, o); break;
    case Call::Backward: losskit::cross_entropy_backward(up, xv, yv, gv, o); break;
    case Call::ForwardBackward: losskit::cross_entropy_forward_backward(xv, yv, ov, gv, o); break;
  }
  Result res;
  if (call != Call::Backward) {
    if (none)
      for (std::int64_t i = 0; i < N * D; ++i) res.out.push_back(ob[static_cast<std::size_t>(i * sa)]);
    else res.out.push_back(ob[0]);
  }
  if (call != Call::Forward) {
    const float* g = inplace ? xb.data() : gdata;
    for (std::int64_t i = 0; i < N * C * D; ++i) res.grad.push_back(g[static_cast<std::size_t>(i * s)]);
  }
  return res;
}

/// Both NaN, or bitwise equal.
bool same(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

/// Compares the SIMD result with the scalar one. Loss: within 1e-6 of the reference relative
/// (plus 1e-6 absolute for losses near 0). Gradient entry (n, c, d): within
/// (8 + 2 |x_c - m|) float32 ULP (2^-23 relative) of max(|g_c|, A p_c) (the float32 x_c - m
/// rounds to |x_c - m| 2^-24 absolute, which scales e_c by that much) plus 1e-37 (exps below
/// 2^-126 are flushed). Non-finite reference values and every value of a position holding
/// NaN / inf / only -inf must be identical.
void expect_close(const Problem& p, Call call, Reduction r, const Result& simd, const Result& ref,
                  const std::string& what) {
  const std::int64_t N = p.N, C = p.C, D = p.D;
  auto xat = [&](std::int64_t n, std::int64_t c, std::int64_t d) {
    return static_cast<double>(p.x[static_cast<std::size_t>((n * C + c) * D + d)]);
  };
  auto special = [&](std::int64_t n, std::int64_t d) {
    bool any_finite = false;
    for (std::int64_t c = 0; c < C; ++c) {
      const double v = xat(n, c, d);
      if (std::isnan(v) || v == INFINITY) return true;
      any_finite = any_finite || std::isfinite(v);
    }
    return !any_finite;
  };
  double W = p.w.empty() ? static_cast<double>(C) : 0.0;
  for (float v : p.w) W += v;
  ASSERT_EQ(simd.out.size(), ref.out.size()) << what;
  ASSERT_EQ(simd.grad.size(), ref.grad.size()) << what;
  int failures = 0;
  for (std::size_t i = 0; i < ref.out.size() && failures < 5; ++i) {
    const double a = simd.out[i], b = ref.out[i];
    const bool exact = !std::isfinite(b) || (r == Reduction::None && special(static_cast<std::int64_t>(i) / D,
                                                                             static_cast<std::int64_t>(i) % D));
    if (exact ? !same(simd.out[i], ref.out[i]) : !(std::fabs(a - b) <= 1e-6 * std::fabs(b) + 1e-6)) {
      ++failures;
      ADD_FAILURE() << what << ": loss[" << i << "] = " << a << ", scalar path " << b;
    }
  }
  if (ref.grad.empty()) return;
  const double e = p.smoothing, eC = e / static_cast<double>(C);
  double total_weight = 0;
  for (std::int64_t y : p.y)
    if (y != p.ignore) total_weight += p.w.empty() ? 1.0 : p.w[static_cast<std::size_t>(y)];
  for (std::int64_t n = 0; n < N && failures < 5; ++n) {
    for (std::int64_t d = 0; d < D && failures < 5; ++d) {
      const std::int64_t y = p.y[static_cast<std::size_t>(n * D + d)];
      const bool sp = special(n, d);
      double m = -INFINITY;
      for (std::int64_t c = 0; c < C; ++c) m = std::max(m, xat(n, c, d));
      double S = 0;
      for (std::int64_t c = 0; c < C; ++c) S += std::exp(xat(n, c, d) - m);
      const double wy = y == p.ignore ? 0.0 : p.w.empty() ? 1.0 : p.w[static_cast<std::size_t>(y)];
      const double g_up = call != Call::Backward       ? 1.0
                          : r == Reduction::None ? std::fabs(p.gup[static_cast<std::size_t>(n * D + d)])
                                                 : 0.7;
      const double gs = r == Reduction::Mean ? g_up / total_weight : g_up;
      const double A = ((1 - e) * wy + eC * W) * gs;
      for (std::int64_t c = 0; c < C && failures < 5; ++c) {
        const std::size_t k = static_cast<std::size_t>((n * C + c) * D + d);
        const float a = simd.grad[k], b = ref.grad[k];
        bool ok;
        if (sp || !std::isfinite(b)) {
          ok = same(a, b);
        } else {
          const double pc = std::exp(xat(n, c, d) - m) / S;
          const double dx = std::isfinite(xat(n, c, d)) ? std::fabs(xat(n, c, d) - m) : 0.0;
          const double tol = (8 + 2 * dx) * 0x1p-23 * std::max(std::fabs(double(b)), A * pc) + 1e-37;
          ok = std::fabs(double(a) - double(b)) <= tol;
        }
        if (!ok) {
          ++failures;
          ADD_FAILURE() << what << ": grad[n " << n << ", c " << c << ", d " << d << "] = " << a
                        << ", scalar path " << b << " (target " << y << ")";
        }
      }
    }
  }
}

Problem make(Rng& rng, std::int64_t N, std::int64_t C, std::int64_t D, int opt) {
  Problem p;
  p.N = N, p.C = C, p.D = D;
  for (double v : rng.normal(static_cast<std::size_t>(N * C * D), 0.0, 3.0)) p.x.push_back(static_cast<float>(v));
  if (opt & 1)
    for (double v : rng.uniform(static_cast<std::size_t>(C), 0.25, 2.0)) p.w.push_back(static_cast<float>(v));
  if (opt & 2) p.smoothing = 0.15;
  // ignore_index: none hit / -100 on 30% of positions / a class id (1, or 0 when C == 1) in range.
  const int ig = (opt >> 2) % 3;
  p.ignore = ig == 2 ? std::min<std::int64_t>(1, C - 1) : -100;
  p.y = rng.classes(static_cast<std::size_t>(N * D), C, ig == 1 ? 0.3 : 0.0, -100);
  for (double v : rng.uniform(static_cast<std::size_t>(N * D), -2.0, 2.0)) p.gup.push_back(static_cast<float>(v));
  return p;
}

void check_all_calls(const Problem& p, int variant) {
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    for (Call call : {Call::Forward, Call::Backward, Call::ForwardBackward}) {
      const std::string what = p.str() + " " + std::string(losskit::to_string(r)) + " " + name_of(call);
      const Result ref = run(p, call, r, true);
      const Result simd = run(p, call, r, false, (variant & 1) != 0);
      expect_close(p, call, r, simd, ref, what);
      if (call == Call::ForwardBackward && (variant & 2)) {
        const Result inpl = run(p, call, r, false, false, true);
        expect_close(p, call, r, inpl, ref, what + " inplace_grad");
      }
    }
  }
}

// -------------------------------------------------------------------------------- tests -----

TEST(CrossEntropySpatial, MatchesScalarPathEveryTailAndOption) {
  Rng rng(7);
  int opt = 0;
  for (std::int64_t C : {1, 2, 3, 16, 21, 150}) {
    for (std::int64_t N : {1, 3}) {
      std::vector<std::int64_t> Ds;
      for (std::int64_t D = 1; D <= 40; ++D) Ds.push_back(D);
      Ds.push_back(4099);
      for (std::int64_t D : Ds) {
        const Problem p = make(rng, N, C, D, opt % 12);
        check_all_calls(p, opt);
        ++opt;
        if (HasFailure()) return;
      }
    }
  }
}

TEST(CrossEntropySpatial, EveryOptionOnLongRows) {
  // Every option combination on one shape with several lane blocks and a tail per item.
  Rng rng(11);
  for (int opt = 0; opt < 12; ++opt) {
    const Problem p = make(rng, 3, 21, 1000 + 17, opt);
    check_all_calls(p, opt);
  }
}

TEST(CrossEntropySpatial, LargeGradientStreamed) {
  // Gradients of at least kernels::kStreamBytes (32 MiB) whose class and item strides are
  // multiples of the lanes are written with non-temporal stores, in aligned blocks between a
  // partial head and tail per item: several alignments of the gradient.
  Rng rng(13);
  const Problem p = make(rng, 2, 16, (std::int64_t{1} << 18) + 16, 5);  // 33.6 MB of gradient
  for (const auto& [r, call] :
       {std::pair{Reduction::None, Call::Backward}, std::pair{Reduction::Mean, Call::ForwardBackward}}) {
    const Result ref = run(p, call, r, true);
    for (std::size_t off : {0, 1, 7}) {
      g_grad_offset = off;
      const std::string what = p.str() + " grad offset " + std::to_string(off) + " " +
                               std::string(losskit::to_string(r)) + " " + name_of(call);
      expect_close(p, call, r, run(p, call, r, false), ref, what);
    }
    g_grad_offset = 0;
  }
}

TEST(CrossEntropySpatial, IgnoredPositionsInEveryLane) {
  // Every position of item 0 ignored (whole blocks of ignored lanes, NaN logits there must not
  // matter), and in item 1 ignored positions at every lane index.
  Rng rng(3);
  for (int opt : {0, 1, 2, 3}) {
    Problem p = make(rng, 2, 5, 67, opt);
    for (std::int64_t d = 0; d < 67; ++d) {
      p.y[static_cast<std::size_t>(d)] = p.ignore;
      p.x[static_cast<std::size_t>((0 * 5 + d % 5) * 67 + d)] = kNaNF;  // ignored: no effect
      if (d % 3 == 0) p.y[static_cast<std::size_t>(67 + d)] = p.ignore;
    }
    check_all_calls(p, opt);
  }
  // Everything ignored: Mean is 0/0 on both paths.
  Problem p = make(rng, 1, 4, 37, 0);
  for (auto& y : p.y) y = p.ignore;
  check_all_calls(p, 0);
}

TEST(CrossEntropySpatial, ExtremeInputsAsScalarPath) {
  Rng rng(5);
  for (int opt : {0, 1, 2, 3}) {
    for (std::int64_t C : {2, 5, 21}) {
      const std::int64_t D = 53;
      Problem p = make(rng, 2, C, D, opt);
      auto X = [&](std::int64_t n, std::int64_t c, std::int64_t d) -> float& {
        return p.x[static_cast<std::size_t>((n * C + c) * D + d)];
      };
      X(0, 0, 0) = kInfF;                                    // +inf
      X(0, 1, 3) = -kInfF;                                   // one -inf: a finite row
      X(0, C - 1, 20) = kNaNF;                               // NaN
      for (std::int64_t c = 0; c < C; ++c) X(0, c, 40) = -kInfF;  // all -inf
      X(1, 0, 5) = kInfF, X(1, 1, 5) = -kInfF;               // +inf and -inf
      // Huge logits, one maximum. (With tied huge maxima the scalar reference's p = exp(x - lse)
      // loses log(S) to rounding in lse = m + log(S); the SIMD path's p = e / S does not.)
      for (std::int64_t c = 0; c < C; ++c) X(1, c, 30) = c == 0 ? 1e30f : c % 2 ? -1e30f : 1e29f;
      X(1, 0, 31) = 3e38f, X(1, 1, 31) = -3e38f;             // x - m overflows float32 to -inf
      X(1, 0, 50) = -80.0f, X(1, 1, 50) = 9.0f;              // exps far below 2^-126
      check_all_calls(p, opt);
    }
  }
}

TEST(CrossEntropySpatial, EveryCompiledTarget) {
  // The kernel compiled for each instruction set this CPU runs (AVX-512, AVX2, SSE4, ...):
  // other lane counts, so other tails and block boundaries; extreme values included.
  const auto targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (const std::int64_t t : targets) {
    hwy::SetSupportedTargetsForTest(t);
    SCOPED_TRACE(std::string("target ") + hwy::TargetName(t));
    Rng rng(17);
    int opt = 0;
    for (std::int64_t C : {1, 3, 21}) {
      for (std::int64_t D : {2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 1001}) {
        Problem p = make(rng, 2, C, D, opt % 12);
        if (D > 9) {
          p.x[static_cast<std::size_t>(C * D + 3)] = kNaNF;  // item 1, class 0, position 3
          p.x[static_cast<std::size_t>(5)] = kInfF;          // item 0, class 0, position 5
        }
        check_all_calls(p, opt);
        ++opt;
        if (HasFailure()) break;
      }
    }
    if (HasFailure()) break;
  }
  hwy::SetSupportedTargetsForTest(0);
}

TEST(CrossEntropySpatial, SimdPathIsTaken) {
  // The SIMD exp flushes terms below 2^-126 to zero where the scalar float64 path keeps a
  // float32 subnormal gradient: the two paths differ there, which shows the contiguous call
  // does not run the scalar branch (and the strided one does).
  Problem p;
  p.N = 1, p.C = 2, p.D = 20;
  for (std::int64_t d = 0; d < 20; ++d) p.x.push_back(0.0f);   // class 0
  for (std::int64_t d = 0; d < 20; ++d) p.x.push_back(90.0f);  // class 1: p_0 = e^-90 ~ 8e-40
  p.y.assign(20, 1);
  p.gup.assign(20, 1.0f);
  const Result ref = run(p, Call::ForwardBackward, Reduction::Sum, true);
  const Result simd = run(p, Call::ForwardBackward, Reduction::Sum, false);
  EXPECT_GT(ref.grad[0], 0.0f);
  EXPECT_EQ(simd.grad[0], 0.0f);
}

TEST(CrossEntropySpatial, BitwiseIdenticalForAnyThreadCount) {
  Rng rng(9);
  const int before = losskit::get_num_threads();
  for (int opt : {0, 3, 5}) {
    Problem p = make(rng, 3, 21, 5000 + 3, opt);
    p.x[100] = kNaNF;  // one fallback block too
    for (Reduction r : {Reduction::None, Reduction::Mean}) {
      std::vector<Result> res;
      for (int t : {1, 2, 3}) {
        losskit::set_num_threads(t);
        res.push_back(run(p, Call::ForwardBackward, r, false));
      }
      losskit::set_num_threads(before);
      for (int k : {1, 2}) {
        ASSERT_EQ(res[k].out.size(), res[0].out.size());
        EXPECT_EQ(0, std::memcmp(res[k].out.data(), res[0].out.data(), res[0].out.size() * sizeof(float)))
            << p.str() << " threads " << k + 1;
        EXPECT_EQ(0, std::memcmp(res[k].grad.data(), res[0].grad.data(), res[0].grad.size() * sizeof(float)))
            << p.str() << " threads " << k + 1;
      }
    }
  }
  losskit::set_num_threads(before);
}

}  // namespace
