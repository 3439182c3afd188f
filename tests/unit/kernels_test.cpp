// SIMD kernels against their scalar float64 references, on every instruction set compiled into
// the library that this CPU supports (Highway's SetSupportedTargetsForTest), with tails (sizes
// 1..67), strided rows, special values, in-place gradients; bfloat16/float16 conversions and
// 16-bit losses against float32; bitwise determinism across thread counts.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "kernels/pointwise.hpp"
#include "kernels/softmax.hpp"
#include "losskit/losskit.hpp"
#include "support/targets.hpp"

namespace {

using losskit::bfloat16;
using losskit::ConstView;
using losskit::float16;
using losskit::TensorView;
namespace k = losskit::kernels;

constexpr float kInf = std::numeric_limits<float>::infinity();

using lktest::for_each_target;

std::vector<float> randn(std::size_t n, std::uint32_t seed, float sd = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

struct CeCase {
  std::int64_t C;
  bool weighted;
  double smoothing;
};

// ---------------------------------------------------------------- cross-entropy rows ------
void check_ce_rows(const CeCase& cc, std::int64_t pad, bool stream = false) {
  const std::int64_t C = cc.C, rows = 37, sx = C + pad;  // pad > 0: strided rows; 37: groups of lanes + rest
  std::vector<float> x = randn(static_cast<std::size_t>(rows * sx), static_cast<std::uint32_t>(C * 7 + pad));
  std::vector<float> w(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) w[static_cast<std::size_t>(c)] = 0.25f + 0.5f * static_cast<float>(c % 5);
  std::vector<std::int64_t> y(rows);
  for (std::int64_t i = 0; i < rows; ++i) y[static_cast<std::size_t>(i)] = (i * 7 + 3) % C;
  y[2] = -100;  // one ignored row
  double W = static_cast<double>(C);
  if (cc.weighted) {
    W = 0;
    for (float v : w) W += v;
  }
  const k::CeConsts kc{.e = cc.smoothing, .eC = cc.smoothing / static_cast<double>(C), .W = W};
  const double gs = 0.37;
  std::vector<float> g(static_cast<std::size_t>(rows * sx), -7.0f), gout(static_cast<std::size_t>(rows), -7.0f);
  k::CeIdsRows<float, float> a{.x = x.data(), .sx = sx, .C = C, .y = y.data(), .sy = 1, .ignore_index = -100,
                               .w = cc.weighted ? w.data() : nullptr, .k = kc, .g = g.data(), .sg = sx, .gs = gs,
                               .out = gout.data(), .so = 1, .stream = stream};
  k::ce_ids_rows(a, 0, rows);
  a.out = nullptr;
  const double sum = k::ce_ids_rows(a, 0, rows);
  double ref_sum = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* xr = x.data() + i * sx;
    const float* gr = g.data() + i * sx;
    if (y[static_cast<std::size_t>(i)] == -100) {
      EXPECT_EQ(gout[static_cast<std::size_t>(i)], 0.0f);
      for (std::int64_t c = 0; c < C; ++c) EXPECT_EQ(gr[c], 0.0f);
      continue;
    }
    std::vector<double> gref(static_cast<std::size_t>(C));
    const double l = k::ce_ids_row_ref(xr, 1, C, y[static_cast<std::size_t>(i)], cc.weighted ? w.data() : nullptr,
                                       kc, gref.data(), 1, gs);
    ref_sum += l;
    // The kernels' lse is within a few float32 ULP of S (absolute, on log S); each gradient entry
    // within a few ULP of max(|g_c|, A p_c) (the target entry A p_y - (1-e) w_y gs cancels).
    const std::int64_t yi = y[static_cast<std::size_t>(i)];
    const double wy = cc.weighted ? w[static_cast<std::size_t>(yi)] : 1.0;
    const double A = (1.0 - kc.e) * wy + kc.eC * kc.W;
    double m = -INFINITY, se = 0;
    for (std::int64_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(xr[c]));
    for (std::int64_t c = 0; c < C; ++c) se += std::exp(xr[c] - m);
    EXPECT_NEAR(gout[static_cast<std::size_t>(i)], l, 1e-6 * std::abs(l) + 3e-7 * A + 1e-7) << "row " << i;
    for (std::int64_t c = 0; c < C; ++c) {
      const double r = gref[static_cast<std::size_t>(c)];
      const double Ap = A * gs * std::exp(xr[c] - m) / se;
      // Relative to the larger of |g_c| and A p_c, and the smoothing term it is a difference with.
      const double term = gs * kc.eC * (cc.weighted ? w[static_cast<std::size_t>(c)] : 1.0);
      EXPECT_NEAR(gr[c], r, 4e-7 * std::max(std::abs(r), Ap) + 4e-7 * term + 1e-9)
          << "row " << i << " class " << c << " of " << C;
    }
    for (std::int64_t c = C; c < sx; ++c) EXPECT_EQ(gr[c], -7.0f) << "padding written";
  }
  EXPECT_NEAR(sum, ref_sum, 1e-6 * std::abs(ref_sum) + 1e-6 * static_cast<double>(rows));
}

TEST(KernelsCrossEntropy, RowsMatchReferenceOnEveryTargetAndSize) {
  for_each_target([] {
    for (std::int64_t C = 1; C <= 67; ++C) {
      SCOPED_TRACE("C = " + std::to_string(C));
      check_ce_rows({C, false, 0.0}, 0);
      check_ce_rows({C, true, 0.0}, 3);
      check_ce_rows({C, true, 0.1}, 0);
      check_ce_rows({C, false, 0.3}, 5);
      check_ce_rows({C, true, 0.1}, 1, /*stream=*/true);  // non-temporal stores, odd alignments
      check_ce_rows({C, false, 0.0}, 0, /*stream=*/true);
    }
    for (std::int64_t C : {1000, 4099, 32000}) {
      SCOPED_TRACE("C = " + std::to_string(C));
      check_ce_rows({C, false, 0.0}, 0);
      check_ce_rows({C, true, 0.2}, 1);
      check_ce_rows({C, true, 0.2}, 3, /*stream=*/true);
    }
  });
}

TEST(KernelsCrossEntropy, SpecialValuesBehaveAsReference) {
  for_each_target([] {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<std::vector<float>> rows = {
        {-kInf, 1.0f, -kInf, 2.0f, -kInf, 0.5f, -kInf, -kInf, 3.0f, -kInf, -kInf, -kInf, 1.0f, -kInf, -kInf, -kInf,
         0.0f, -kInf},                        // masked vocabulary: finite loss and gradient
        {1.0f, nan, 2.0f},                    // NaN -> NaN
        {1.0f, kInf, 2.0f},                   // +inf -> NaN
        {-kInf, -kInf, -kInf, -kInf, -kInf},  // every class masked
        {1e30f, -1e30f, 3e38f, 0.0f},         // huge logits
    };
    for (std::size_t ri = 0; ri < rows.size(); ++ri) {
      const auto& x = rows[ri];
      const std::int64_t C = static_cast<std::int64_t>(x.size());
      for (std::int64_t yv : {std::int64_t{0}, std::int64_t{1}, C - 1}) {
        SCOPED_TRACE("row " + std::to_string(ri) + " y " + std::to_string(yv));
        std::vector<float> g(x.size());
        std::vector<double> gref(x.size());
        float out = 0;
        const k::CeConsts kc{.e = 0.0, .eC = 0.0, .W = static_cast<double>(C)};
        const k::CeIdsRows<float, float> a{.x = x.data(), .sx = C, .C = C, .y = &yv, .sy = 0, .w = nullptr,
                                           .k = kc, .g = g.data(), .sg = C, .gs = 1.0, .out = &out, .so = 0};
        k::ce_ids_rows(a, 0, 1);
        const double l = k::ce_ids_row_ref(x.data(), 1, C, yv, static_cast<const float*>(nullptr), kc, gref.data(), 1, 1.0);
        if (std::isnan(l)) EXPECT_TRUE(std::isnan(out));
        else if (std::isinf(l)) EXPECT_EQ(out, l);
        else EXPECT_NEAR(out, l, 1e-6 * std::abs(l) + 1e-7);
        for (std::size_t c = 0; c < x.size(); ++c) {
          if (std::isnan(gref[c])) EXPECT_TRUE(std::isnan(g[c])) << c;
          else EXPECT_NEAR(g[c], gref[c], 1e-6 * std::abs(gref[c]) + 1e-9) << c;
        }
      }
    }
  });
}

TEST(KernelsCrossEntropy, InPlaceGradientEqualsSeparate) {
  for_each_target([] {
    for (std::int64_t C : {3, 16, 17, 1000}) {
      const std::int64_t N = 5;
      std::vector<float> x = randn(static_cast<std::size_t>(N * C), 11);
      std::vector<std::int64_t> y(N);
      for (std::int64_t i = 0; i < N; ++i) y[static_cast<std::size_t>(i)] = (i * 5) % C;
      std::vector<float> g(x.size()), xi = x;
      const k::CeConsts kc{.e = 0.1, .eC = 0.1 / static_cast<double>(C), .W = static_cast<double>(C)};
      k::CeIdsRows<float, float> a{.x = x.data(), .sx = C, .C = C, .y = y.data(), .sy = 1, .k = kc, .g = g.data(),
                                   .sg = C, .gs = 0.5};
      const double s1 = k::ce_ids_rows(a, 0, N);
      a.x = xi.data();
      a.g = xi.data();
      const double s2 = k::ce_ids_rows(a, 0, N);
      EXPECT_EQ(s1, s2);
      EXPECT_EQ(g, xi);
    }
  });
}

TEST(KernelsCrossEntropy, ManyRowsAndBlockSums) {
  // More rows than one pipeline batch (64), sums split into blocks of 7 rows.
  for_each_target([] {
    for (std::int64_t C : {2, 3, 10, 16, 17, 100, 1000}) {
      SCOPED_TRACE("C = " + std::to_string(C));
      // Blocks of 40 rows: short rows (C <= lanes) go 16, 8 or 4 rows at a time inside a block.
      const std::int64_t rows = 150, bs = 40, nb = (rows + bs - 1) / bs;
      auto x = randn(static_cast<std::size_t>(rows * C), static_cast<std::uint32_t>(C), 3.0f);
      std::vector<std::int64_t> y(static_cast<std::size_t>(rows));
      for (std::int64_t i = 0; i < rows; ++i) y[static_cast<std::size_t>(i)] = i % 9 == 4 ? -100 : (i * 13) % C;
      x[static_cast<std::size_t>(70 * C + 1)] = NAN;  // one row on the scalar path mid-batch
      const k::CeConsts kc{.e = 0.1, .eC = 0.1 / static_cast<double>(C), .W = static_cast<double>(C)};
      for (bool stream : {false, true}) {
        std::vector<float> g(x.size(), -7.0f);
        k::CeIdsRows<float, float> a{.x = x.data(), .sx = C, .C = C, .y = y.data(), .sy = 1, .ignore_index = -100,
                                     .k = kc, .g = g.data(), .sg = C, .gs = 0.5, .stream = stream};
        std::vector<double> sums(static_cast<std::size_t>(nb), 0.0);
        k::ce_ids_rows(a, 0, rows, bs, sums.data(), 1);
        for (std::int64_t b = 0; b < nb; ++b) {
          double ref = 0;
          for (std::int64_t i = b * bs; i < std::min(rows, b * bs + bs); ++i) {
            std::vector<double> gref(static_cast<std::size_t>(C));
            const std::int64_t yi = y[static_cast<std::size_t>(i)];
            if (yi == -100) {
              for (std::int64_t c = 0; c < C; ++c) ASSERT_EQ(g[static_cast<std::size_t>(i * C + c)], 0.0f);
              continue;
            }
            ref += k::ce_ids_row_ref(x.data() + i * C, 1, C, yi, static_cast<const float*>(nullptr), kc, gref.data(),
                                     1, 0.5);
            // Each entry within a few float32 ULP of max(|g_c|, A p_c), A = gs = 0.5 here.
            const float* xr = x.data() + i * C;
            double m = -INFINITY, se = 0;
            for (std::int64_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(xr[c]));
            for (std::int64_t c = 0; c < C; ++c) se += std::exp(xr[c] - m);
            for (std::int64_t c = 0; c < C; ++c) {
              const double r = gref[static_cast<std::size_t>(c)], v = g[static_cast<std::size_t>(i * C + c)];
              const double Ap = 0.5 * std::exp(xr[c] - m) / se;
              if (std::isnan(r)) ASSERT_TRUE(std::isnan(v)) << i << " " << c;
              else ASSERT_NEAR(v, r, 4e-7 * std::max(std::abs(r), Ap) + 4e-7 * 0.5 * kc.eC + 1e-9) << i << " " << c;
            }
          }
          if (std::isnan(ref)) EXPECT_TRUE(std::isnan(sums[static_cast<std::size_t>(b)])) << b;
          else EXPECT_NEAR(sums[static_cast<std::size_t>(b)], ref, 1e-6 * std::abs(ref)) << "block " << b;
        }
      }
    }
  });
}

TEST(KernelsCrossEntropy, ExpNonPosWithinOneUlp) {
  for_each_target([] {
    std::vector<float> x;
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> wide(-87.33f, 0.0f), narrow(-1.0f, 0.0f);
    for (int i = 0; i < 200000; ++i) x.push_back(wide(rng)), x.push_back(narrow(rng));
    for (float v = -1e-6f; v < 0; v *= 0.5f) x.push_back(v);  // tiny, down to the subnormals
    for (float v : {0.0f, -0.0f, -0.34657359f, -0.34657362f, -87.33f, -87.3f, -1.0f, -2.0f, -10.0f}) x.push_back(v);
    std::vector<float> y(x.size());
    k::exp_nonpos(x.data(), y.data(), x.size());
    const std::string target = k::simd_target_name();
    const bool fma = target.rfind("AVX2", 0) == 0 || target.rfind("AVX3", 0) == 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double ref = std::exp(static_cast<double>(x[i]));
      const double ulp = std::nextafter(static_cast<float>(ref), INFINITY) - static_cast<float>(ref);
      // 1 ULP where the target has FMA; 2 where Highway emulates MulAdd (SSE4 and older).
      ASSERT_LE(std::abs(y[i] - ref), (fma ? 1.0 : 2.0) * ulp) << "x = " << x[i];
    }
    EXPECT_EQ(y[x.size() - 9], 1.0f);  // exp(0) exactly
    const float below[] = {-87.4f, -100.0f, -1e30f, -kInf};
    float out[4];
    k::exp_nonpos(below, out, 4);
    for (float v : out) EXPECT_EQ(v, 0.0f);
  });
}

