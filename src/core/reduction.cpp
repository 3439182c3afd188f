#include "losskit/reduction.hpp"

#include "core/check.hpp"

namespace losskit {

std::string_view to_string(Reduction r) {
  switch (r) {
    case Reduction::None: return "none";
    case Reduction::Mean: return "mean";
    case Reduction::Sum: return "sum";
    case Reduction::BatchMean: return "batchmean";
  }
  return "?";
}

Reduction reduction_from_string(std::string_view name, std::string_view fn) {
  if (name == "none") return Reduction::None;
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  if (name == "batchmean") return Reduction::BatchMean;
  detail::fail(ErrorKind::Value, fn, "reduction = '", name, "' is not one of 'none', 'mean', 'sum', 'batchmean'");
}

}  // namespace losskit
