// Non-temporal output: when the kernels write their outputs with streaming stores, and zeroing
// large buffers the same way. One threshold for every kernel family.
#pragma once

#include <cstdint>

namespace losskit::kernels {

/// Outputs (gradients, per-element losses) at least this large (bytes) are written with
/// non-temporal stores: they are much larger than the caches, and streaming saves reading each
/// line before writing it.
inline constexpr std::int64_t kStreamBytes = std::int64_t{32} << 20;

/// Sets `bytes` bytes at p to zero; with `stream`, the aligned middle goes out with
/// non-temporal stores. Dynamically dispatched to the best SIMD target (kernels/pointwise.cpp).
void zero_bytes(void* p, std::int64_t bytes, bool stream);

}  // namespace losskit::kernels
