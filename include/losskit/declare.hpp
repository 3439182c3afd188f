// losskit/declare.hpp: shorthand the public headers use to declare a loss's overloads.
#pragma once

#include "losskit/tensor.hpp"

// The backward and fused calls of loss NAME (options OPTS, dtype T) that also give the gradient
// w.r.t. the target, after the input's; the shorter calls without it stay declared beside.
#define LOSSKIT_DECLARE_TARGET_GRAD(NAME, OPTS, T)                                                         \
  void NAME##_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,                  \
                       TensorView<T> grad_input, TensorView<T> grad_target, const OPTS& opts = {});         \
  void NAME##_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<T> out,                 \
                               TensorView<T> grad_input, TensorView<T> grad_target, const OPTS& opts = {});

// Declares the calls of a pointwise loss `name` with options `OptsT` for T: forward into a buffer
// and into a new tensor, backward and fused with the input's gradient, and both again with the
// target's gradient too.
#define LOSSKIT_DECLARE_PAIR_LOSS(name, OptsT, T)                                                            \
  void name(ConstView<T> input, ConstView<T> target, TensorView<T> out, const OptsT& opts = {});            \
  Tensor<T> name(ConstView<T> input, ConstView<T> target, const OptsT& opts = {});                          \
  void name##_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,                    \
                       TensorView<T> grad_input, const OptsT& opts = {});                                    \
  void name##_forward_backward(ConstView<T> input, ConstView<T> target, TensorView<T> out,                  \
                               TensorView<T> grad_input, const OptsT& opts = {});                            \
  LOSSKIT_DECLARE_TARGET_GRAD(name, OptsT, T)
