// losskit/error.hpp: the one exception type losskit throws for bad input.
#pragma once

#include <stdexcept>
#include <string>

namespace losskit {

/// What kind of mistake an Error reports. The Python bindings map these to the exceptions
/// PyTorch raises for the same mistake: Value -> ValueError, Index -> IndexError,
/// Shape/Runtime -> RuntimeError.
enum class ErrorKind {
  Value,    ///< a bad option or value (negative smoothing, probability outside [0,1], ...)
  Index,    ///< a class index outside its range
  Shape,    ///< shapes or sizes that do not fit together
  Runtime,  ///< anything else (overlapping buffers, unsupported layout, ...)
};

/// Thrown for every invalid argument. The message names the function, the argument and the
/// bad value, e.g. "cross_entropy: target[3] = 7 is outside [0, 5) and is not ignore_index (-100)".
/// Nothing has been written to any output buffer when it is thrown.
class Error : public std::invalid_argument {
 public:
  Error(ErrorKind kind, const std::string& message) : std::invalid_argument(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace losskit