TEST(KernelsPointwise, Log1pUnitWithinOnePointFourUlp) {
  for_each_target([] {
    std::vector<float> x;
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f), split(0.40f, 0.52f);
    for (int i = 0; i < 200000; ++i) x.push_back(unit(rng)), x.push_back(split(rng));
    for (float v = 1e-3f; v > 1e-44f; v *= 0.5f) x.push_back(v);  // tiny, down to the subnormals
    for (float v : {0.0f, 1.0f, 0.41421356f, 0.41421354f, 0.41421360f, 0.5f, 0.49999997f, 5.9604645e-8f}) x.push_back(v);
    std::vector<float> y(x.size());
    losskit::kernels::log1p_unit(x.data(), y.data(), x.size());
    // The target log1p_unit ran on: sanitizer builds compile the pointwise module for fewer targets.
    const std::string target = k::pointwise_target_name();
    const bool fma = target.rfind("AVX2", 0) == 0 || target.rfind("AVX3", 0) == 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double ref = std::log1p(static_cast<double>(x[i]));
      const float rf = static_cast<float>(ref);
      if (rf == 0.0f) {
        ASSERT_EQ(y[i], 0.0f);
        continue;
      }
      const double ulp = std::nextafter(rf, INFINITY) - rf;
      // 1.4 ULP with FMA (1.397 at worst over every float in [0, 1]); 2.5 where MulAdd is emulated.
      ASSERT_LE(std::abs(y[i] - ref), (fma ? 1.4 : 2.5) * ulp) << "x = " << x[i];
    }
    EXPECT_EQ(y[y.size() - 8], 0.0f);  // log1p(0)
  });
}

