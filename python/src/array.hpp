// array.hpp: what every binding file shares. Python arrays and tensors become losskit views
// without copies (NumPy and other buffers through the buffer protocol, torch tensors through
// DLPack), dtype dispatch, the per-call argument bundle `Call`, and the option helpers.
//
// Every loss entry of the module has the same Python signature (see CONTRIBUTING-bindings.md):
//   _losskit.<loss>(pass, inputs, out, grad_output, grads, **options)
//     pass         "forward", "backward" or "forward_backward"
//     inputs       tuple of arrays (input, target, ...)
//     out          the loss buffer (forward passes), else None
//     grad_output  the upstream gradient (backward pass), else None
//     grads        tuple, one entry per input: a buffer for its gradient, or None
// Buffers are written in place; nothing is allocated here.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "losskit/losskit.hpp"

// The 16-bit storage types (bfloat16, float16) and their overloads come with losskit/dtype.hpp.
#if __has_include("losskit/dtype.hpp")
#include "losskit/dtype.hpp"
#define LOSSKIT_PY_HAS_HALF 1
#else
#define LOSSKIT_PY_HAS_HALF 0
#endif

namespace losskit::python {

namespace py = pybind11;

enum class DType { None, Float16, BFloat16, Float32, Float64, Int32, Int64, Other };
std::string_view dtype_name(DType d);

/// True for the 16-bit storage types, whose losses compute, take weights and return the loss in
/// float32 (their gradient is written in the input's dtype).
template <class T>
inline constexpr bool is_half_v = false;
#if LOSSKIT_PY_HAS_HALF
template <>
inline constexpr bool is_half_v<bfloat16> = true;
template <>
inline constexpr bool is_half_v<float16> = true;
#endif
/// The type of weights, loss and upstream gradient for inputs of type T.
template <class T>
using acc_t = std::conditional_t<is_half_v<T>, float, T>;

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::Float32;
  else if constexpr (std::is_same_v<T, double>) return DType::Float64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::Int64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DType::Int32;
#if LOSSKIT_PY_HAS_HALF
  else if constexpr (std::is_same_v<T, bfloat16>) return DType::BFloat16;
  else if constexpr (std::is_same_v<T, float16>) return DType::Float16;
#endif
  else return DType::Other;
}

class Array;
/// Converts None, a DLPack capsule, a buffer (NumPy array, ...) or an object with __dlpack__
/// (the CPU device only). `writable` asks the buffer protocol for a writable buffer.
Array to_array(py::handle obj, std::string_view fn, std::string_view name, bool writable = false);

/// A Python array or tensor seen as a strided view of its memory (no copy). Keeps the Python
/// object's buffer (or the DLPack tensor) alive while it exists. Must be destroyed with the GIL.
class Array {
 public:
  Array() = default;
  bool is_none() const { return dtype_ == DType::None; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  const std::string& name() const { return name_; }
  /// "float32", ..., or a description of an unsupported dtype ("uint8", "buffer format '?'").
  std::string dtype_str() const;

  /// The input view; fails unless the dtype is T. None gives an empty (null) view.
  template <class T>
  ConstView<T> in(std::string_view fn) const {
    if (is_none()) return {};
    check_dtype(fn, dtype_of<T>());
    return {static_cast<const T*>(data_), shape_, strides_};
  }
  /// The output view; fails unless the dtype is T and the memory is writable.
  template <class T>
  TensorView<T> out(std::string_view fn) const {
    if (is_none()) return {};
    check_dtype(fn, dtype_of<T>());
    check_writable(fn);
    return {static_cast<T*>(data_), shape_, strides_};
  }

  /// Fails with "fn: name has dtype X, expected Y".
  void check_dtype(std::string_view fn, DType expected) const;
  void check_writable(std::string_view fn) const;

 private:
  friend Array to_array(py::handle, std::string_view, std::string_view, bool);
  DType dtype_ = DType::None;
  void* data_ = nullptr;
  Shape shape_{};
  Shape strides_{};
  bool writable_ = false;
  std::string name_;
  std::string other_dtype_;  ///< what an unsupported dtype is
  std::shared_ptr<void> keep_;
};

/// A class-id target as int64: the array's own memory, or a converted copy of an int32 one.
struct IndexTarget {
  std::vector<std::int64_t> copy;
  ConstView<std::int64_t> view;
};
IndexTarget index_target(const Array& a, std::string_view fn);
inline bool is_index_dtype(DType d) { return d == DType::Int64 || d == DType::Int32; }

/// A 1-D per-class weight as a contiguous span of T (a copy only when it is strided).
template <class T>
struct Weight {
  std::vector<T> copy;
  std::span<const T> span;
};
template <class T>
Weight<T> weight_of(py::handle obj, std::string_view fn, std::string_view name = "weight") {
  Weight<T> w;
  const Array a = to_array(obj, fn, name);
  if (a.is_none()) return w;
  const ConstView<T> v = a.in<T>(fn);
  if (v.ndim() != 1)
    throw Error(ErrorKind::Shape, std::string(fn) + ": " + std::string(name) + " must be 1-D, got shape " +
                                      v.shape().str());
  if (v.stride(0) == 1 || v.numel() <= 1) {
    w.span = {v.data(), static_cast<std::size_t>(v.numel())};
  } else {
    w.copy.resize(static_cast<std::size_t>(v.numel()));
    for (std::int64_t i = 0; i < v.numel(); ++i) w.copy[static_cast<std::size_t>(i)] = v.flat(i);
    w.span = w.copy;
  }
  return w;
}

enum class Pass { Forward, Backward, ForwardBackward };

/// The arguments common to every loss entry, converted.
struct Call {
  Call(std::string_view fn, std::string_view pass, const py::tuple& inputs, std::initializer_list<const char*> names,
       py::handle out, py::handle grad_output, const py::tuple& grads);

