// Gradient and consistency checks shared by the tests of losses with the four standard calls.
//
// A loss under test is given as three callables over double data with its target and options
// bound, each taking the reduction:
//   fwd(ConstView<double> x, TensorView<double> out, Reduction r)
//   bwd(ConstView<double> grad_output, ConstView<double> x, TensorView<double> grad_input, Reduction r)
//   fb (ConstView<double> x, TensorView<double> out, TensorView<double> grad_input, Reduction r)
// check_loss_calls() then checks, for None, Mean and Sum: backward against float64 central
// differences of the forward (with a random upstream gradient for None, 0.7 for Mean/Sum), and
// the fused call against the forward value and the backward with upstream 1.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"
#include "support/testing.hpp"

namespace lktest {

using FwdFn = std::function<void(losskit::ConstView<double>, losskit::TensorView<double>, losskit::Reduction)>;
using BwdFn = std::function<void(losskit::ConstView<double>, losskit::ConstView<double>, losskit::TensorView<double>,
                                 losskit::Reduction)>;
using FBFn = std::function<void(losskit::ConstView<double>, losskit::TensorView<double>, losskit::TensorView<double>,
                                losskit::Reduction)>;

/// x has shape `in_shape`; the per-element losses have shape `loss_shape`.
inline void check_loss_calls(const losskit::Shape& in_shape, const std::vector<double>& x,
                             const losskit::Shape& loss_shape, const FwdFn& fwd, const BwdFn& bwd, const FBFn& fb,
                             double h = 1e-6, double rtol = 1e-5, double atol = 1e-7) {
  using losskit::Reduction;
  Rng rng(77);
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    SCOPED_TRACE(std::string("reduction ") + std::string(losskit::to_string(r)));
    const bool none = r == Reduction::None;
    const losskit::Shape oshape = none ? loss_shape : losskit::Shape{};
    const std::size_t on = static_cast<std::size_t>(oshape.numel());
    std::vector<double> up = none ? rng.normal(on) : std::vector<double>{0.7};
    auto f = [&](const std::vector<double>& xv) {
      std::vector<double> out(on);
      fwd(losskit::ConstView<double>(xv.data(), in_shape), losskit::TensorView<double>(out.data(), oshape), r);
      double s = 0;
      for (std::size_t i = 0; i < on; ++i) s += up[i] * out[i];
      return s;
    };
    std::vector<double> gi(x.size(), -123.0);
    bwd(losskit::ConstView<double>(up.data(), oshape), losskit::ConstView<double>(x.data(), in_shape),
        losskit::TensorView<double>(gi.data(), in_shape), r);
    EXPECT_TRUE(check_gradient(f, x, gi, h, rtol, atol));
    // Fused: value equals the forward, gradient equals backward with upstream 1.
    std::vector<double> out(on), out2(on, -1.0), gi1(x.size()), gi2(x.size(), -123.0);
    fwd(losskit::ConstView<double>(x.data(), in_shape), losskit::TensorView<double>(out.data(), oshape), r);
    std::vector<double> ones(on, 1.0);
    bwd(losskit::ConstView<double>(ones.data(), oshape), losskit::ConstView<double>(x.data(), in_shape),
        losskit::TensorView<double>(gi1.data(), in_shape), r);
    fb(losskit::ConstView<double>(x.data(), in_shape), losskit::TensorView<double>(out2.data(), oshape),
       losskit::TensorView<double>(gi2.data(), in_shape), r);
    for (std::size_t i = 0; i < on; ++i) EXPECT_DOUBLE_EQ(out[i], out2[i]) << "fused value " << i;
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(gi1[i], gi2[i], 1e-12 * (1 + std::fabs(gi1[i]))) << "fused grad " << i;
  }
}

/// The four calls of a loss `NAME` with a fixed target and options built by `OPTS(r)`, as the
/// callables check_loss_calls takes.
#define LKTEST_CALLS(NAME, TARGET, OPTS)                                                                          \
  lktest::FwdFn([&](losskit::ConstView<double> x_, losskit::TensorView<double> o_, losskit::Reduction r_) {      \
    losskit::NAME(x_, TARGET, o_, OPTS(r_));                                                                      \
  }),                                                                                                             \
      lktest::BwdFn([&](losskit::ConstView<double> g_, losskit::ConstView<double> x_, losskit::TensorView<double> gi_, \
                        losskit::Reduction r_) { losskit::NAME##_backward(g_, x_, TARGET, gi_, OPTS(r_)); }),      \
      lktest::FBFn([&](losskit::ConstView<double> x_, losskit::TensorView<double> o_, losskit::TensorView<double> gi_, \
                       losskit::Reduction r_) { losskit::NAME##_forward_backward(x_, TARGET, o_, gi_, OPTS(r_)); })

}  // namespace lktest