TEST(KernelsCrossEntropy, RowLseMatchesReference) {
  for_each_target([] {
    for (std::int64_t C = 1; C <= 67; ++C) {
      const auto x = randn(static_cast<std::size_t>(C), static_cast<std::uint32_t>(C), 5.0f);
      double m = -INFINITY, s = 0;
      for (float v : x) m = std::max(m, static_cast<double>(v));
      for (float v : x) s += std::exp(static_cast<double>(v) - m);
      const double ref = m + std::log(s);
      EXPECT_NEAR(k::row_lse(x.data(), C), ref, 1e-6 * std::abs(ref) + 1e-7) << C;
    }
    const float masked[] = {-kInf, -kInf};
    EXPECT_EQ(k::row_lse(masked, 2), -INFINITY);
  });
}

// ------------------------------------------------------------------------- pointwise -----
TEST(KernelsPointwise, KLDivMatchesScalarOnEveryTargetAndSize) {
  for_each_target([] {
    for (std::int64_t n = 1; n <= 67; ++n) {
      SCOPED_TRACE("n = " + std::to_string(n));
      std::vector<float> x = randn(static_cast<std::size_t>(n), static_cast<std::uint32_t>(n));
      std::vector<float> p = randn(static_cast<std::size_t>(n), static_cast<std::uint32_t>(n + 100), 1.0f);
      std::vector<float> w = randn(static_cast<std::size_t>(n), static_cast<std::uint32_t>(n + 200), 1.0f);
      for (auto& v : p) v = std::abs(v);
      p[0] = 0.0f;  // 0 log 0 = 0
      if (n > 3) p[3] = -0.5f;  // negative probability: NaN
      if (n > 5) x[5] = -kInf;
      for (bool log_target : {false, true}) {
        const k::PwBlockFn block = k::pointwise_kernel(log_target ? "kl_div_log_target" : "kl_div");
        ASSERT_NE(block, nullptr);
        std::vector<float> out(static_cast<std::size_t>(n)), gi(out.size()), gt(out.size());
        k::PwArgs a{.x = x.data(), .y = p.data(), .w = w.data(), .out = out.data(), .forward = true, .gi = gi.data(),
                    .gt = gt.data(), .scale = 0.5f};
        block({}, a, 0, n);
        std::vector<float> out_s(out.size()), gi_s(out.size()), gt_s(out.size());
        k::PwArgs as = a;  // the same with non-temporal stores from an odd offset
        as.out = out_s.data(), as.gi = gi_s.data(), as.gt = gt_s.data(), as.stream = true;
        block({}, as, 0, n);
        as.x += 1, as.y += 1, as.w += 1, as.out += 1, as.gi += 1, as.gt += 1;
        if (n > 1) block({}, as, 0, n - 1);
        for (std::size_t i = 0; i < out.size(); ++i) {
          EXPECT_TRUE(std::bit_cast<std::uint32_t>(out[i]) == std::bit_cast<std::uint32_t>(out_s[i]) &&
                      std::bit_cast<std::uint32_t>(gi[i]) == std::bit_cast<std::uint32_t>(gi_s[i]) &&
                      std::bit_cast<std::uint32_t>(gt[i]) == std::bit_cast<std::uint32_t>(gt_s[i]))
              << "streamed stores differ at " << i;
        }
        a.out = nullptr;
        a.gi = a.gt = nullptr;
        const double sum = block({}, a, 0, n);
        double ref_sum = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          const double xi = x[static_cast<std::size_t>(i)], pi = p[static_cast<std::size_t>(i)];
          const double wi = w[static_cast<std::size_t>(i)];
          double l, dx, dy;
          if (log_target) {
            l = std::exp(pi) * (pi - xi);
            dx = -std::exp(pi);
            dy = std::exp(pi) * (pi - xi + 1);
          } else {
            l = pi > 0 ? pi * (std::log(pi) - xi) : (pi == 0 ? 0.0 : NAN);
            dx = -pi;
            dy = pi > 0 ? std::log(pi) + 1 - xi : (pi == 0 ? 0.0 : NAN);
          }
          l *= wi;
          dx *= 0.5 * wi;
          dy *= 0.5 * wi;
          ref_sum += l;
          auto near = [](double got, double ref, const char* what) {
            if (std::isnan(ref)) EXPECT_TRUE(std::isnan(got)) << what;
            else if (std::isinf(ref)) EXPECT_EQ(got, ref) << what;
            else EXPECT_NEAR(got, ref, 2e-6 * std::abs(ref) + 1e-6) << what;
          };
          near(out[static_cast<std::size_t>(i)], l, "loss");
          near(gi[static_cast<std::size_t>(i)], dx, "d/dx");
          near(gt[static_cast<std::size_t>(i)], dy, "d/dy");
        }
        if (std::isfinite(ref_sum)) EXPECT_NEAR(sum, ref_sum, 1e-5 * std::abs(ref_sum) + 1e-6);
        else EXPECT_TRUE(std::isnan(sum) || sum == ref_sum);
      }
    }
  });
}

