// Parity of ctc_loss with libtorch's at::ctc_loss (the libtorch the build links: the torch 2.13
// wheel's, or Debian's 1.13): values and autograd gradients, float32 and float64, padded and
// concatenated targets, every reduction, zero_infinity, blank first and last.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "losskit/losskit.hpp"

namespace {

using losskit::ConstView;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;

template <class T>
void check_case(std::int64_t T_, std::int64_t N, std::int64_t C, std::int64_t S, std::int64_t blank, Reduction r,
                bool zero_infinity, bool concatenated, std::uint64_t seed) {
  torch::manual_seed(seed);
  const auto dtype = std::is_same_v<T, float> ? torch::kFloat : torch::kDouble;
  torch::Tensor x = torch::log_softmax(torch::randn({T_, N, C}, dtype) * 2, 2).contiguous();
  auto labels = torch::randint(1, C, {N, S}, torch::kLong);
  labels = torch::where(labels == blank, torch::zeros_like(labels), labels);  // blank = C-1: 0 is a label
  auto il = torch::randint(std::max<std::int64_t>(1, T_ / 2), T_ + 1, {N}, torch::kLong);
  auto tl = torch::randint(0, S + 1, {N}, torch::kLong);
  il[0] = T_;
  std::vector<std::int64_t> ilv(il.data_ptr<std::int64_t>(), il.data_ptr<std::int64_t>() + N);
  std::vector<std::int64_t> tlv(tl.data_ptr<std::int64_t>(), tl.data_ptr<std::int64_t>() + N);
  torch::Tensor targets = labels;
  if (concatenated) {
    std::vector<torch::Tensor> parts;
    for (std::int64_t n = 0; n < N; ++n) parts.push_back(labels[n].slice(0, 0, tlv[static_cast<std::size_t>(n)]));
    targets = torch::cat(parts).contiguous();
  }
  const int64_t red = r == Reduction::None ? at::Reduction::None : r == Reduction::Sum ? at::Reduction::Sum : at::Reduction::Mean;
  auto xr = x.clone().requires_grad_(true);
  torch::Tensor ref = at::ctc_loss(xr, targets, ilv, tlv, blank, red, zero_infinity);
  torch::Tensor up = torch::rand(ref.sizes(), dtype) + 0.5;
  ref.backward(up);

  const Shape shape{T_, N, C};
  const losskit::CtcLossOptions o{.blank = blank, .reduction = r, .zero_infinity = zero_infinity};
  const ConstView<std::int64_t> tv(targets.data_ptr<std::int64_t>(),
                                   concatenated ? Shape{targets.size(0)} : Shape{N, S});
  const auto out = losskit::ctc_loss(ConstView<T>(x.data_ptr<T>(), shape), tv, ilv, tlv, o);
  torch::Tensor gl = torch::empty_like(x);
  losskit::ctc_loss_backward(ConstView<T>(up.data_ptr<T>(), r == Reduction::None ? Shape{N} : Shape{}),
                             ConstView<T>(x.data_ptr<T>(), shape), tv, ilv, tlv, TensorView<T>(gl.data_ptr<T>(), shape), o);
  const double rtol = std::is_same_v<T, float> ? 1e-4 : 1e-10, atol = std::is_same_v<T, float> ? 3e-5 : 1e-12;
  torch::Tensor ours = torch::from_blob(const_cast<T*>(out.view().data()), ref.sizes(), dtype);
  EXPECT_TRUE(torch::allclose(ours, ref.detach(), rtol, atol, /*equal_nan=*/true)) << ours << ref;
  EXPECT_TRUE(torch::allclose(gl, xr.grad(), rtol, atol, /*equal_nan=*/true))
      << "max diff " << (gl - xr.grad()).abs().nan_to_num(0).max().item<double>();
}

TEST(CtcLossTorch, MatchesAtCtcLoss) {
  std::uint64_t seed = 1;
  for (const auto& [T_, N, C, S] : std::vector<std::array<std::int64_t, 4>>{{1, 1, 3, 1}, {6, 2, 4, 3}, {30, 4, 6, 12}, {80, 3, 20, 35}})
    for (const Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
      for (const bool zi : {false, true})
        for (const bool cat : {false, true})
          for (const std::int64_t blank : {std::int64_t{0}, C - 1}) {
            SCOPED_TRACE(::testing::Message() << T_ << "x" << N << "x" << C << " S " << S << " red " << static_cast<int>(r)
                                              << " zi " << zi << " cat " << cat << " blank " << blank);
            check_case<float>(T_, N, C, S, blank, r, zi, cat, seed++);
            check_case<double>(T_, N, C, S, blank, r, zi, cat, seed++);
          }
}

}  // namespace
