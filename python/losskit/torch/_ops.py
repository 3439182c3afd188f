"""Every losskit loss as a PyTorch custom operator (torch.library), for torch.compile.

For each LossSpec two operators are defined in the ``losskit`` namespace, their schemas made from
the spec's inputs and the C++ binding's options (names, kinds and defaults written once, in
python/src/bindings):

    losskit::<name>(Tensor input, Tensor target, <options>, bool[] fused=[]) -> (Tensor loss, Tensor grad_0, ...)
        The loss. Where fused[i] is set, the fused forward+backward kernel also returns the
        gradient of the (scalar) loss w.r.t. input i; other grad outputs are empty (shape (0,)).
        Its autograd formula scales those gradients by the upstream gradient and runs
        <name>_backward for the rest, so a compiled training step makes one pass over the data
        for a reduced loss, as eager mode does.
    losskit::<name>_backward(Tensor grad_output, Tensor input, ..., <options>, bool[] wanted=[]) -> (Tensor, ...)
        The C++ backward kernel; grad_0 is always computed, grad_i (i > 0) where wanted[i].

Both have fake (meta) implementations, so torch.compile traces them without running C++:
`torch.compile(step, fullgraph=True)` of a step calling any losskit.torch loss has no graph
break. In eager mode losskit.torch's functions skip the dispatcher (losskit.torch._function,
a few microseconds less per call); under torch.compile they call these operators.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch

from .. import _specs
from . import _function

__all__ = ["SPECS", "call", "op_args", "op_options"]

_LIB = torch.library.Library("losskit", "DEF")
_SCHEMA_KIND = {"str": "str", "float": "float", "int": "int", "bool": "bool", "tensor": "Tensor?"}

#: Every LossSpec, by name.
SPECS: Dict[str, _specs.LossSpec] = _specs.all_specs()


def op_options(spec):
    """The options an operator takes, in the binding's order."""
    return tuple(o for o in spec.options if o.name not in _specs.EAGER_ONLY)


def _schema_default(o) -> str:
    if o.kind == "str":
        return f'"{o.default}"'
    return repr(o.default)  # None, True/False, ints and floats read as in Python


def _schema_options(spec) -> str:
    return ", ".join(f"{_SCHEMA_KIND[o.kind]} {o.name}={_schema_default(o)}" for o in op_options(spec))


def _split(spec, args, n):
    """(tensors, options dict, flags) of an operator call, the flags (fused / wanted) padded with
    False to one per input. The dispatcher leaves out trailing arguments equal to their schema
    defaults: those take the defaults here."""
    opts = op_options(spec)
    values = list(args[n:]) + [o.default for o in opts[len(args) - n:]]
    flags = tuple(values[len(opts)]) if len(values) > len(opts) else ()
    flags = tuple(bool(flags[i]) if i < len(flags) else False for i in range(n))
    return args[:n], {o.name: v for o, v in zip(opts, values)}, flags


def _grad_like(t, wanted):
    return torch.empty_like(t, memory_format=torch.contiguous_format) if wanted else t.new_empty((0,))


def _define(spec):
    n = len(spec.inputs)
    ins = ", ".join(f"Tensor {name}" for name in spec.inputs)
    opts = _schema_options(spec)
    grads = ", ".join(["Tensor"] * n)
    _LIB.define(f"{spec.name}({ins}, {opts}, bool[] fused=[]) -> (Tensor, {grads})")
    _LIB.define(f"{spec.name}_backward(Tensor grad_output, {ins}, {opts}, bool[] wanted=[]) -> ({grads})")

    def loss_impl(*args):
        tensors, options, fused = _split(spec, args, n)
        out, grads = _function.forward_kernel(spec, tensors, options, fused)
        out = out.to(tensors[0].dtype)
        if grads is None:
            return (out,) + tuple(t.new_empty((0,)) for t in tensors)
        return (out,) + tuple(g if f else t.new_empty((0,)) for g, f, t in zip(grads, fused, tensors))

    def loss_fake(*args):
        tensors, options, fused = _split(spec, args, n)
        x = tensors[0]
        out = x.new_empty(spec.out_shape([t.shape for t in tensors], options))
        return (out,) + tuple(_grad_like(t, f) for t, f in zip(tensors, fused))

    def backward_impl(grad_output, *args):
        tensors, options, wanted = _split(spec, args, n)
        wanted = (True,) + wanted[1:]  # the C++ backward always writes grad_0
        grads = _function.backward_kernel(spec, tensors, options, grad_output, wanted)
        return tuple(g if w else t.new_empty((0,)) for g, w, t in zip(grads, wanted, tensors))

    def backward_fake(grad_output, *args):
        tensors, _, wanted = _split(spec, args, n)
        return tuple(_grad_like(t, i == 0 or wanted[i]) for i, t in enumerate(tensors))

    _LIB.impl(spec.name, loss_impl, "CPU")
    _LIB.impl(f"{spec.name}_backward", backward_impl, "CPU")
    torch.library.register_fake(f"losskit::{spec.name}", loss_fake, lib=_LIB)
    torch.library.register_fake(f"losskit::{spec.name}_backward", backward_fake, lib=_LIB)
    backward_op = getattr(torch.ops.losskit, f"{spec.name}_backward").default

    def setup_context(ctx, inputs, output):
        tensors, options, ctx.fused = _split(spec, inputs, n)
        ctx.options = tuple(options.values())
        ctx.save_for_backward(*tensors, *output[1:])
        ctx.mark_non_differentiable(*output[1:])

    def backward(ctx, grad_loss, *_):
        saved = ctx.saved_tensors
        tensors, fused_grads = saved[:n], saved[n:]
        needed = ctx.needs_input_grad[:n]
        grads = [None] * n
        rest = [False] * n
        for i in range(n):
            if not needed[i] or spec.grads[i] is None:
                continue
            if spec.grads[i] is False:
                raise RuntimeError(f"losskit::{spec.name}: the gradient w.r.t. {spec.inputs[i]} is not implemented")
            if ctx.fused[i]:
                grads[i] = fused_grads[i] * grad_loss.to(fused_grads[i].dtype)
            else:
                rest[i] = True
        if any(rest):
            computed = backward_op(grad_loss, *tensors, *ctx.options, rest)
            for i in range(n):
                if rest[i]:
                    grads[i] = computed[i]
        return tuple(grads) + (None,) * (len(ctx.options) + 1)  # options and flags: no gradient

    torch.library.register_autograd(f"losskit::{spec.name}", backward, setup_context=setup_context, lib=_LIB)
    return getattr(torch.ops.losskit, spec.name).default


_OPS = {name: _define(spec) for name, spec in SPECS.items()}


def op_args(spec, tensors, options) -> Tuple:
    """The operator's positional arguments after the tensors: every option (the binding's default
    where `options` lacks it)."""
    return tuple(options.get(o.name, o.default) for o in op_options(spec))


def call(spec, tensors, options, wanted):
    """The loss through the custom operator (the torch.compile path). `wanted`: per input,
    whether its gradient is needed. A reduced loss in float32/float64 asks for the fused gradients."""
    reduced = options.get("reduction", "mean") != "none"
    fused = [bool(w) and reduced and tensors[0].dtype not in _function._HALF for w in wanted]
    return _OPS[spec.name](*tensors, *op_args(spec, tensors, options), fused)[0]