TEST(KernelsPointwise, KLDivSimdAndStridedPathsAgree) {
  // Contiguous views take the SIMD sweep; a strided view takes the scalar Op: same numbers.
  const std::int64_t n = 1000;
  std::vector<float> x = randn(2 * n, 3), p = randn(2 * n, 4, 1.0f);
  for (auto& v : p) v = std::abs(v);
  std::vector<float> xc(n), pc(n);
  for (std::int64_t i = 0; i < n; ++i) {
    xc[static_cast<std::size_t>(i)] = x[static_cast<std::size_t>(2 * i)];
    pc[static_cast<std::size_t>(i)] = p[static_cast<std::size_t>(2 * i)];
  }
  std::vector<float> g1(n), g2(n);
  float l1 = 0, l2 = 0;
  losskit::kl_div_forward_backward(ConstView<float>(xc.data(), {n}), ConstView<float>(pc.data(), {n}),
                                   TensorView<float>(&l1, {}), TensorView<float>(g1.data(), {n}), {},
                                   {.reduction = losskit::Reduction::Sum});
  losskit::kl_div_forward_backward(ConstView<float>(x.data(), {n}, {2}), ConstView<float>(p.data(), {n}, {2}),
                                   TensorView<float>(&l2, {}), TensorView<float>(g2.data(), {n}), {},
                                   {.reduction = losskit::Reduction::Sum});
  EXPECT_NEAR(l1, l2, 1e-5 * std::abs(l2));
  for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(g1[static_cast<std::size_t>(i)], g2[static_cast<std::size_t>(i)]);
}

