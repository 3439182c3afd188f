// Computes the seed notebook's cross-entropy through the installed package.
#include <cmath>
#include <cstdio>
#include <losskit/losskit.hpp>

int main() {
  const float logits[] = {0.1f, 0.9f, 0.2f, 0.8f};
  const std::int64_t target[] = {0, 1};
  const auto loss = losskit::cross_entropy(losskit::ConstView<float>(logits, {2, 2}),
                                           losskit::ConstView<std::int64_t>(target, {2}));
  std::printf("cross_entropy = %.6f\n", loss.item());
  return std::fabs(loss.item() - 0.804294f) < 1e-5f ? 0 : 1;
}
