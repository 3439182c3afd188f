// losskit/reduction.hpp: how per-element losses become the returned loss.
#pragma once

#include <string_view>

namespace losskit {

/// The reductions of PyTorch's losses.
///   None:      per-element losses, shaped as the loss defines (usually the target's shape).
///   Mean:      sum / count, where each loss documents its count (weighted losses divide by the
///              summed weights of the kept elements, as PyTorch does).
///   Sum:       the plain sum.
///   BatchMean: sum / input.size(0) (kl_div only, as in PyTorch).
enum class Reduction { None, Mean, Sum, BatchMean };

/// "none", "mean", "sum", "batchmean".
std::string_view to_string(Reduction r);
/// Parses PyTorch's reduction names; throws losskit::Error naming `fn` on anything else.
Reduction reduction_from_string(std::string_view name, std::string_view fn = "reduction");

}  // namespace losskit
