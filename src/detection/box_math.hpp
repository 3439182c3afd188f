// torch's elementwise max/min/clamp as torchvision's box code uses them, forward and backward,
// shared by the box losses (box_iou_loss.cpp) and the box matrices (box_iou.cpp).
#pragma once

#include <algorithm>
#include <cmath>

namespace losskit::detail::boxes {

/// torch.max / torch.min of two values: NaN if either is NaN.
template <class F>
F tmax(F a, F b) {
  return std::isnan(a) || std::isnan(b) ? a + b : std::max(a, b);
}
template <class F>
F tmin(F a, F b) {
  return std::isnan(a) || std::isnan(b) ? a + b : std::min(a, b);
}

/// The share of an upstream gradient `d` that max(a, b) passes to a, as torch's maximum backward:
/// d / 2 at a tie, 0 where a < b (a masked fill: exactly 0 even for d = NaN), else d (also for NaN
/// arguments). min(a, b) passes share(d, b, a) to a.
template <class F>
F share(F d, F a, F b) {
  return a == b ? d / 2 : (a < b ? F(0) : d);
}

/// torch's clamp(min=0) backward: d where x >= 0, else 0 (also for NaN x).
template <class F>
F pass_clamp(F d, F x) {
  return x >= 0 ? d : F(0);
}

}  // namespace losskit::detail::boxes
