// losskit/tensor.hpp: the non-owning strided view every loss takes, and a small owning tensor.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace losskit {

/// Most dimensions a view may have (PyTorch's losses use at most 2 + K spatial dims).
inline constexpr int kMaxDims = 8;

/// A shape or a set of strides: at most kMaxDims extents, counted in elements.
class Shape {
 public:
  constexpr Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::span<const std::int64_t> dims);

  int ndim() const { return ndim_; }
  std::int64_t operator[](int i) const { return d_[static_cast<std::size_t>(i)]; }
  std::int64_t& operator[](int i) { return d_[static_cast<std::size_t>(i)]; }
  /// Product of the extents (1 for a 0-d shape).
  std::int64_t numel() const;
  std::span<const std::int64_t> dims() const { return {d_.data(), static_cast<std::size_t>(ndim_)}; }
  void push_back(std::int64_t v);
  /// "[2, 3, 4]"
  std::string str() const;
  friend bool operator==(const Shape& a, const Shape& b) {
    return a.ndim_ == b.ndim_ && std::equal(a.d_.begin(), a.d_.begin() + a.ndim_, b.d_.begin());
  }

 private:
  std::array<std::int64_t, kMaxDims> d_{};
  int ndim_ = 0;
};

/// Row-major (C-contiguous) strides of a shape.
Shape contiguous_strides(const Shape& shape);

/// A non-owning view of `shape` elements of T at `data`, element i at data + sum(i_k * strides[k]).
/// Strides are in elements and may be any non-negative value (a transposed matrix or a
/// channels-last image is fine). Inputs are TensorView<const T>, outputs TensorView<T>.
template <class T>
class TensorView {
 public:
  using value_type = std::remove_const_t<T>;

  TensorView() = default;
  /// A C-contiguous view.
  TensorView(T* data, Shape shape) : data_(data), shape_(shape), strides_(contiguous_strides(shape)) {}
  TensorView(T* data, Shape shape, Shape strides) : data_(data), shape_(shape), strides_(strides) {}
  /// A contiguous 1-D view of a span.
  TensorView(std::span<T> s)  // NOLINT(google-explicit-constructor)
      : TensorView(s.data(), Shape{static_cast<std::int64_t>(s.size())}) {}
  /// TensorView<const T> from TensorView<T>.
  template <class U>
    requires(std::is_const_v<T> && std::is_same_v<std::remove_const_t<T>, U>)
  TensorView(const TensorView<U>& v)  // NOLINT(google-explicit-constructor)
      : data_(v.data()), shape_(v.shape()), strides_(v.strides()) {}

  T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int ndim() const { return shape_.ndim(); }
  std::int64_t size(int d) const { return shape_[d]; }
  std::int64_t stride(int d) const { return strides_[d]; }
  std::int64_t numel() const { return shape_.numel(); }
  bool empty() const { return numel() == 0; }
  /// True when the elements are laid out row-major without gaps.
  bool is_contiguous() const;
  /// True when no data pointer was given (an absent optional argument).
  bool is_null() const { return data_ == nullptr && shape_.ndim() == 0; }
  /// Element at a multi-index (no bounds check).
  T& at(std::initializer_list<std::int64_t> idx) const {
    std::int64_t off = 0;
    int k = 0;
    for (std::int64_t i : idx) off += i * strides_[k++];
    return data_[off];
  }
  /// Element at flat row-major position i (no bounds check).
  T& flat(std::int64_t i) const {
    std::int64_t off = 0;
    for (int k = shape_.ndim() - 1; k >= 0; --k) {
      const std::int64_t e = shape_[k];
      if (e == 0) return data_[0];
      off += (i % e) * strides_[k];
      i /= e;
    }
    return data_[off];
  }

 private:
  T* data_ = nullptr;
  Shape shape_{};
  Shape strides_{};
};

template <class T>
bool TensorView<T>::is_contiguous() const {
  std::int64_t expect = 1;
  for (int k = shape_.ndim() - 1; k >= 0; --k) {
    if (shape_[k] == 1) continue;
    if (strides_[k] != expect) return false;
    expect *= shape_[k];
  }
  return true;
}

template <class T>
using ConstView = TensorView<const T>;

/// A small owning, contiguous tensor: what the convenience overloads return.
template <class T>
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, T fill = T(0))
      : shape_(shape), data_(static_cast<std::size_t>(shape.numel()), fill) {}
  Tensor(Shape shape, std::vector<T> values) : shape_(shape), data_(std::move(values)) {}

  const Shape& shape() const { return shape_; }
  std::int64_t numel() const { return static_cast<std::int64_t>(data_.size()); }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  T& operator[](std::int64_t i) { return data_[static_cast<std::size_t>(i)]; }
  const T& operator[](std::int64_t i) const { return data_[static_cast<std::size_t>(i)]; }
  /// The single value of a 0-d (or one-element) tensor.
  T item() const { return data_.at(0); }
  TensorView<T> view() { return {data_.data(), shape_}; }
  TensorView<const T> view() const { return {data_.data(), shape_}; }
  operator TensorView<T>() { return view(); }              // NOLINT(google-explicit-constructor)
  operator TensorView<const T>() const { return view(); }  // NOLINT(google-explicit-constructor)
  std::vector<T>& values() { return data_; }
  const std::vector<T>& values() const { return data_; }

 private:
  Shape shape_{};
  std::vector<T> data_;
};

}  // namespace losskit
