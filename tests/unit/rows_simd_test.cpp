// The SIMD row kernels of the embedding losses (kernels/rows.hpp) on every instruction set
// compiled into the library that this CPU supports: row_sums against float64 sums in element
// order (within the rounding of a float64 sum of n terms), row_lin against the scalar fma chain
// (bitwise where the target has FMA, else within one float32 ULP), every tail length, with
// +-inf and NaN propagating as in the scalar code and nothing written past the row.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/rows.hpp"
#include "support/targets.hpp"
#include "support/testing.hpp"

namespace {

namespace k = losskit::kernels;
using lktest::for_each_target;

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<std::int64_t> lengths() {
  std::vector<std::int64_t> n;
  for (std::int64_t i = 0; i <= 67; ++i) n.push_back(i);
  for (std::int64_t i : {255, 256, 1000, 4099}) n.push_back(i);
  return n;
}

std::vector<float> floats(lktest::Rng& rng, std::int64_t n, double sd) {
  const auto v = rng.normal(static_cast<std::size_t>(n), 0.0, sd);
  return std::vector<float>(v.begin(), v.end());
}

/// The sums in element order, float64, with the bound on a float64 sum of the terms' magnitudes.
k::RowSums reference(k::RowSum kind, const std::vector<float>& u, const std::vector<float>& w, double eps,
                     double* abs_sum) {
  k::RowSums s;
  *abs_sum = 0;
  for (std::size_t j = 0; j < u.size(); ++j) {
    const double a = u[j], b = w[j];
    if (kind == k::RowSum::Dot3) {
      s.s0 += a * b;
      s.s1 += a * a;
      s.s2 += b * b;
      *abs_sum += std::fabs(a * b) + a * a + b * b;
    } else {
      const double v = a - b + eps;
      s.s0 += kind == k::RowSum::SqDiff ? v * v : std::fabs(v);
      *abs_sum += kind == k::RowSum::SqDiff ? v * v : std::fabs(v);
    }
  }
  return s;
}

void expect_near_sum(double got, double want, double bound) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << got;
  } else if (std::isinf(want)) {
    EXPECT_EQ(got, want);
  } else {
    EXPECT_LE(std::fabs(got - want), bound) << got << " vs " << want;
  }
}

TEST(RowsSimd, SumsMatchFloat64OnEveryTargetAndLength) {
  for_each_target([] {
    lktest::Rng rng(11);
    for (const auto kind : {k::RowSum::Dot3, k::RowSum::SqDiff, k::RowSum::AbsDiff}) {
      for (const double eps : {0.0, 1e-6}) {
        for (const std::int64_t n : lengths()) {
          SCOPED_TRACE("kind " + std::to_string(static_cast<int>(kind)) + ", n = " + std::to_string(n));
          const auto u = floats(rng, n, 3.0), w = floats(rng, n, 0.5);
          double abs_sum = 0;
          const auto want = reference(kind, u, w, eps, &abs_sum);
          const auto got = k::row_sums(kind, u.data(), w.data(), eps, n);
          // Two float64 sums of the same n terms in different orders differ by at most about
          // 2 n 2^-53 of the sum of magnitudes.
          const double bound = (2.0 * static_cast<double>(n) + 4.0) * 0x1p-53 * abs_sum;
          expect_near_sum(got.s0, want.s0, bound);
          if (kind == k::RowSum::Dot3) {
            expect_near_sum(got.s1, want.s1, bound);
            expect_near_sum(got.s2, want.s2, bound);
          } else {
            EXPECT_EQ(got.s1, 0.0);
            EXPECT_EQ(got.s2, 0.0);
          }
        }
      }
    }
  });
}

TEST(RowsSimd, SumsPropagateInfinityAndNaN) {
  for_each_target([] {
    lktest::Rng rng(12);
    for (const std::int64_t n : {16, 37, 256}) {
      for (const std::int64_t at : {std::int64_t{0}, n / 2, n - 1}) {  // a vector lane and the tail
        for (const float special : {kInf, -kInf, std::numeric_limits<float>::quiet_NaN()}) {
          auto u = floats(rng, n, 1.0);
          const auto w = floats(rng, n, 1.0);
          u[static_cast<std::size_t>(at)] = special;
          for (const auto kind : {k::RowSum::Dot3, k::RowSum::SqDiff, k::RowSum::AbsDiff}) {
            double abs_sum = 0;
            const auto want = reference(kind, u, w, 0.0, &abs_sum);
            const auto got = k::row_sums(kind, u.data(), w.data(), 0.0, n);
            SCOPED_TRACE("n = " + std::to_string(n) + ", at " + std::to_string(at));
            expect_near_sum(got.s0, want.s0, 0.0);
            if (kind == k::RowSum::Dot3) expect_near_sum(got.s1, want.s1, 0.0);
          }
        }
      }
    }
  });
}

