// Shared test helpers: random data, float64 finite-difference gradient checks, and the
// "bad input leaves buffers untouched" harness. Used by every loss's tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "losskit/error.hpp"

namespace lktest {

/// Deterministic random numbers for tests.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 1234) : gen_(seed) {}
  std::vector<double> normal(std::size_t n, double mean = 0, double sd = 1) {
    std::normal_distribution<double> d(mean, sd);
    std::vector<double> v(n);
    for (auto& x : v) x = d(gen_);
    return v;
  }
  std::vector<double> uniform(std::size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<double> v(n);
    for (auto& x : v) x = d(gen_);
    return v;
  }
  /// Class ids in [0, C), each replaced by `ignore` with probability p_ignore.
  std::vector<std::int64_t> classes(std::size_t n, std::int64_t C, double p_ignore = 0, std::int64_t ignore = -100) {
    std::uniform_int_distribution<std::int64_t> d(0, C - 1);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<std::int64_t> v(n);
    for (auto& x : v) x = (u(gen_) < p_ignore) ? ignore : d(gen_);
    return v;
  }
  /// Rows of probabilities (each row of C sums to 1), row-major (rows, C) when class_stride == 1.
  std::vector<double> simplex(std::size_t rows, std::size_t C) {
    std::vector<double> v = uniform(rows * C, 0.05, 1.0);
    for (std::size_t r = 0; r < rows; ++r) {
      double s = 0;
      for (std::size_t c = 0; c < C; ++c) s += v[r * C + c];
      for (std::size_t c = 0; c < C; ++c) v[r * C + c] /= s;
    }
    return v;
  }
  int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  std::mt19937_64& engine() { return gen_; }

 private:
  std::mt19937_64 gen_;
};

/// Converts a vector to another element type.
template <class To, class From>
std::vector<To> cast(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

/// Checks `grad` against central differences of f at x, coordinate by coordinate:
/// |fd - grad| <= atol + rtol * max(|fd|, |grad|). Reports the worst coordinate.
inline ::testing::AssertionResult check_gradient(const std::function<double(const std::vector<double>&)>& f,
                                                 std::vector<double> x, std::span<const double> grad,
                                                 double h = 1e-6, double rtol = 1e-5, double atol = 1e-7) {
  if (grad.size() != x.size()) return ::testing::AssertionFailure() << "gradient has the wrong size";
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f(x);
    x[i] = x0 - h;
    const double fm = f(x);
    x[i] = x0;
    const double fd = (fp - fm) / (2 * h);
    const double an = grad[i];
    if (!(std::fabs(fd - an) <= atol + rtol * std::max(std::fabs(fd), std::fabs(an))))
      return ::testing::AssertionFailure() << "coordinate " << i << ": finite difference " << fd << " vs analytic "
                                           << an << " (x = " << x0 << ")";
  }
  return ::testing::AssertionSuccess();
}

/// Runs `call`, expecting a losskit::Error of `kind` whose message contains `needle`, and that
/// the buffers in `outputs` still hold their sentinel value afterwards.
template <class T>
::testing::AssertionResult expect_error_untouched(const std::function<void()>& call, losskit::ErrorKind kind,
                                                  const std::string& needle,
                                                  std::initializer_list<std::vector<T>*> outputs, T sentinel) {
  for (auto* o : outputs) std::fill(o->begin(), o->end(), sentinel);
  try {
    call();
  } catch (const losskit::Error& e) {
    const std::string msg = e.what();
    if (e.kind() != kind) return ::testing::AssertionFailure() << "wrong error kind for: " << msg;
    if (msg.find(needle) == std::string::npos)
      return ::testing::AssertionFailure() << "message '" << msg << "' lacks '" << needle << "'";
    for (auto* o : outputs)
      for (std::size_t i = 0; i < o->size(); ++i)
        if (!((*o)[i] == sentinel) && !(std::isnan(static_cast<double>((*o)[i])) && std::isnan(static_cast<double>(sentinel))))
          return ::testing::AssertionFailure() << "output written at " << i << " before the error: " << msg;
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-losskit exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "no error thrown (expected '" << needle << "')";
}

}  // namespace lktest
