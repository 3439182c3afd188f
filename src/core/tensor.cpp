#include "losskit/tensor.hpp"

#include <sstream>

#include "core/check.hpp"

namespace losskit {

Shape::Shape(std::initializer_list<std::int64_t> dims) : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::int64_t> dims) {
  if (dims.size() > static_cast<std::size_t>(kMaxDims))
    detail::fail(ErrorKind::Shape, "Shape", "a tensor may have at most ", kMaxDims, " dims, got ", dims.size());
  for (std::int64_t d : dims) d_[static_cast<std::size_t>(ndim_++)] = d;
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int k = 0; k < ndim_; ++k) n *= d_[static_cast<std::size_t>(k)];
  return n;
}

void Shape::push_back(std::int64_t v) {
  if (ndim_ == kMaxDims) detail::fail(ErrorKind::Shape, "Shape", "a tensor may have at most ", kMaxDims, " dims");
  d_[static_cast<std::size_t>(ndim_++)] = v;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << '[';
  for (int k = 0; k < ndim_; ++k) os << (k ? ", " : "") << d_[static_cast<std::size_t>(k)];
  os << ']';
  return os.str();
}

Shape contiguous_strides(const Shape& shape) {
  Shape s = shape;
  std::int64_t acc = 1;
  for (int k = shape.ndim() - 1; k >= 0; --k) {
    s[k] = acc;
    acc *= std::max<std::int64_t>(shape[k], 1);
  }
  return s;
}

}  // namespace losskit
