// losskit/embedding.hpp: margin losses on scores, pairs and triplets of embeddings.
//
// Same four calls as every loss (see classification.hpp), for float and double. Losses of two
// or three inputs return a gradient for each; any gradient view may be empty
// (TensorView<T>{}) when it is not wanted. Targets are ±1 labels stored in the input's dtype.
// `out` is 0-d for Mean/Sum and loss-shaped for None; `grad_output` is 0-d for Mean/Sum and
// loss-shaped for None. Mean divides by the number of losses (NaN when there are none).
#pragma once

#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit {

// ---------------------------------------------------------------------------------------------
// hinge_embedding_loss (torch.nn.functional.hinge_embedding_loss).
//   input: distances or scores (any shape); target: the same shape, labels 1 or -1.
//   l = [y != 1] max(0, margin - x) + [y != -1] x   (so l = x for y = 1, the hinge for y = -1;
//   any other label gets both terms, as in PyTorch)
//   dl/dx = -[y != 1][margin - x >= 0] + [y != -1]  (the tie margin == x passes the gradient,
//   as PyTorch's clamp_min). The target has no gradient.
// ---------------------------------------------------------------------------------------------
struct HingeEmbeddingLossOptions {
  double margin = 1.0;
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

void hinge_embedding_loss(ConstView<float> input, ConstView<float> target, TensorView<float> out,
                          const HingeEmbeddingLossOptions& opts = {});
void hinge_embedding_loss(ConstView<double> input, ConstView<double> target, TensorView<double> out,
                          const HingeEmbeddingLossOptions& opts = {});
Tensor<float> hinge_embedding_loss(ConstView<float> input, ConstView<float> target,
                                   const HingeEmbeddingLossOptions& opts = {});
Tensor<double> hinge_embedding_loss(ConstView<double> input, ConstView<double> target,
                                    const HingeEmbeddingLossOptions& opts = {});
void hinge_embedding_loss_backward(ConstView<float> grad_output, ConstView<float> input, ConstView<float> target,
                                   TensorView<float> grad_input, const HingeEmbeddingLossOptions& opts = {});
void hinge_embedding_loss_backward(ConstView<double> grad_output, ConstView<double> input,
                                   ConstView<double> target, TensorView<double> grad_input,
                                   const HingeEmbeddingLossOptions& opts = {});
void hinge_embedding_loss_forward_backward(ConstView<float> input, ConstView<float> target, TensorView<float> out,
                                           TensorView<float> grad_input, const HingeEmbeddingLossOptions& opts = {});
void hinge_embedding_loss_forward_backward(ConstView<double> input, ConstView<double> target,
                                           TensorView<double> out, TensorView<double> grad_input,
                                           const HingeEmbeddingLossOptions& opts = {});

// Declares the four calls of a loss of two inputs and a ±1 target.
#define LOSSKIT_DECLARE_PAIR_TARGET_LOSS(name, OptsT, T)                                                      \
  void name(ConstView<T> input1, ConstView<T> input2, ConstView<T> target, TensorView<T> out,               \
            const OptsT& opts = {});                                                                         \
  Tensor<T> name(ConstView<T> input1, ConstView<T> input2, ConstView<T> target, const OptsT& opts = {});    \
  void name##_backward(ConstView<T> grad_output, ConstView<T> input1, ConstView<T> input2,                   \
                       ConstView<T> target, TensorView<T> grad_input1, TensorView<T> grad_input2,            \
                       const OptsT& opts = {});                                                              \
  void name##_forward_backward(ConstView<T> input1, ConstView<T> input2, ConstView<T> target,               \
                               TensorView<T> out, TensorView<T> grad_input1, TensorView<T> grad_input2,      \
                               const OptsT& opts = {});

// ---------------------------------------------------------------------------------------------
// margin_ranking_loss (torch.nn.functional.margin_ranking_loss).
//   input1, input2, target: the same shape (any); target 1 when input1 should rank higher, -1
//   when input2 should.  l = max(0, -y (x1 - x2) + margin)
//   dl/dx1 = -y [-y (x1 - x2) + margin >= 0],  dl/dx2 = -dl/dx1  (the tie passes, as PyTorch).
// ---------------------------------------------------------------------------------------------
struct MarginRankingLossOptions {
  double margin = 0.0;
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};
LOSSKIT_DECLARE_PAIR_TARGET_LOSS(margin_ranking_loss, MarginRankingLossOptions, float)
LOSSKIT_DECLARE_PAIR_TARGET_LOSS(margin_ranking_loss, MarginRankingLossOptions, double)
// With the target's gradient too (PyTorch differentiates it): d l / d y = -(x1 - x2) where
// -y (x1 - x2) + margin >= 0, else 0.
#define LOSSKIT_DECLARE_MARGIN_RANKING_TARGET_GRAD(T)                                                            \
  void margin_ranking_loss_backward(ConstView<T> grad_output, ConstView<T> input1, ConstView<T> input2,         \
                                    ConstView<T> target, TensorView<T> grad_input1, TensorView<T> grad_input2,  \
                                    TensorView<T> grad_target, const MarginRankingLossOptions& opts = {});      \
  void margin_ranking_loss_forward_backward(ConstView<T> input1, ConstView<T> input2, ConstView<T> target,      \
                                            TensorView<T> out, TensorView<T> grad_input1,                       \
                                            TensorView<T> grad_input2, TensorView<T> grad_target,               \
                                            const MarginRankingLossOptions& opts = {});
