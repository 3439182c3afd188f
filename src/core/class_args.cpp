#include "core/class_args.hpp"

#include <sstream>

namespace losskit::detail {

int class_dim_of(std::string_view fn, int ndim) {
  if (ndim == 0) fail(ErrorKind::Shape, fn, "input must have at least 1 dim (the classes), got a 0-d input");
  return ndim == 1 ? 0 : 1;
}

Shape loss_shape_of(const Shape& input_shape, int class_dim) { return drop_dim(input_shape, class_dim); }

void fail_class_target(std::string_view fn, const Shape& shape, std::int64_t pos, std::int64_t v, std::int64_t C,
                       std::int64_t ignore_index) {
  const std::string idx = position_of(shape, pos);
  if (ignore_index == kNoIgnore) fail(ErrorKind::Index, fn, "target[", idx, "] = ", v, " is outside [0, ", C, ")");
  fail(ErrorKind::Index, fn, "target[", idx, "] = ", v, " is outside [0, ", C, ") and is not ignore_index (",
       ignore_index, ")");
}

void check_reduction(std::string_view fn, Reduction r, bool allow_batchmean) {
  if (r == Reduction::BatchMean && !allow_batchmean)
    fail(ErrorKind::Value, fn, "reduction = 'batchmean' is only defined for kl_div; use 'none', 'mean' or 'sum'");
  if (r != Reduction::None && r != Reduction::Mean && r != Reduction::Sum && r != Reduction::BatchMean)
    fail(ErrorKind::Value, fn, "reduction = ", static_cast<int>(r), " is not a valid Reduction");
}

void check_weight(std::string_view fn, std::size_t weight_len, std::int64_t C, std::string_view name) {
  if (weight_len != 0 && static_cast<std::int64_t>(weight_len) != C)
    fail(ErrorKind::Shape, fn, name, " has ", weight_len, " entries but input has ", C, " classes");
}

}  // namespace losskit::detail