TEST(RowsSimd, LinMatchesTheScalarFmaChain) {
  for_each_target([] {
    const std::string target = k::rows_target_name();
    const bool fma = target.rfind("AVX2", 0) == 0 || target.rfind("AVX3", 0) == 0;
    lktest::Rng rng(13);
    for (int terms = 0; terms <= 3; ++terms) {
      for (const std::int64_t n : lengths()) {
        SCOPED_TRACE(std::to_string(terms) + " terms, n = " + std::to_string(n));
        std::vector<std::vector<float>> rows;
        k::RowLin f;
        for (int t = 0; t < terms; ++t) rows.push_back(floats(rng, n, 2.0));
        for (int t = 0; t < terms; ++t) f.add(rows[static_cast<std::size_t>(t)].data(), rng.normal(1, 0.0, 1.5)[0]);
        f.d = rng.normal(1)[0];
        if (n > 3 && terms > 0) rows[0][3] = kInf;  // inf times a nonzero coefficient
        std::vector<float> out(static_cast<std::size_t>(n) + 8, -7.0f);
        k::row_lin(out.data(), f, n);
        for (std::int64_t j = 0; j < n; ++j) {
          double v = f.d;
          for (int t = terms - 1; t >= 0; --t) v = std::fma(f.coef[t], double{f.row[t][j]}, v);
          const float want = static_cast<float>(v), got = out[static_cast<std::size_t>(j)];
          if (fma || std::isinf(want)) {
            ASSERT_EQ(got, want) << "j = " << j;
          } else {
            ASSERT_LE(std::fabs(got - want), std::nextafter(std::fabs(want), kInf) - std::fabs(want)) << "j = " << j;
          }
        }
        for (std::size_t j = static_cast<std::size_t>(n); j < out.size(); ++j) ASSERT_EQ(out[j], -7.0f);
      }
    }
  });
}

TEST(RowsSimd, SignGradsMatchTheScalarSigns) {
  for_each_target([] {
    lktest::Rng rng(14);
    for (int pairs = 0; pairs <= 3; ++pairs) {
      for (const std::int64_t n : lengths()) {
        SCOPED_TRACE(std::to_string(pairs) + " pairs, n = " + std::to_string(n));
        std::vector<std::vector<float>> u, w;
        k::SignGrads f;
        f.pairs = pairs;
        f.eps = 1e-6;
        for (int m = 0; m < pairs; ++m) {
          u.push_back(floats(rng, n, 1.0));
          w.push_back(floats(rng, n, 1.0));
          if (n > 5) {
            w.back()[2] = u.back()[2];  // u - w + eps = eps > 0
            w.back()[3] = u.back()[3] + 1e-6f;
            u.back()[4] = std::numeric_limits<float>::quiet_NaN();  // sign 0
            u.back()[5] = -kInf;
          }
        }
        for (int m = 0; m < pairs; ++m) f.u[m] = u[static_cast<std::size_t>(m)].data(), f.w[m] = w[static_cast<std::size_t>(m)].data();
        std::vector<std::vector<float>> out(3, std::vector<float>(static_cast<std::size_t>(n) + 8, -7.0f));
        for (int o = 0; o < 3; ++o) {
          for (int m = 0; m < 3; ++m) f.c[o][m] = rng.normal(1)[0];
          f.out[o] = o == 1 ? nullptr : out[static_cast<std::size_t>(o)].data();  // output 1 not asked for
        }
        k::row_sign_grads(f, n);
        for (int o = 0; o < 3; ++o) {
          const auto& g = out[static_cast<std::size_t>(o)];
          for (std::int64_t j = 0; j < n; ++j) {
            double want = 0;
            for (int m = 0; m < pairs; ++m) {
              const double v = double{f.u[m][j]} - double{f.w[m][j]} + f.eps;
              want += f.c[o][m] * (v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0));
            }
            if (o == 1) ASSERT_EQ(g[static_cast<std::size_t>(j)], -7.0f);
            else ASSERT_NEAR(g[static_cast<std::size_t>(j)], want, 1e-6 * (1 + std::fabs(want))) << "out " << o << ", j = " << j;
          }
          for (std::size_t j = static_cast<std::size_t>(n); j < g.size(); ++j) ASSERT_EQ(g[j], -7.0f);
        }
      }
    }
  });
}

}  // namespace