// ----------------------------------------------------------------- 16-bit conversions -----
TEST(Dtype, BFloat16RoundTripsEveryPattern) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = bfloat16::from_bits(static_cast<std::uint16_t>(b));
    const float f = static_cast<float>(h);
    const bfloat16 back(f);
    if (std::isnan(f)) EXPECT_TRUE(std::isnan(static_cast<float>(back)));
    else EXPECT_EQ(back.bits, h.bits) << b;
  }
}

TEST(Dtype, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(bfloat16(1.0f).bits, 0x3F80);
  EXPECT_EQ(bfloat16(std::bit_cast<float>(0x3F808000u)).bits, 0x3F80);  // tie -> even (down)
  EXPECT_EQ(bfloat16(std::bit_cast<float>(0x3F818000u)).bits, 0x3F82);  // tie -> even (up)
  EXPECT_EQ(bfloat16(std::bit_cast<float>(0x3F808001u)).bits, 0x3F81);  // above tie -> up
  EXPECT_EQ(bfloat16(std::bit_cast<float>(0x7F7FFFFFu)).bits, 0x7F80);  // FLT_MAX -> inf
  EXPECT_EQ(bfloat16(-kInf).bits, 0xFF80);
  EXPECT_TRUE(std::isnan(static_cast<float>(bfloat16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isnan(static_cast<float>(bfloat16(std::bit_cast<float>(0x7F800001u)))));  // sNaN stays NaN
}

TEST(Dtype, Float16MatchesCompilerConversions) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = float16::from_bits(static_cast<std::uint16_t>(b));
    const _Float16 ref = std::bit_cast<_Float16>(static_cast<std::uint16_t>(b));
    const float f = static_cast<float>(h);
    if (std::isnan(static_cast<float>(ref))) {
      EXPECT_TRUE(std::isnan(f));
      continue;
    }
    EXPECT_EQ(std::bit_cast<std::uint32_t>(f), std::bit_cast<std::uint32_t>(static_cast<float>(ref))) << b;
    EXPECT_EQ(float16(f).bits, h.bits) << b;
  }
  std::mt19937 rng(5);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 2000000; ++i) {
    const float f = std::bit_cast<float>(bits(rng));
    if (std::isnan(f)) continue;
    const auto ref = std::bit_cast<std::uint16_t>(static_cast<_Float16>(f));
    ASSERT_EQ(float16(f).bits, ref) << std::hex << std::bit_cast<std::uint32_t>(f);
  }
}

