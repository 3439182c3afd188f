// SIMD dice loss passes: the plain interface of kernels/dice.cpp (used by
// src/segmentation/dice_loss.cpp for float32 inputs).
//
// The data is one batch item's block of positions in the canonical [C, D] layout: channel c of
// position j at x[c * x_sC + j], positions contiguous. Vector lanes run along the positions, so
// the softmax over channels is elementwise across the C channel vectors (no horizontal ops).
//
// The block is processed in chunks of dice_chunk(C) positions (chunk boundaries relative to the
// block's start; callers start blocks at multiples of the chunk so both passes see the same
// chunks). A chunk holding any input or dense-target value that is not finite or has magnitude
// above kDiceBig is handed to the caller's scalar callback instead (NaN / inf semantics and
// float32 overflow are then exactly the scalar reference's).
#pragma once

#include <cstdint>

namespace losskit::kernels {

enum class DiceAct : int { None, Sigmoid, Softmax };
/// How the three sums are formed (see dice_loss.cpp): Product {p t, p, t}; Norm1 {|p - t|, |p|,
/// |t|}; Norm2 {(p - t)^2, p^2, t^2}.
enum class DiceForm : int { Product, Norm1, Norm2 };

/// Positions per chunk (a multiple of 64, so of any vector width compiled for).
inline std::int64_t dice_chunk(std::int64_t C) { return C <= 64 ? 128 : 64; }

/// Values (inputs, dense targets, gradient coefficients) above this magnitude take the scalar
/// path: with them bounded, no float32 intermediate can overflow where the float64 formula
/// does not.
inline constexpr double kDiceBig = 1e15;

/// One block of one batch item.
struct DiceArgs {
  DiceAct act = DiceAct::None;
  DiceForm form = DiceForm::Product;
  std::int64_t C = 1, c0 = 0;  ///< channels; the sums / gradient coefficients start at c0
  std::int64_t n = 0;          ///< positions in the block
  const float* x = nullptr;    ///< input at (c, j): x[c * x_sC + j]
  std::int64_t x_sC = 0;
  const float* t = nullptr;    ///< dense target at (c, j): t[c * t_sC + j]; null: class ids
  std::int64_t t_sC = 0;
  /// Class ids (when t is null): id of position j at ids[j * ids_s] (int64) or fids[j * ids_s]
  /// (float, integral values); t_c = [id == c + id_off] (id_off 1 for a binary single channel).
  const std::int64_t* ids = nullptr;
  const float* fids = nullptr;
  std::int64_t ids_s = 0, id_off = 0;
  /// Pass 2: gradient at (c, j): g[c * g_sC + j]; dL/dp_c = ca[c] tp'_c + cb[c] P'_c with
  /// C entries each (those below c0 unused).
  float* g = nullptr;
  std::int64_t g_sC = 0;
  const float* ca = nullptr;
  const float* cb = nullptr;
  /// Scalar fallback for a chunk [j0, j0 + len) of the block: pass 1 adds its 3 (C - c0) sums
  /// into `sums`; pass 2 (sums null) writes its gradient.
  void (*scalar)(void* ctx, std::int64_t j0, std::int64_t len, double* sums) = nullptr;
  void* ctx = nullptr;
};

/// Pass 1: adds the block's per-channel sums {s0, s1, s2} for c in [c0, C) into sums[3 (c - c0) + k].
/// float32 lanes summed over one chunk, then promoted and accumulated in float64 lanes; a fixed
/// order that depends only on the shape. Dynamically dispatched.
void dice_sums(const DiceArgs& a, double* sums);

/// Pass 2: recomputes the activation and writes the gradient w.r.t. the input.
void dice_grad(const DiceArgs& a);

}  // namespace losskit::kernels
