"""The generic runner behind losskit.numpy: allocates the outputs and calls the C++ entry."""
from __future__ import annotations

import numpy as np

from .._buffers import numpy_empty

__all__ = ["value", "value_and_grad"]


def _arr(a):
    """a as an ndarray without copying; negative strides (a[::-1]) are copied, as losskit's
    views take non-negative strides only."""
    a = np.asarray(a)
    if any(s < 0 for s in a.strides):
        a = np.ascontiguousarray(a)
    return a


def _prepare(spec, arrays, options):
    arrays = tuple(_arr(a) for a in arrays)
    options = {k: _arr(v) if isinstance(v, (np.ndarray, list, tuple)) else v for k, v in options.items()}
    dtype = arrays[0].dtype
    if dtype == np.float16:  # 16-bit input: weights and loss in float32
        dtype = np.dtype(np.float32)
        options = {k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
                   for k, v in options.items()}
    out = numpy_empty(spec.out_shape([a.shape for a in arrays], options), dtype)
    return arrays, options, out


def value(spec, arrays, options):
    """The loss (a 0-d array for 'mean'/'sum', per-element losses for 'none')."""
    arrays, options, out = _prepare(spec, arrays, options)
    spec.entry("forward", arrays, out, None, (), **options)
    return out


def value_and_grad(spec, arrays, options):
    """(loss, grad of each floating input that has a gradient kernel): the gradient of the loss
    summed (an upstream gradient of ones for 'none'). Class ids (integers) have none."""
    arrays, options, out = _prepare(spec, arrays, options)
    grads = tuple(numpy_empty(a.shape, a.dtype) if has and a.dtype.kind == "f" else None
                  for a, has in zip(arrays, spec.grads))
    spec.entry("forward_backward", arrays, out, None, grads, **options)
    return (out,) + tuple(g for g in grads if g is not None)