// -------------------------------------------------------------- 16-bit cross-entropy -----
template <class H>
void check_ce_16(std::int64_t N, std::int64_t C, double smoothing) {
  std::vector<float> xf = randn(static_cast<std::size_t>(N * C), 21);
  std::vector<H> xh(xf.size());
  for (std::size_t i = 0; i < xf.size(); ++i) {
    xh[i] = H(xf[i]);
    xf[i] = static_cast<float>(xh[i]);  // the float32 run sees exactly the 16-bit values
  }
  std::vector<std::int64_t> y(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) y[static_cast<std::size_t>(i)] = (i * 13) % C;
  const losskit::CrossEntropyOptions<float> o{.label_smoothing = smoothing};
  std::vector<float> gf(xf.size()), gh32(xf.size());
  std::vector<H> gh(xf.size());
  float lf = 0, lh = 0, lh2 = 0;
  losskit::cross_entropy_forward_backward(ConstView<float>(xf.data(), {N, C}), ConstView<std::int64_t>(y.data(), {N}),
                                          TensorView<float>(&lf, {}), TensorView<float>(gf.data(), {N, C}), o);
  losskit::cross_entropy_forward_backward(ConstView<H>(xh.data(), {N, C}), ConstView<std::int64_t>(y.data(), {N}),
                                          TensorView<float>(&lh, {}), TensorView<H>(gh.data(), {N, C}), o);
  losskit::cross_entropy_forward_backward(ConstView<H>(xh.data(), {N, C}), ConstView<std::int64_t>(y.data(), {N}),
                                          TensorView<float>(&lh2, {}), TensorView<float>(gh32.data(), {N, C}), o);
  // Same values in: the loss agrees to float32 accuracy; the gradient to the 16-bit rounding.
  EXPECT_NEAR(lh, lf, 1e-6 * std::abs(lf));
  EXPECT_EQ(lh, lh2);
  const double rel = std::is_same_v<H, bfloat16> ? 1.0 / 256 : 1.0 / 2048;
  for (std::size_t i = 0; i < xf.size(); ++i) {
    ASSERT_NEAR(static_cast<float>(gh[i]), gf[i], rel * std::abs(gf[i]) + 1e-7) << i;
    ASSERT_NEAR(gh32[i], gf[i], 1e-6 * std::abs(gf[i]) + 1e-9) << i;
  }
  // A strided 16-bit view takes the scalar reference path: same loss to float32 accuracy.
  std::vector<H> xt(xh.size());
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c) xt[static_cast<std::size_t>(c * N + n)] = xh[static_cast<std::size_t>(n * C + c)];
  const auto lt = losskit::cross_entropy(ConstView<H>(xt.data(), {N, C}, {1, N}), ConstView<std::int64_t>(y.data(), {N}), o);
  EXPECT_NEAR(lt.item(), lf, 1e-6 * std::abs(lf));
}

