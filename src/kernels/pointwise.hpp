// Vectorized pointwise losses: the plain interface of kernels/pointwise.cpp.
//
// The shared pointwise driver (core/elementwise.hpp) hands contiguous float32 blocks to
// pointwise_block when the loss's Op names a SIMD kind (`static constexpr kernels::PwKind
// kSimd`); everything else (other dtypes, strided operands) runs the Op's scalar code. To
// vectorize a new pointwise loss: add a kind here, its vector formulas (value, d/dx, d/dy) in
// kernels/pointwise.cpp, and `kSimd` (plus `simd_params()` if it has parameters) to its Op.
#pragma once

#include <cstddef>
#include <cstdint>

namespace losskit::kernels {

enum class PwKind : int {
  KLDiv,           ///< p (log p - x); 0 where p == 0, NaN where p < 0
  KLDivLogTarget,  ///< exp(t) (t - x)
  MSE,             ///< (x - y)^2
  L1,              ///< |x - y|, gradient sign(x - y) with sign(0) = 0
  Huber,           ///< params a = delta
  SmoothL1,        ///< params a = beta, b = 0.5 beta, c = 1 / beta (beta > 0)
  BCELogits,       ///< y sp(-x) + (1 - y) sp(x), sp = softplus; no pos_weight
  BCELogitsPos,    ///< p y sp(-x) + (1 - y) sp(x), p = pos_weight from PwArgs::aux
  BCE,             ///< -(y log x + (1 - y) log(1 - x)), logs clamped at -100; x in [0, 1]
  SoftMargin,      ///< sp(-y x) (0 for y == 0 inside sp), soft_margin_loss
  PoissonLog,      ///< exp(x) - y x, poisson_nll_loss with log_input (b = 1: full, Stirling's term)
  PoissonRate,     ///< x - y log(x + a), poisson_nll_loss without log_input (a = eps, b = 1: full)
  GaussianNLL,     ///< 0.5 (log v + (x - y)^2 / v) + b, v = max(aux, a) (a = eps, b = the full term)
  LogCosh,         ///< |d| + log1p(exp(-2 |d|)) - log 2, d = x - y
  MSLE,            ///< (log1p(max(x, a)) - log1p(max(y, a)))^2 (a = eps)
  MAPE,            ///< 100 |y - x| / max(|y|, a) (a = eps)
  Pinball,         ///< quantile_loss: e = y - x, e >= 0 ? a e : (a - 1) e (a = tau)
  SigmoidFocal,    ///< a_t (1 - p_t)^b bce_with_logits (a = alpha, b = gamma, c = 1: no alpha)
  MarginRanking,   ///< clamp_min(-y (x - x2) + a, 0), x2 the aux operand, d/d aux = -d/dx (a = margin)
};

/// Scalar parameters of a kind (e.g. a Huber delta), unused by the KL kinds.
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
  bool stream = false;            ///< non-temporal stores for the outputs (see kStreamOutBytes)
  /// The aux operand of kinds that take one (pos_weight, a variance): aux[i] for element i when
  /// aux_period == 0, else aux[i % aux_period] (a broadcast over leading dims).
  const float* aux = nullptr;
  std::int64_t aux_period = 0;
};

/// Writes the block's outputs; returns its loss sum (float64 lanes, fixed order) when
/// forward && !out, else 0. Dynamically dispatched to the best SIMD target.
double pointwise_block(PwKind kind, const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end);

/// Sets `bytes` bytes at p to zero; with `stream`, the aligned middle goes out with
/// non-temporal stores (for buffers much larger than the caches). Dispatched like the above.
void zero_bytes(void* p, std::int64_t bytes, bool stream);

/// y[i] = log1p(x[i]) for x[i] in [0, 1] with the kernels' Log1pUnit (kernels/simd-inl.h:
/// under 1.4 float32 ULP with FMA). For tests.
void log1p_unit(const float* x, float* y, std::size_t n);

/// The SIMD target this module dispatches to now. It can differ from simd_target_name(): sanitizer
/// builds compile pointwise.cpp for fewer targets (see the top of pointwise.cpp).
const char* pointwise_target_name();

/// Buffers at least this large (bytes) are written with non-temporal stores.
inline constexpr std::int64_t kStreamOutBytes = std::int64_t{32} << 20;

}  // namespace losskit::kernels
