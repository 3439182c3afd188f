// Scalar logistic helpers shared by the sigmoid-based losses (bce_with_logits, soft margins,
// sigmoid focal): softplus and sigmoid without overflow, and a product that treats 0 * inf as 0.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/pointwise.hpp"

namespace losskit::kernels {

/// log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|)). sp(+inf) = inf, sp(-inf) = 0.
template <class V>
inline V softplus(V z) {
  return std::max(z, V(0)) + std::log1p(std::exp(-std::fabs(z)));
}

/// 1 / (1 + exp(-z)) without overflow; exact 0 and 1 at -inf and +inf.
template <class V>
inline V sigmoid(V z) {
  if (z >= V(0)) return V(1) / (V(1) + std::exp(-z));
  const V e = std::exp(z);
  return e / (V(1) + e);
}

/// a * b, taken as 0 when a == 0 (a coefficient that switches a possibly infinite term off).
template <class V>
inline V coef_mul(V a, V b) {
  return a == V(0) ? V(0) : a * b;
}

/// bce_with_logits' vector kernel (no pos_weight) on one block of contiguous float32 operands:
/// binary_cross_entropy.cpp's, also run by multilabel_soft_margin_loss on its rows.
double bce_with_logits_block(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end);

}  // namespace losskit::kernels
