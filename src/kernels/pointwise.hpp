// Vectorized pointwise losses: what the scalar side sees of the per-target pointwise blocks.
//
// The shared pointwise driver (core/elementwise.hpp) hands contiguous float32 blocks to a loss's
// vector kernel when the loss's Op names one (`static constexpr kernels::PwBlockFn kSimd`);
// everything else (other dtypes, strided operands) runs the Op's scalar code. To vectorize a
// pointwise loss, in the loss's own file (see regression/mse_loss.cpp):
//   1. compile the file per SIMD target (HWY_TARGET_INCLUDE + hwy/foreach_target.h) and include
//      kernels/pointwise-inl.h;
//   2. write the vector Op (Loss, Dx, Dy on float32 vectors) beside the scalar Op, in
//      HWY_NAMESPACE, and a block function calling PointwiseBlock(vector_op, args, begin, end);
//   3. export it with LOSSKIT_POINTWISE_KERNEL(Block, "loss_name") under HWY_ONCE, and set the
//      scalar Op's `kSimd` to `&kernels::Block_dispatch` (plus `simd_params()` for parameters).
// No central list: the kernel registers itself by name (pointwise_kernel(), for tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kernels/stream.hpp"  // kStreamBytes, zero_bytes

namespace losskit::kernels {

/// Scalar parameters of a vector kernel (e.g. a Huber delta); the loss's file says what a, b and c
/// mean for its kernel (its scalar Op's simd_params() fills them).
struct PwParams {
  float a = 0, b = 0, c = 0;
};

/// One block [begin, end) of a pointwise pass over flat contiguous float32 arrays.
struct PwArgs {
  const float* x = nullptr;       ///< input
  const float* y = nullptr;       ///< target
  const float* w = nullptr;       ///< optional per-element weight
  float* out = nullptr;           ///< per-element losses (Reduction::None), else the sum is returned
  bool forward = false;           ///< compute losses
  float* gi = nullptr;            ///< d/d input (null: no backward)
  float* gt = nullptr;            ///< optional d/d target
  float* ga = nullptr;            ///< optional d/d aux (gaussian_nll's variance)
  const float* gvec = nullptr;    ///< per-element upstream gradient, else `scale`
  float scale = 1.0f;             ///< upstream gradient times the reduction factor
  bool stream = false;            ///< non-temporal stores for the outputs (see kStreamBytes)
  /// The aux operand of kinds that take one (pos_weight, a variance): aux[i] for element i when
  /// aux_period == 0, else aux[i % aux_period] (a broadcast over leading dims).
  const float* aux = nullptr;
  std::int64_t aux_period = 0;
};

/// A loss's vector kernel on one block [begin, end): writes the block's outputs; returns its loss
/// sum (float64 lanes, fixed order) when forward && !out, else 0. Dynamically dispatched to the
/// best SIMD target compiled into the loss's file.
using PwBlockFn = double (*)(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end);

/// The vector kernel a loss file registered under `name` (LOSSKIT_POINTWISE_KERNEL), for tests
/// and harnesses that drive kernels directly; nullptr when there is none.
PwBlockFn pointwise_kernel(std::string_view name);

/// Registers a kernel under a name (LOSSKIT_POINTWISE_KERNEL does it at static initialization).
bool register_pointwise_kernel(std::string_view name, PwBlockFn fn);

/// y[i] = log1p(x[i]) for x[i] in [0, 1] with the kernels' Log1pUnit (kernels/simd-inl.h:
/// under 1.4 float32 ULP with FMA). For tests.
void log1p_unit(const float* x, float* y, std::size_t n);

/// The SIMD target the pointwise helpers (log1p_unit) dispatch to now.
const char* pointwise_target_name();

}  // namespace losskit::kernels

/// In a loss file compiled per SIMD target, under HWY_ONCE and inside namespace
/// losskit::kernels: exports the per-target block function FN (double FN(const PwParams&, const
/// PwArgs&, int64 begin, int64 end), defined in HWY_NAMESPACE), defines `FN_dispatch` (a
/// PwBlockFn that runs the best target) and registers it under NAME.
#define LOSSKIT_POINTWISE_KERNEL(FN, NAME)                                                         \
  HWY_EXPORT(FN);                                                                                 \
  [[maybe_unused]] static double FN##_dispatch(const PwParams& p, const PwArgs& a, std::int64_t b, \
                                               std::int64_t e) {                                  \
    return HWY_DYNAMIC_DISPATCH(FN)(p, a, b, e);                                                  \
  }                                                                                               \
  [[maybe_unused]] static const bool FN##_registered = register_pointwise_kernel(NAME, &FN##_dispatch);
