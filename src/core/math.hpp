// Scalar helpers with PyTorch's NaN semantics, shared by the losses' scalar code.
#pragma once

#include <cmath>

namespace losskit::detail {

/// torch.clamp_min(v, 0): NaN stays NaN (`v > 0 ? v : 0` would give 0).
template <class V>
constexpr V clamp_min0(V v) {
  return v < V(0) ? V(0) : v;
}

/// torch.minimum(a, b): NaN when either is NaN.
template <class V>
V nan_min(V a, V b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return b < a ? b : a;
}

/// The shares of torch.minimum(a, b)'s gradient that go to a and to b: all to the smaller,
/// half each on a tie, and all to both when either is NaN (neither compares greater).
template <class V>
void nan_min_shares(V a, V b, double& to_a, double& to_b) {
  to_a = a > b ? 0.0 : (a == b ? 0.5 : 1.0);
  to_b = a < b ? 0.0 : (a == b ? 0.5 : 1.0);
}

}  // namespace losskit::detail
