#include "core/layout.hpp"

namespace losskit::detail {

std::optional<Collapsed> collapse(const Shape& shape, const Shape& strides, int first, int last) {
  Collapsed r;
  bool any = false;
  // Walk from the innermost dim outwards; dims of extent 1 are free.
  for (int k = last - 1; k >= first; --k) {
    const std::int64_t e = shape[k];
    if (e == 0) return Collapsed{0, 0};
    if (e == 1) continue;
    if (!any) {
      r.extent = e;
      r.stride = strides[k];
      any = true;
    } else {
      if (strides[k] != r.stride * r.extent) return std::nullopt;
      r.extent *= e;
    }
  }
  return r;
}

}  // namespace losskit::detail