TEST(CrossEntropy16, BFloat16MatchesFloat32) {
  for_each_target([] {
    check_ce_16<bfloat16>(37, 1000, 0.0);
    check_ce_16<bfloat16>(64, 10, 0.1);
  });
}

TEST(CrossEntropy16, Float16MatchesFloat32) {
  for_each_target([] {
    check_ce_16<float16>(37, 1000, 0.0);
    check_ce_16<float16>(64, 67, 0.2);
  });
}

TEST(CrossEntropy16, InPlaceBFloat16Gradient) {
  const std::int64_t N = 8, C = 100;
  std::vector<bfloat16> x(static_cast<std::size_t>(N * C));
  const auto xf = randn(x.size(), 9);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = bfloat16(xf[i]);
  std::vector<std::int64_t> y(N, 3);
  std::vector<bfloat16> g(x.size());
  float l1 = 0, l2 = 0;
  losskit::cross_entropy_forward_backward(ConstView<bfloat16>(x.data(), {N, C}), ConstView<std::int64_t>(y.data(), {N}),
                                          TensorView<float>(&l1, {}), TensorView<bfloat16>(g.data(), {N, C}));
  losskit::cross_entropy_forward_backward(ConstView<bfloat16>(x.data(), {N, C}), ConstView<std::int64_t>(y.data(), {N}),
                                          TensorView<float>(&l2, {}), TensorView<bfloat16>(x.data(), {N, C}),
                                          {.inplace_grad = true});
  EXPECT_EQ(l1, l2);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i].bits, g[i].bits) << i;
}

TEST(NLLLoss16, BFloat16MatchesFloat32) {
  const std::int64_t N = 50, C = 33;
  std::vector<bfloat16> xh(static_cast<std::size_t>(N * C));
  std::vector<float> xf(xh.size());
  const auto r = randn(xh.size(), 2);
  for (std::size_t i = 0; i < xh.size(); ++i) {
    xh[i] = bfloat16(r[i]);
    xf[i] = static_cast<float>(xh[i]);
  }
  std::vector<std::int64_t> y(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) y[static_cast<std::size_t>(i)] = i % 7 == 0 ? -100 : (i * 3) % C;
  std::vector<float> w(static_cast<std::size_t>(C), 0.5f);
  const losskit::NLLLossOptions<float> o{.weight = w};
  float lf = 0, lh = 0;
  std::vector<float> gf(xf.size());
  std::vector<bfloat16> gh(xf.size());
  losskit::nll_loss_forward_backward(ConstView<float>(xf.data(), {N, C}), ConstView<std::int64_t>(y.data(), {N}),
                                     TensorView<float>(&lf, {}), TensorView<float>(gf.data(), {N, C}), o);
  losskit::nll_loss_forward_backward(ConstView<bfloat16>(xh.data(), {N, C}), ConstView<std::int64_t>(y.data(), {N}),
                                     TensorView<float>(&lh, {}), TensorView<bfloat16>(gh.data(), {N, C}), o);
  EXPECT_EQ(lf, lh);
  for (std::size_t i = 0; i < gf.size(); ++i) EXPECT_EQ(static_cast<float>(bfloat16(gf[i])), static_cast<float>(gh[i]));
}

// ------------------------------------------------------------------- determinism -----
TEST(KernelsDeterminism, BitwiseIdenticalForAnyThreadCount) {
  const int saved = losskit::get_num_threads();
  // C = 257: pipelined long rows; C = 10: short rows, one row per lane, with ignored rows and a
  // NaN row (per-row path for its group).
  for (const auto& [N, C] : {std::pair<std::int64_t, std::int64_t>{3000, 257}, {50003, 10}}) {
    const auto x0 = randn(static_cast<std::size_t>(N * C), 17);
    auto x = x0;
    if (C == 10) x[static_cast<std::size_t>(777 * C + 2)] = NAN;
    auto p = randn(static_cast<std::size_t>(N * C), 18, 1.0f);
    for (auto& v : p) v = std::abs(v);
    std::vector<std::int64_t> y(static_cast<std::size_t>(N));
    for (std::int64_t i = 0; i < N; ++i) y[static_cast<std::size_t>(i)] = i % 11 == 5 ? -100 : (i * 31) % C;
    std::vector<float> ref_g, ref_k;
    float ref_l = 0, ref_kl = 0;
    for (int t : {1, 2, 3, 5}) {
      losskit::set_num_threads(t);
      std::vector<float> g(x.size()), gk(x.size());
      float l = 0, kl = 0;
      losskit::cross_entropy_forward_backward(ConstView<float>(x.data(), {N, C}),
                                              ConstView<std::int64_t>(y.data(), {N}), TensorView<float>(&l, {}),
                                              TensorView<float>(g.data(), {N, C}), {.label_smoothing = 0.1});
      losskit::kl_div_forward_backward(ConstView<float>(x.data(), {N, C}), ConstView<float>(p.data(), {N, C}),
                                       TensorView<float>(&kl, {}), TensorView<float>(gk.data(), {N, C}), {},
                                       {.reduction = losskit::Reduction::BatchMean});
      if (t == 1) {
        ref_g = g, ref_k = gk, ref_l = l, ref_kl = kl;
        continue;
      }
      EXPECT_EQ(std::bit_cast<std::uint32_t>(l), std::bit_cast<std::uint32_t>(ref_l)) << t;
      EXPECT_EQ(std::bit_cast<std::uint32_t>(kl), std::bit_cast<std::uint32_t>(ref_kl)) << t;
      EXPECT_EQ(std::memcmp(g.data(), ref_g.data(), g.size() * sizeof(float)), 0) << t;  // NaN row included
      EXPECT_EQ(gk, ref_k) << t;
    }
  }
  losskit::set_num_threads(saved);
}

}  // namespace

