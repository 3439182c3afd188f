// Defines a loss's four public calls (forward into a buffer, forward returning a Tensor,
// backward, fused forward_backward) from one templated runner of the loss's own file, so
// that no loss spells them out. Used inside namespace losskit.
//
//   LOSSKIT_DEFINE_LOSS(NAME, T, TT, OPTS, RUN): the (input, target) form, with
//     template <class T, ...> void RUN(Pass, ConstView<T> input, ConstView<TT> target,
//         TensorView<A> out, ConstView<A> grad_output, TensorView<G> grad_input, const OPTS&,
//         Tensor<A>* owned = nullptr);
//   LOSSKIT_DEFINE_LOSS_16(NAME, T, TT, OPTS, RUN): the same for 16-bit inputs T (bfloat16,
//     float16): float32 loss and upstream gradient, and two overloads of backward and fused,
//     one writing the gradient in T and one in float32 (RUN<T, G, float>).
//   LOSSKIT_DEFINE_TARGET_GRAD(NAME, T, OPTS, RUN): the backward and fused calls that also give
//     the target's gradient, for a loss defined by LOSSKIT_DEFINE_LOSS whose RUN takes it last:
//     RUN<T>(Pass, input, target, out, grad_output, grad_input, opts, owned, grad_target).
//   LOSSKIT_DEFINE_POINTWISE_LOSS(NAME, T, OPTS, RUN): the pointwise form on the shared driver
//     (core/elementwise.hpp), whose backward and fused calls come in two shapes, with and
//     without the gradient w.r.t. the target:
//       NAME_backward(grad_output, input, target, grad_input[, grad_target], opts)
//     void RUN<T>(Pass, detail::PointwiseArgs<T>, const OPTS&).
#pragma once

#include "core/outputs.hpp"

#define LOSSKIT_DEFINE_LOSS(NAME, T, TT, OPTS, RUN)                                                              \
  void NAME(ConstView<T> input, ConstView<TT> target, TensorView<T> out, const OPTS& opts) {                    \
    RUN<T>(detail::Pass::Forward, input, target, out, {}, {}, opts);                                             \
  }                                                                                                              \
  Tensor<T> NAME(ConstView<T> input, ConstView<TT> target, const OPTS& opts) {                                   \
    Tensor<T> out;                                                                                               \
    RUN<T>(detail::Pass::Forward, input, target, {}, {}, {}, opts, &out);                                        \
    return out;                                                                                                  \
  }                                                                                                              \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<TT> target,                      \
                       TensorView<T> grad_input, const OPTS& opts) {                                             \
    RUN<T>(detail::Pass::Backward, input, target, {}, grad_output, grad_input, opts);                            \
  }                                                                                                              \
  void NAME##_forward_backward(ConstView<T> input, ConstView<TT> target, TensorView<T> out,                     \
                               TensorView<T> grad_input, const OPTS& opts) {                                     \
    RUN<T>(detail::Pass::ForwardBackward, input, target, out, {}, grad_input, opts);                             \
  }

#define LOSSKIT_DEFINE_LOSS_16(NAME, T, TT, OPTS, RUN)                                                           \
  void NAME(ConstView<T> input, ConstView<TT> target, TensorView<float> out, const OPTS& opts) {                \
    RUN<T, T, float>(detail::Pass::Forward, input, target, out, {}, {}, opts);                                   \
  }                                                                                                              \
  Tensor<float> NAME(ConstView<T> input, ConstView<TT> target, const OPTS& opts) {                               \
    Tensor<float> out;                                                                                           \
    RUN<T, T, float>(detail::Pass::Forward, input, target, {}, {}, {}, opts, &out);                              \
    return out;                                                                                                  \
  }                                                                                                              \
  void NAME##_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<TT> target,                  \
                       TensorView<T> grad_input, const OPTS& opts) {                                             \
    RUN<T, T, float>(detail::Pass::Backward, input, target, {}, grad_output, grad_input, opts);                  \
  }                                                                                                              \
  void NAME##_backward(ConstView<float> grad_output, ConstView<T> input, ConstView<TT> target,                  \
                       TensorView<float> grad_input, const OPTS& opts) {                                         \
    RUN<T, float, float>(detail::Pass::Backward, input, target, {}, grad_output, grad_input, opts);              \
  }                                                                                                              \
  void NAME##_forward_backward(ConstView<T> input, ConstView<TT> target, TensorView<float> out,                 \
                               TensorView<T> grad_input, const OPTS& opts) {                                     \
    RUN<T, T, float>(detail::Pass::ForwardBackward, input, target, out, {}, grad_input, opts);                   \
  }                                                                                                              \
  void NAME##_forward_backward(ConstView<T> input, ConstView<TT> target, TensorView<float> out,                 \
                               TensorView<float> grad_input, const OPTS& opts) {                                 \
    RUN<T, float, float>(detail::Pass::ForwardBackward, input, target, out, {}, grad_input, opts);               \
  }

#define LOSSKIT_DEFINE_TARGET_GRAD(NAME, T, OPTS, RUN)                                                           \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,                       \
                       TensorView<T> grad_input, TensorView<T> grad_target, const OPTS& opts) {                  \
    RUN<T>(detail::Pass::Backward, input, target, {}, grad_output, grad_input, opts, nullptr, grad_target);      \
  }                                                                                                              \
  void NAME##_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<T> out,                      \
                               TensorView<T> grad_input, TensorView<T> grad_target, const OPTS& opts) {          \
    RUN<T>(detail::Pass::ForwardBackward, input, target, out, {}, grad_input, opts, nullptr, grad_target);       \
  }

#define LOSSKIT_DEFINE_POINTWISE_LOSS(NAME, T, OPTS, RUN)                                                        \
  void NAME(ConstView<T> input, ConstView<T> target, TensorView<T> out, const OPTS& opts) {                     \
    RUN<T>(detail::Pass::Forward, {.input = input, .target = target, .out = out}, opts);                         \
  }                                                                                                              \
  Tensor<T> NAME(ConstView<T> input, ConstView<T> target, const OPTS& opts) {                                    \
    Tensor<T> out;                                                                                               \
    RUN<T>(detail::Pass::Forward, {.input = input, .target = target, .owned = &out}, opts);                      \
    return out;                                                                                                  \
  }                                                                                                              \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,                       \
                       TensorView<T> grad_input, TensorView<T> grad_target, const OPTS& opts) {                  \
    RUN<T>(detail::Pass::Backward,                                                                               \
           {.input = input, .target = target, .grad_output = grad_output, .grad_input = grad_input,              \
            .grad_target = grad_target},                                                                         \
           opts);                                                                                                \
  }                                                                                                              \
  void NAME##_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<T> out,                      \
                               TensorView<T> grad_input, TensorView<T> grad_target, const OPTS& opts) {          \
    RUN<T>(detail::Pass::ForwardBackward,                                                                        \
           {.input = input, .target = target, .out = out, .grad_input = grad_input, .grad_target = grad_target}, \
           opts);                                                                                                \
  }                                                                                                              \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,                       \
                       TensorView<T> grad_input, const OPTS& opts) {                                             \
    NAME##_backward(grad_output, input, target, grad_input, TensorView<T>{}, opts);                              \
  }                                                                                                              \
  void NAME##_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<T> out,                      \
                               TensorView<T> grad_input, const OPTS& opts) {                                     \
    NAME##_forward_backward(input, target, out, grad_input, TensorView<T>{}, opts);                              \
  }
