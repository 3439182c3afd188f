// hinge_embedding_loss: a pointwise loss on the shared driver (core/elementwise.hpp).
#include "core/elementwise.hpp"
#include "core/math.hpp"
#include "losskit/embedding.hpp"

namespace losskit {
namespace {

using detail::Pass;

/// [y != 1] max(0, margin - x) + [y != -1] x.
template <class T>
struct HingeEmbeddingOp {
  T margin;
  template <class V>
  V loss(V x, V y) const {
    const V h = margin - x;
    return (y != V(1) ? detail::clamp_min0(h) : V(0)) + (y != V(-1) ? x : V(0));  // NaN kept, as clamp_min
  }
  template <class V>
  V dx(V x, V y) const {
    return (y != V(1) && margin - x >= V(0) ? V(-1) : V(0)) + (y != V(-1) ? V(1) : V(0));
  }
  template <class V>
  V dy(V, V) const { return V(0); }
};

template <class T>
void run(Pass pass, detail::PointwiseArgs<T> a, const HingeEmbeddingLossOptions& o) {
  detail::run_pointwise({.fn = "hinge_embedding_loss", .reduction = o.reduction}, pass, a,
                        HingeEmbeddingOp<T>{static_cast<T>(o.margin)});
}

}  // namespace

#define LOSSKIT_HINGE_EMBEDDING_API(T)                                                                      \
  void hinge_embedding_loss(ConstView<T> input, ConstView<T> target, TensorView<T> out,                    \
                            const HingeEmbeddingLossOptions& opts) {                                        \
    run<T>(Pass::Forward, {.input = input, .target = target, .out = out}, opts);                            \
  }                                                                                                         \
  Tensor<T> hinge_embedding_loss(ConstView<T> input, ConstView<T> target, const HingeEmbeddingLossOptions& opts) { \
    Tensor<T> out;                                                                                          \
    run<T>(Pass::Forward, {.input = input, .target = target, .owned = &out}, opts);                         \
    return out;                                                                                             \
  }                                                                                                         \
  void hinge_embedding_loss_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,     \
                                     TensorView<T> grad_input, const HingeEmbeddingLossOptions& opts) {     \
    run<T>(Pass::Backward, {.input = input, .target = target, .grad_output = grad_output, .grad_input = grad_input}, \
           opts);                                                                                           \
  }                                                                                                         \
  void hinge_embedding_loss_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<T> out,    \
                                             TensorView<T> grad_input, const HingeEmbeddingLossOptions& opts) { \
    run<T>(Pass::ForwardBackward, {.input = input, .target = target, .out = out, .grad_input = grad_input}, opts); \
  }

LOSSKIT_HINGE_EMBEDDING_API(float)
LOSSKIT_HINGE_EMBEDDING_API(double)

}  // namespace losskit