namespace {
TEST(KernelsPointwise, ZeroBytesStreamedAndPlain) {
  for_each_target([] {
    for (bool stream : {false, true})
      for (std::size_t off : {0, 1, 3, 4, 60})
        for (std::size_t n : {0, 1, 63, 64, 65, 1000, 4099}) {
          std::vector<unsigned char> buf(n + 200, 0xAB);
          k::zero_bytes(buf.data() + off, static_cast<std::int64_t>(n), stream);
          for (std::size_t i = 0; i < buf.size(); ++i)
            ASSERT_EQ(buf[i], (i >= off && i < off + n) ? 0 : 0xAB) << stream << " " << off << " " << n << " " << i;
        }
  });
}
}  // namespace

namespace {
TEST(KLDiv16, BFloat16AndFloat16MatchFloat32) {
  const std::int64_t N = 16, C = 50;
  auto x = randn(static_cast<std::size_t>(N * C), 31, 1.0f);
  auto p = randn(x.size(), 32, 1.0f);
  for (auto& v : p) v = std::abs(v);
  p[3] = 0.0f;
  auto run = [&](auto tag) {
    using H = decltype(tag);
    std::vector<H> xh(x.size()), ph(x.size()), gh(x.size()), th(x.size());
    std::vector<float> xf(x.size()), pf(x.size()), gf(x.size()), tf(x.size()), g32(x.size()), t32(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      xh[i] = H(x[i]), ph[i] = H(p[i]);
      xf[i] = static_cast<float>(xh[i]), pf[i] = static_cast<float>(ph[i]);
    }
    float lf = 0, lh = 0, lh32 = 0;
    const losskit::KLDivOptions o{.reduction = losskit::Reduction::BatchMean};
    losskit::kl_div_forward_backward(ConstView<float>(xf.data(), {N, C}), ConstView<float>(pf.data(), {N, C}),
                                     TensorView<float>(&lf, {}), TensorView<float>(gf.data(), {N, C}),
                                     TensorView<float>(tf.data(), {N, C}), o);
    losskit::kl_div_forward_backward(ConstView<H>(xh.data(), {N, C}), ConstView<H>(ph.data(), {N, C}),
                                     TensorView<float>(&lh, {}), TensorView<H>(gh.data(), {N, C}),
                                     TensorView<H>(th.data(), {N, C}), o);
    losskit::kl_div_forward_backward(ConstView<H>(xh.data(), {N, C}), ConstView<H>(ph.data(), {N, C}),
                                     TensorView<float>(&lh32, {}), TensorView<float>(g32.data(), {N, C}),
                                     TensorView<float>(t32.data(), {N, C}), o);
    EXPECT_NEAR(lh, lf, 1e-5 * std::abs(lf));
    EXPECT_EQ(lh, lh32);
    const auto lt = losskit::kl_div(ConstView<H>(xh.data(), {N, C}), ConstView<H>(ph.data(), {N, C}), o);
    EXPECT_EQ(lt.item(), lh);
    const double rel = std::is_same_v<H, bfloat16> ? 1.0 / 256 : 1.0 / 2048;
    for (std::size_t i = 0; i < x.size(); ++i) {
      EXPECT_NEAR(g32[i], gf[i], 1e-6 * std::abs(gf[i]) + 1e-9);
      EXPECT_NEAR(static_cast<float>(gh[i]), gf[i], rel * std::abs(gf[i]) + 1e-9);
      EXPECT_NEAR(static_cast<float>(th[i]), tf[i], rel * std::abs(tf[i]) + 1e-6);
    }
  };
  run(bfloat16{});
  run(float16{});
}
}  // namespace
