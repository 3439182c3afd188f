// The four public calls of a (input, target) pointwise loss, defined once for every loss of
// regression.hpp: each forwards to `run<T>(pass, args, opts)` of the loss's own file.
#pragma once

#include "core/elementwise.hpp"

// Defines name, name (Tensor), name_backward and name_forward_backward for T, forwarding to
// run<T>(Pass, PointwiseArgs<T>, const OptsT&).
#define LOSSKIT_DEFINE_PAIR_LOSS(name, OptsT, T)                                                              \
  void name(ConstView<T> input, ConstView<T> target, TensorView<T> out, const OptsT& opts) {                \
    run<T>(detail::Pass::Forward, {.input = input, .target = target, .out = out}, opts);                     \
  }                                                                                                          \
  Tensor<T> name(ConstView<T> input, ConstView<T> target, const OptsT& opts) {                              \
    Tensor<T> out;                                                                                           \
    run<T>(detail::Pass::Forward, {.input = input, .target = target, .owned = &out}, opts);                  \
    return out;                                                                                              \
  }                                                                                                          \
  void name##_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,                    \
                       TensorView<T> grad_input, TensorView<T> grad_target, const OptsT& opts) {             \
    run<T>(detail::Pass::Backward,                                                                           \
           {.input = input, .target = target, .grad_output = grad_output, .grad_input = grad_input,          \
            .grad_target = grad_target},                                                                     \
           opts);                                                                                            \
  }                                                                                                          \
  void name##_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<T> out,                  \
                               TensorView<T> grad_input, TensorView<T> grad_target, const OptsT& opts) {     \
    run<T>(detail::Pass::ForwardBackward,                                                                    \
           {.input = input, .target = target, .out = out, .grad_input = grad_input, .grad_target = grad_target}, \
           opts);                                                                                            \
  }
