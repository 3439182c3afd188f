// Canonical layouts the kernels work on, built from any strided view.
//
// Class-dim losses see the input as [N, C, D]: N batch items, C classes, D positions (the
// product of the spatial dims d1..dK), element (n, c, d) at n*sN + c*sC + d*sD. The spatial dims
// collapse into one (D, sD) whenever their strides allow it, which covers contiguous NCHW and
// channels-last NHWC alike. Views whose spatial strides cannot collapse are copied to a
// contiguous buffer first (Staged), and outputs are staged and scattered back the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/check.hpp"
#include "losskit/tensor.hpp"

namespace losskit::detail {

/// Collapses dims [first, last) of (shape, strides) into one (extent, stride), or nullopt when
/// the strides do not allow it. An empty range collapses to (1, 0).
struct Collapsed {
  std::int64_t extent = 1;
  std::int64_t stride = 0;
};
std::optional<Collapsed> collapse(const Shape& shape, const Shape& strides, int first, int last);

/// [N, C, D] view of a tensor whose class dim is `class_dim` (dims before it form N).
template <class T>
struct NCD {
  T* data = nullptr;
  std::int64_t N = 1, C = 1, D = 1;
  std::int64_t sN = 0, sC = 0, sD = 0;
  T& at(std::int64_t n, std::int64_t c, std::int64_t d) const { return data[n * sN + c * sC + d * sD]; }
  std::int64_t rows() const { return N * D; }
};

/// [N, D] view of a tensor shaped like an NCD tensor without its class dim.
template <class T>
struct ND {
  T* data = nullptr;
  std::int64_t N = 1, D = 1;
  std::int64_t sN = 0, sD = 0;
  T& at(std::int64_t n, std::int64_t d) const { return data[n * sN + d * sD]; }
};

/// A view's data as a strided array, with a contiguous copy made when its strides do not fit
/// the wanted canonical form. For outputs, `flush()` scatters the staged copy back.
template <class T>
class Staged {
 public:
  using V = std::remove_const_t<T>;
  Staged() = default;
  /// Stages `v` as contiguous if `need_copy`; otherwise uses its memory directly.
  Staged(TensorView<T> v, bool need_copy, bool is_output) : view_(v), is_output_(is_output) {
    if (!need_copy) return;
    buf_.resize(static_cast<std::size_t>(v.numel()));
    if (!is_output) {
      for (std::int64_t i = 0; i < v.numel(); ++i) buf_[static_cast<std::size_t>(i)] = v.flat(i);
    }
  }
  bool staged() const { return !buf_.empty(); }
  /// The view to hand to the canonicaliser: the original or the contiguous copy.
  TensorView<T> view() {
    if (buf_.empty()) return view_;
    return TensorView<T>(buf_.data(), view_.shape());
  }
  /// Copies a staged output back into the caller's view.
  void flush() {
    if (!is_output_ || buf_.empty()) return;
    if constexpr (!std::is_const_v<T>) {
      for (std::int64_t i = 0; i < view_.numel(); ++i) view_.flat(i) = buf_[static_cast<std::size_t>(i)];
    }
  }

 private:
  TensorView<T> view_{};
  std::vector<V> buf_;
  bool is_output_ = false;
};

/// P when v's elements, in flat order, repeat every P with the P values contiguous in memory:
/// its leading dims have stride 0 (a broadcast) and the rest collapse to stride 1 (P = numel for
/// a contiguous v). 0 otherwise.
template <class T>
std::int64_t trailing_period(const TensorView<T>& v) {
  const int nd = v.ndim();
  int k = 0;  // the first dim of the repeating part
  for (int i = 0; i < nd; ++i)
    if (v.stride(i) == 0 && v.size(i) > 1) k = i + 1;
  for (int i = 0; i < k; ++i)
    if (v.stride(i) != 0 && v.size(i) > 1) return 0;
  const auto c = collapse(v.shape(), v.strides(), k, nd);
  if (!c || (c->extent > 1 && c->stride != 1)) return 0;
  return c->extent;
}

/// True when dims [first, last) of v collapse.
template <class T>
bool collapsible(const TensorView<T>& v, int first, int last) {
  return collapse(v.shape(), v.strides(), first, last).has_value();
}

/// `v` staged (copied) when its dims [0, lead) or [lead, ndim) do not collapse, so that
/// nd_of(staged.view(), lead) always works. A null view stays null.
template <class T>
Staged<T> stage_for_nd(const TensorView<T>& v, int lead, bool is_output) {
  return Staged<T>(v, !(collapsible(v, 0, lead) && collapsible(v, lead, v.ndim())), is_output);
}

/// NCD of v, class dim `cd` (dims [0, cd) are N, dims (cd, ndim) are D). Requires collapsible
/// batch and spatial dims (stage the view first otherwise).
template <class T>
NCD<T> ncd_of(const TensorView<T>& v, int cd) {
  NCD<T> r;
  r.data = v.data();
  const auto n = collapse(v.shape(), v.strides(), 0, cd);
  const auto d = collapse(v.shape(), v.strides(), cd + 1, v.ndim());
  r.N = n->extent;
  r.sN = n->stride;
  r.C = v.size(cd);
  r.sC = v.stride(cd);
  r.D = d->extent;
  r.sD = d->stride;
  return r;
}

/// ND of v: dims [0, nd) are N, the rest are D. Requires collapsible groups.
template <class T>
ND<T> nd_of(const TensorView<T>& v, int nd) {
  ND<T> r;
  r.data = v.data();
  const auto n = collapse(v.shape(), v.strides(), 0, nd);
  const auto d = collapse(v.shape(), v.strides(), nd, v.ndim());
  r.N = n->extent;
  r.sN = n->stride;
  r.D = d->extent;
  r.sD = d->stride;
  return r;
}

/// `v` broadcast to `shape` (NumPy rules: trailing dims aligned, extent-1 or missing dims
/// repeat with stride 0), for optional operands such as a weight or pos_weight. Fails naming
/// `name` when the shapes do not broadcast. The result is read-only in spirit: never write to it.
template <class T>
TensorView<T> broadcast_to(std::string_view fn, std::string_view name, const TensorView<T>& v, const Shape& shape) {
  const int nd = shape.ndim(), vd = v.ndim();
  bool ok = vd <= nd;
  Shape strides;
  for (int k = 0; k < nd && ok; ++k) {
    const int j = k - (nd - vd);
    if (j < 0) {
      strides.push_back(0);
    } else if (v.size(j) == shape[k]) {
      strides.push_back(shape[k] == 1 ? 0 : v.stride(j));
    } else if (v.size(j) == 1) {
      strides.push_back(0);
    } else {
      ok = false;
    }
  }
  if (!ok)
    fail(ErrorKind::Shape, fn, name, " of shape ", v.shape().str(), " does not broadcast to the input shape ",
         shape.str());
  return TensorView<T>(v.data(), shape, strides);
}

/// True when v's dims [0, cd) and (cd, ndim) each collapse (so ncd_of works without staging).
template <class T>
bool ncd_ok(const TensorView<T>& v, int cd) {
  return collapsible(v, 0, cd) && collapsible(v, cd + 1, v.ndim());
}

}  // namespace losskit::detail
