// Defines a loss's four public calls from one templated runner
//   template <class T> void RUN(Pass, ConstView<T> input, ConstView<TT> target, TensorView<T> out,
//                               ConstView<T> grad_output, TensorView<T> grad_input, const OPTS& opts,
//                               Tensor<T>* owned = nullptr);
// Used inside namespace losskit by the losses whose calls have the common (input, target) form.
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