LOSSKIT_DECLARE_MARGIN_RANKING_TARGET_GRAD(float)
LOSSKIT_DECLARE_MARGIN_RANKING_TARGET_GRAD(double)
#undef LOSSKIT_DECLARE_MARGIN_RANKING_TARGET_GRAD

// ---------------------------------------------------------------------------------------------
// cosine_embedding_loss (torch.nn.functional.cosine_embedding_loss).
//   input1, input2: (N, D) with target (N), or (D) with a 0-d target; labels 1 or -1.
//   cos = <a, b> / sqrt((|a|^2 + 1e-12)(|b|^2 + 1e-12))   (PyTorch's EPSILON under the root)
//   l = 1 - cos for y = 1; max(0, cos - margin) for y = -1; 0 for any other label.
//   dcos/da = b / sqrt(..) - cos a / (|a|^2 + 1e-12), symmetrically for b.
// ---------------------------------------------------------------------------------------------
struct CosineEmbeddingLossOptions {
  double margin = 0.0;  ///< in [-1, 1] is meaningful (PyTorch does not check)
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};
LOSSKIT_DECLARE_PAIR_TARGET_LOSS(cosine_embedding_loss, CosineEmbeddingLossOptions, float)
LOSSKIT_DECLARE_PAIR_TARGET_LOSS(cosine_embedding_loss, CosineEmbeddingLossOptions, double)
#undef LOSSKIT_DECLARE_PAIR_TARGET_LOSS

// ---------------------------------------------------------------------------------------------
// Triplet losses. anchor, positive, negative: the same shape (..., D); the distance runs over
// the last dim and the losses have the shape without it ((N) for (N, D), 0-d for (D)).
//   l = max(0, margin + d(a, p) - d(a, n)); with swap, d(a, n) is replaced by
//   min(d(a, n), d(p, n)) (ties split the gradient evenly, as PyTorch's minimum).
//   margin > 0 for both losses (a Value error otherwise), as PyTorch 2.x's functionals.
//
// triplet_margin_loss (torch.nn.functional.triplet_margin_loss): d(u, v) = |u - v + eps|_p,
// eps added to every coordinate of the difference (PyTorch's pairwise_distance). p >= 0 (0 counts
// non-zeros) or p == inf (the max norm; ties share the gradient). The gradient of a zero-norm difference is 0.
// ---------------------------------------------------------------------------------------------
struct TripletMarginLossOptions {
  double margin = 1.0;
  double p = 2.0;     ///< the norm's degree, >= 0 or infinity (0 counts non-zeros)
  double eps = 1e-6;  ///< added to the difference vector
  bool swap = false;  ///< use min(d(a, n), d(p, n)) (the distance swap of Balntas et al. 2016)
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
};

// triplet_margin_with_distance_loss (torch.nn.functional.triplet_margin_with_distance_loss)
// with a built-in distance:
//   Pairwise: |u - v + eps|_p as above (PyTorch's default, pairwise_distance with p = 2,
//             eps = 1e-6);
//   Cosine:   1 - cosine_similarity(u, v) over the last dim with PyTorch's eps (1e-8):
//             <u, v> / (max(|u|, eps) max(|v|, eps)); the clamp passes gradients straight
//             through (d max(|u|, eps) / du = u / |u|), as PyTorch 2.x.
// margin > 0 (a Value error otherwise), as PyTorch 2.x's functional. Any Python callable distance is offered by the Python
// package (losskit.torch), which differentiates it with torch autograd.
enum class TripletDistance { Pairwise, Cosine };
struct TripletMarginWithDistanceLossOptions {
  TripletDistance distance = TripletDistance::Pairwise;
  double margin = 1.0;
  bool swap = false;
  Reduction reduction = Reduction::Mean;  ///< None, Mean or Sum
  double p = 2.0;            ///< Pairwise: the norm's degree
  double eps = 1e-6;         ///< Pairwise: added to the difference vector
  double cosine_eps = 1e-8;  ///< Cosine: the lower clamp of each norm
};

#define LOSSKIT_DECLARE_TRIPLET_LOSS(name, OptsT, T)                                                          \
  void name(ConstView<T> anchor, ConstView<T> positive, ConstView<T> negative, TensorView<T> out,           \
            const OptsT& opts = {});                                                                         \
  Tensor<T> name(ConstView<T> anchor, ConstView<T> positive, ConstView<T> negative, const OptsT& opts = {}); \
  void name##_backward(ConstView<T> grad_output, ConstView<T> anchor, ConstView<T> positive,                 \
                       ConstView<T> negative, TensorView<T> grad_anchor, TensorView<T> grad_positive,        \
                       TensorView<T> grad_negative, const OptsT& opts = {});                                 \
  void name##_forward_backward(ConstView<T> anchor, ConstView<T> positive, ConstView<T> negative,            \
                               TensorView<T> out, TensorView<T> grad_anchor, TensorView<T> grad_positive,    \
                               TensorView<T> grad_negative, const OptsT& opts = {});
LOSSKIT_DECLARE_TRIPLET_LOSS(triplet_margin_loss, TripletMarginLossOptions, float)
LOSSKIT_DECLARE_TRIPLET_LOSS(triplet_margin_loss, TripletMarginLossOptions, double)
LOSSKIT_DECLARE_TRIPLET_LOSS(triplet_margin_with_distance_loss, TripletMarginWithDistanceLossOptions, float)
LOSSKIT_DECLARE_TRIPLET_LOSS(triplet_margin_with_distance_loss, TripletMarginWithDistanceLossOptions, double)
#undef LOSSKIT_DECLARE_TRIPLET_LOSS

}  // namespace losskit