  std::string_view fn;
  Pass pass;
  std::vector<Array> in;     ///< one per input, in the order of `names`
  Array out;                 ///< the loss buffer (forward passes)
  Array grad_output;         ///< the upstream gradient (backward pass)
  std::vector<Array> grads;  ///< one per input (None where not wanted)

  /// Calls f.template operator()<T>() with T the dtype of inputs[0], one of Ts.
  template <class... Ts, class F>
  void dispatch(F&& f) const {
    const DType d = in.at(0).dtype();
    bool done = false;
    ((!done && d == dtype_of<Ts>() ? (f.template operator()<Ts>(), done = true) : false), ...);
    if (!done) unsupported_dtype(in.at(0));
  }
  /// Float32 and float64.
  template <class F>
  void dispatch_float(F&& f) const {
    dispatch<float, double>(std::forward<F>(f));
  }
  /// Float32, float64, bfloat16 and float16, for losses with 16-bit overloads: use acc_t<T> for
  /// weights, out and grad_output, T for the input and its gradient.
  template <class F>
  void dispatch_float_or_half(F&& f) const {
#if LOSSKIT_PY_HAS_HALF
    dispatch<float, double, bfloat16, float16>(std::forward<F>(f));
#else
    dispatch<float, double>(std::forward<F>(f));
#endif
  }

  /// Runs the lambda of the pass with the GIL released.
  template <class F, class B, class FB>
  void run(F&& forward, B&& backward, FB&& forward_backward) const {
    py::gil_scoped_release nogil;
    switch (pass) {
      case Pass::Forward: forward(); break;
      case Pass::Backward: backward(); break;
      case Pass::ForwardBackward: forward_backward(); break;
    }
  }

  /// Fails with "fn: name has dtype X, which fn does not support[ why]".
  [[noreturn]] void unsupported_dtype(const Array& a, std::string_view why = "") const;
};

/// The pybind11 names of the arguments every entry takes first (needs pybind11::literals).
/// Runs the three passes of loss NAME on input X and target Y with options O, inside a
/// Call `c` of function `fn`, for the T in scope.
#define LOSSKIT_PY_RUN(NAME, X, Y, O)                                                                     \
  c.run([&] { NAME(X, Y, c.out.out<T>(fn), O); },                                                        \
        [&] { NAME##_backward(c.grad_output.in<T>(fn), X, Y, c.grads[0].out<T>(fn), O); },               \
        [&] { NAME##_forward_backward(X, Y, c.out.out<T>(fn), c.grads[0].out<T>(fn), O); })

/// The same for a loss that also gives the target's gradient (into grads[1] when given); the
/// gradient buffers are converted in order (a bad grads[0] is reported first).
#define LOSSKIT_PY_RUN_WITH_TARGET_GRAD(NAME, X, Y, O)                                                    \
  c.run([&] { NAME(X, Y, c.out.out<T>(fn), O); },                                                        \
        [&] {                                                                                            \
          const TensorView<T> gx_ = c.grads[0].out<T>(fn), gy_ = c.grads[1].out<T>(fn);                  \
          NAME##_backward(c.grad_output.in<T>(fn), X, Y, gx_, gy_, O);                                   \
        },                                                                                               \
        [&] {                                                                                            \
          const TensorView<T> out_ = c.out.out<T>(fn);                                                   \
          const TensorView<T> gx_ = c.grads[0].out<T>(fn), gy_ = c.grads[1].out<T>(fn);                  \
          NAME##_forward_backward(X, Y, out_, gx_, gy_, O);                                              \
        })

#define LOSSKIT_PY_CALL_ARGS \
  "pass"_a, "inputs"_a, "out"_a = py::none(), "grad_output"_a = py::none(), "grads"_a = py::tuple()

/// Maps losskit::Error to ValueError / IndexError / RuntimeError by its ErrorKind.
void register_errors(py::module_& m);

}  // namespace losskit::python
