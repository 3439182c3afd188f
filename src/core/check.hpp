// Validation shared by every loss: error messages, shape checks, buffer overlap, class targets.
// Every check runs before a kernel writes anything, so a thrown Error leaves outputs untouched.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include "losskit/error.hpp"
#include "losskit/tensor.hpp"

namespace losskit::detail {

/// Writes one part of a message; floating-point values in their shortest round-trip form
/// (0.1 prints as "0.1", not "0.10000000000000001").
template <class A>
void put_part(std::ostringstream& os, const A& a) {
  if constexpr (std::is_floating_point_v<A>) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, a);
    os.write(buf, res.ptr - buf);
  } else {
    os << a;
  }
}

/// Throws Error(kind, "fn: " + parts...).
template <class... A>
[[noreturn]] void fail(ErrorKind kind, std::string_view fn, const A&... parts) {
  std::ostringstream os;
  os << fn << ": ";
  (put_part(os, parts), ...);
  throw Error(kind, os.str());
}

/// A view's extent as a range of addresses, for overlap checks.
struct Extent {
  const void* lo = nullptr;
  const void* hi = nullptr;  // one past the last byte
};
template <class T>
Extent extent_of(const TensorView<T>& v) {
  if (v.data() == nullptr || v.numel() == 0) return {};
  std::int64_t last = 0;
  for (int k = 0; k < v.ndim(); ++k) last += (v.size(k) - 1) * v.stride(k);
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  return {p, p + (last + 1) * static_cast<std::int64_t>(sizeof(T))};
}
inline bool overlaps(Extent a, Extent b) {
  if (a.lo == nullptr || b.lo == nullptr) return false;
  return a.lo < b.hi && b.lo < a.hi;
}

/// Fails unless `out` is laid over memory that none of `ins` touches.
template <class TO, class... TI>
void check_no_overlap(std::string_view fn, std::string_view out_name, const TensorView<TO>& out,
                      const std::pair<std::string_view, TensorView<TI>>&... ins) {
  const Extent eo = extent_of(out);
  auto one = [&](const auto& in) {
    if (overlaps(eo, extent_of(in.second)))
      fail(ErrorKind::Runtime, fn, out_name, " overlaps ", in.first,
           " in memory; outputs must not alias inputs");
  };
  (one(ins), ...);
}
template <class TI>
std::pair<std::string_view, TensorView<const TI>> named(std::string_view n, const TensorView<TI>& v) {
  return {n, TensorView<const TI>(v.data(), v.shape(), v.strides())};
}

/// Fails unless a view was given a data pointer (or is empty).
template <class T>
void check_data(std::string_view fn, std::string_view name, const TensorView<T>& v) {
  if (v.data() == nullptr && v.numel() != 0)
    fail(ErrorKind::Value, fn, name, " has shape ", v.shape().str(), " but a null data pointer");
  for (int k = 0; k < v.ndim(); ++k) {
    if (v.size(k) < 0) fail(ErrorKind::Shape, fn, name, " has a negative extent in shape ", v.shape().str());
    if (v.stride(k) < 0)
      fail(ErrorKind::Runtime, fn, name, " has a negative stride in ", v.strides().str());
  }
}

/// Fails unless `shape` equals `expected`.
void check_shape(std::string_view fn, std::string_view name, const Shape& shape, const Shape& expected,
                 std::string_view why = "");

/// Fails unless two shapes are equal, naming both.
void check_same_shape(std::string_view fn, std::string_view a_name, const Shape& a,
                      std::string_view b_name, const Shape& b);

/// Fails unless lo <= v <= hi (and v is not NaN).
void check_range(std::string_view fn, std::string_view name, double v, double lo, double hi);

/// Fails unless v >= lo (and v is not NaN).
void check_at_least(std::string_view fn, std::string_view name, double v, double lo);

/// "2, 0, 1": the multi-index of flat row-major position `pos` in `shape`, for messages.
std::string position_of(const Shape& shape, std::int64_t pos);

/// The shape with dim `d` removed.
Shape drop_dim(const Shape& s, int d);

/// The shape a scalar-reduced loss is written into: 0-d.
inline Shape scalar_shape() { return Shape{}; }

}  // namespace losskit::detail
