// Softmax cross-entropy with class-id targets over spatial inputs (N, C, d1, ..., dk), float32:
// the plain interface of kernels/softmax_spatial.cpp (used by src/classification/cross_entropy.cpp
// when the canonical [N, C, D] layout has D > 1 and unit stride along D).
//
// Vector lanes run along the positions d of one batch item: class c of positions d .. d+Lanes-1
// is one contiguous vector, so max, exps and sums over classes are lane-wise (no horizontal
// operations). Row semantics and the fallback rule are those of kernels/softmax.hpp.
#pragma once

#include <cstdint>

#include "kernels/softmax.hpp"

namespace losskit::kernels {

/// One call's arguments. Row i of the flattened N * D rows is (n, d) = (i / D, i % D).
struct CeIdsSpatial {
  const float* x = nullptr;           ///< logit (n, c, d) at x[n * sxN + c * sxC + d]
  std::int64_t sxN = 0, sxC = 0;
  std::int64_t C = 0, D = 0;
  const std::int64_t* y = nullptr;    ///< target (n, d) at y[n * syN + d * syD]
  std::int64_t syN = 0, syD = 0;
  std::int64_t ignore_index = -100;
  const float* w = nullptr;           ///< class weights, null for none
  CeConsts k{};
  float* g = nullptr;                 ///< gradient (n, c, d) at g[n * sgN + c * sgC + d] (null: none); may equal x
  std::int64_t sgN = 0, sgC = 0;
  double gs = 1.0;                    ///< upstream gradient scale (times 1/denominator)
  const float* gvec = nullptr;        ///< per-position upstream gradient (Reduction::None backward)
  std::int64_t sgvN = 0, sgvD = 0;
  float* out = nullptr;               ///< per-position loss (Reduction::None), null: summed only
  std::int64_t soN = 0, soD = 0;
  /// Write the gradient with non-temporal stores (gradients much larger than the caches: no
  /// read of each line before it is written). Ignored when g == x (in-place).
  bool stream = false;
};

/// Rows [begin, end): writes gradients / per-position losses and returns the sum of the row
/// losses (ignored rows count 0), added in row order within blocks of Lanes positions, the
/// blocks in order: the result depends only on [begin, end), never on the thread count. SIMD,
/// dynamically dispatched.
double ce_ids_spatial(const CeIdsSpatial& a, std::int64_t begin, std::int64_t end);

}  // namespace losskit::kernels
