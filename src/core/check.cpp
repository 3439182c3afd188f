#include "core/check.hpp"

#include <cmath>

namespace losskit::detail {

void check_shape(std::string_view fn, std::string_view name, const Shape& shape, const Shape& expected,
                 std::string_view why) {
  if (shape == expected) return;
  // A one-element output given as [1] (or [1, 1]) for a 0-d result is accepted.
  if (expected.ndim() == 0 && shape.numel() == 1) return;
  if (why.empty()) fail(ErrorKind::Shape, fn, name, " has shape ", shape.str(), ", expected ", expected.str());
  fail(ErrorKind::Shape, fn, name, " has shape ", shape.str(), ", expected ", expected.str(), " (", why, ")");
}

void check_same_shape(std::string_view fn, std::string_view a_name, const Shape& a, std::string_view b_name,
                      const Shape& b) {
  if (a == b) return;
  fail(ErrorKind::Shape, fn, a_name, " and ", b_name, " must have the same shape (got ", a_name, ": ", a.str(),
       ", ", b_name, ": ", b.str(), ")");
}

void check_range(std::string_view fn, std::string_view name, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi)) fail(ErrorKind::Value, fn, name, " = ", v, " is outside [", lo, ", ", hi, "]");
}

void check_at_least(std::string_view fn, std::string_view name, double v, double lo) {
  if (!(v >= lo)) fail(ErrorKind::Value, fn, name, " = ", v, " must be >= ", lo);
}

std::string position_of(const Shape& shape, std::int64_t pos) {
  std::int64_t sub[kMaxDims] = {};
  for (int k = shape.ndim() - 1; k >= 0; --k) {
    if (shape[k] > 0) {
      sub[k] = pos % shape[k];
      pos /= shape[k];
    }
  }
  std::ostringstream os;
  for (int k = 0; k < shape.ndim(); ++k) os << (k ? ", " : "") << sub[k];
  return os.str();
}

Shape drop_dim(const Shape& s, int d) {
  Shape out;
  for (int k = 0; k < s.ndim(); ++k)
    if (k != d) out.push_back(s[k]);
  return out;
}

}  // namespace losskit::detail
