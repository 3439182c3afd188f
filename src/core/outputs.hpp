// Output checks and reduction write-back shared by every loss.
#pragma once

#include <string_view>

#include "core/check.hpp"
#include "core/layout.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit::detail {

/// Which of the three entry points is running.
enum class Pass { Forward, Backward, ForwardBackward };
inline bool has_forward(Pass p) { return p != Pass::Backward; }
inline bool has_backward(Pass p) { return p != Pass::Forward; }

/// Checks an output buffer: non-null, the expected shape, non-negative strides.
template <class T>
void check_output(std::string_view fn, std::string_view name, const TensorView<T>& out, const Shape& expected) {
  check_data(fn, name, out);
  check_shape(fn, name, out.shape(), expected);
}

/// True when a and b are the same view (same memory, shape and strides).
template <class A, class B>
bool same_view(const TensorView<A>& a, const TensorView<B>& b) {
  return static_cast<const void*>(a.data()) == static_cast<const void*>(b.data()) && a.shape() == b.shape() &&
         a.strides() == b.strides();
}

/// The reduced loss from the sum of per-element losses: sum/denom for Mean and BatchMean
/// (NaN when denom is 0, as in PyTorch), sum for Sum.
inline double reduce_value(Reduction r, double sum, double denom) {
  return (r == Reduction::Sum) ? sum : sum / denom;
}

/// The factor Reduction applies to each per-element gradient, times the scalar upstream g.
inline double reduce_scale(Reduction r, double g, double denom) {
  return (r == Reduction::Sum || r == Reduction::None) ? g : g / denom;
}

/// The end of every pass: the forward's per-element losses scattered back (`flush_out`, for
/// Reduction::None) or the reduced value sum/denom written to the 0-d `out`; then, for a
/// backward, the staged gradients scattered back (`flush_grads`).
template <class A, class FlushOut, class FlushGrads>
void finish_pass(Pass pass, Reduction r, const TensorView<A>& out, double sum, double denom, FlushOut&& flush_out,
                 FlushGrads&& flush_grads) {
  if (has_forward(pass)) {
    if (r == Reduction::None) flush_out();
    else out.flat(0) = static_cast<A>(reduce_value(r, sum, denom));
  }
  if (has_backward(pass)) flush_grads();
}

}  // namespace losskit::detail

namespace losskit::detail {
/// For the overloads that return a Tensor: allocates it (after validation) and returns its view.
template <class T>
TensorView<T> allocate(Tensor<T>& t, const Shape& shape) {
  t = Tensor<T>(shape);
  return t.view();
}
}  // namespace losskit::detail
