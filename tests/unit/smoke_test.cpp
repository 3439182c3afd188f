#include <cmath>
#include <gtest/gtest.h>
#include <losskit/losskit.hpp>
TEST(Smoke, Notebook) {
  const float logits[] = {0.1f, 0.9f, 0.2f, 0.8f};
  const std::int64_t target[] = {0, 1};
  auto ce = losskit::cross_entropy(losskit::ConstView<float>(logits, {2, 2}), losskit::ConstView<std::int64_t>(target, {2}));
  EXPECT_NEAR(ce.item(), 0.804294, 1e-6);
}
TEST(Smoke, KL) {
  const double p[] = {0.10, 0.40, 0.50}, q[] = {0.80, 0.15, 0.05};
  double logq[3];
  for (int i = 0; i < 3; ++i) logq[i] = std::log(q[i]);
  // KL(p || q) with kl_div(log q, p, sum)
  auto kl = losskit::kl_div(losskit::ConstView<double>(logq, {3}), losskit::ConstView<double>(p, {3}), {.reduction = losskit::Reduction::Sum});
  EXPECT_NEAR(kl.item(), 1.3357, 1e-4);
}
