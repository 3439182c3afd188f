"""The one torch.autograd.Function behind every loss of losskit.torch.

    apply(spec, (input, target, ...), options) -> loss tensor

Forward runs the C++ forward kernel; when a gradient will be needed and the loss is reduced to a
scalar, it runs the fused forward+backward kernel instead and keeps the gradients. Backward hands
those back when the upstream gradient is exactly 1 (loss.backward()), scales them by a finite
scalar upstream gradient (a scaled loss), and otherwise runs the C++ backward kernel with the
upstream gradient (reduction='none', 16-bit gradients, a non-finite factor). No gradient is
computed with torch ops (the scaling aside). Tensors reach C++ through DLPack without copies, whatever their
strides.
"""
from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable
from torch.utils.dlpack import from_dlpack, to_dlpack

from .. import _buffers

__all__ = ["apply"]


def _dl(t):
    """A DLPack capsule of t (detached: DLPack carries no autograd), or None."""
    if t is None:
        return None
    return to_dlpack(t.detach() if t.requires_grad else t)


_HALF = (torch.bfloat16, torch.float16)
_SCALABLE = (torch.float32, torch.float64)


def _acc_dtype(dtype):
    """The dtype of weights, loss and upstream gradient: float32 for 16-bit inputs."""
    return torch.float32 if dtype in _HALF else dtype


_PLAIN = (bool, int, float, str)


def _call(spec, pass_, tensors, out, grad_output, grads, options):
    """Calls the C++ entry; every tensor (options too) goes as a fresh DLPack capsule, the
    options positionally in the entry's order (absent ones take the binding's default)."""
    if tensors[0].dtype in _HALF:  # 16-bit input: weights and upstream gradient in float32
        options = {k: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
                   for k, v in options.items()}
        if grad_output is not None:
            grad_output = grad_output.float()
    args = []
    for o in spec.options:
        v = options.get(o.name, o.default)
        if isinstance(v, torch.Tensor):
            v = to_dlpack(v.detach() if v.requires_grad else v)
        elif v is not None and not isinstance(v, _PLAIN):
            raise TypeError(f"losskit.torch.{spec.name}: {o.name} must be a torch.Tensor or None, "
                            f"got {type(v).__name__}")
        args.append(v)
    spec.entry(pass_, tuple([_dl(t) for t in tensors]), _dl(out), _dl(grad_output), tuple([_dl(g) for g in grads]),
               *args)


_DL_NAME = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
            torch.bfloat16: "bfloat16"}


def _new(shape, dtype, itemsize):
    """A contiguous CPU tensor; large ones come from losskit's buffer pool (huge pages, reused)."""
    if _buffers.is_large(shape, itemsize) and dtype in _DL_NAME:
        return from_dlpack(_buffers.capsule(shape, _DL_NAME[dtype]))
    return torch.empty(shape, dtype=dtype)


def forward_kernel(spec, tensors, options, grads_wanted):
    """Runs forward (or forward_backward when any gradient is wanted); returns (out, grads): out
    in the accumulation dtype (float32 for 16-bit inputs), grads None or a buffer per wanted
    input (grad_input always)."""
    x = tensors[0]
    acc = _acc_dtype(x.dtype)
    out = _new(spec.out_shape([t.shape for t in tensors], options), acc, 4 if acc is torch.float32 else 8)
    if any(grads_wanted):
        grads = _empty_grads(tensors, grads_wanted)
        _call(spec, "forward_backward", tensors, out, None, grads, options)
        return out, grads
    _call(spec, "forward", tensors, out, None, (), options)
    return out, None


def backward_kernel(spec, tensors, options, grad_output, wanted):
    """Runs the C++ backward with the upstream gradient; a buffer per wanted input (grad_input
    always), None for the others."""
    grads = _empty_grads(tensors, wanted)
    _call(spec, "backward", tensors, None, grad_output, grads, options)
    return grads


def _empty_grads(tensors, wanted):
    """Gradient buffers of the wanted inputs; the C++ backward always writes grad_input."""
    wanted = (True,) + tuple(wanted[1:])
    return tuple(_new(t.shape, t.dtype, t.element_size()) if w else None for t, w in zip(tensors, wanted))


class _LossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spec, options, wanted, *tensors):
        ctx.spec, ctx.options, ctx.wanted = spec, options, wanted
        ctx.save_for_backward(*tensors)
        fused = options.get("reduction", "mean") != "none"
        out, grads = forward_kernel(spec, tensors, options, wanted if fused else (False,) * len(tensors))
        ctx.fused_grads = grads
        dtype = tensors[0].dtype
        return out if out.dtype is dtype else out.to(dtype)  # 16-bit inputs: the loss in their dtype, as torch

    @staticmethod
    def backward(ctx, grad_out):
        # once_differentiable's wrapper (no_grad, then an error on a second backward) matters only
        # under create_graph=True, the one case where grad mode is on here: a plain backward skips
        # its cost (a few microseconds per call); the gradients never record a graph either way.
        if torch.is_grad_enabled():
            return _backward_once(ctx, grad_out)
        return _backward(ctx, grad_out)


def _backward(ctx, grad_out):
    grads, ctx.fused_grads = ctx.fused_grads, None  # hand them out once (autograd may keep them)
    if grads is not None and grad_out.numel() == 1:
        s = grad_out.item()
        if s != 1.0:
            # The loss is a scalar, so its gradient is linear in the upstream one (a GradScaler,
            # loss / accumulation_steps, a weighted sum of losses): scale the fused gradients
            # instead of running the backward again. 16-bit gradients and a non-finite factor
            # take the C++ backward (one rounding, and its handling of inf * 0).
            if math.isfinite(s) and all(g is None or g.dtype in _SCALABLE for g in grads):
                grads = tuple(None if g is None else g.mul_(s) for g in grads)
            else:
                grads = None
    if grads is None or grad_out.numel() != 1:
        grads = backward_kernel(ctx.spec, ctx.saved_tensors, ctx.options, grad_out, ctx.wanted)
    return (None, None, None) + tuple(grads)


_backward_once = once_differentiable(_backward)


class _InplaceLossFunction(torch.autograd.Function):
    """A reduced loss whose gradient is written over its input during the forward (inplace_grad):
    backward hands that memory back, scaled by the upstream gradient."""

    @staticmethod
    def forward(ctx, spec, options, x, *rest):
        out = _new((), _acc_dtype(x.dtype), 4)
        _call(spec, "forward_backward", (x,) + rest, out, None, (x,) + (None,) * len(rest), options)
        torch.autograd.graph.increment_version(x)  # x now holds the gradient: users of x that saved it raise
        ctx.grad = x.detach()
        return out if out.dtype is x.dtype else out.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        g, ctx.grad = ctx.grad, None
        s = grad_out.item()
        if s != 1.0:
            g.mul_(s)
        return (None, None, g) + (None,) * (len(ctx.needs_input_grad) - 3)


def _apply_inplace(spec, tensors, options, wanted):
    x = tensors[0]
    if options.get("reduction", "mean") == "none":
        raise ValueError(f"losskit.torch.{spec.name}: inplace_grad needs reduction 'mean' or 'sum' (the "
                         f"gradient of a scalar loss)")
    if any(wanted[1:]):
        raise ValueError(f"losskit.torch.{spec.name}: inplace_grad does not give target gradients (the "
                         f"target requires grad)")
    if x.is_leaf:
        raise RuntimeError(f"losskit.torch.{spec.name}: inplace_grad writes the gradient over the input, "
                           f"which is a leaf tensor; pass an intermediate result (e.g. a layer's output)")
    return _InplaceLossFunction.apply(spec, options, *tensors)


def _unsupported(spec, name, t):
    """A clear error for a tensor losskit cannot read in place (it never copies silently)."""
    where = f"losskit.torch.{spec.name}: {name}"
    if t.is_nested:
        raise RuntimeError(f"{where} is a nested tensor; losskit takes dense CPU tensors")
    if t.device.type != "cpu":
        raise RuntimeError(f"{where} is on device '{t.device}'; losskit runs on CPU tensors only "
                           f"(move it with .cpu())")
    raise RuntimeError(f"{where} has layout {t.layout}; losskit takes dense (strided) tensors "
                       f"(convert it with .to_dense())")


def _wanted(spec, tensors, options, grad_on):
    """Per input, whether its gradient is wanted; errors for inputs losskit cannot take."""
    wanted = []
    for name, t, has in zip(spec.inputs, tensors, spec.grads):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"losskit.torch.{spec.name}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_cpu or t.layout is not torch.strided or t.is_nested:  # is_cpu: the cheap test
            _unsupported(spec, name, t)
        w = grad_on and t.requires_grad
        if w and not has:
            if has is None:  # torch takes it and gives it no gradient (None), as here
                w = False
            else:
                raise RuntimeError(f"losskit.torch.{spec.name}: the gradient w.r.t. {name} is not implemented")
        wanted.append(w)
    for k, v in options.items():
        if isinstance(v, torch.Tensor):
            if not v.is_cpu or v.layout is not torch.strided or v.is_nested:
                _unsupported(spec, k, v)
            if grad_on and v.requires_grad:
                raise RuntimeError(f"losskit.torch.{spec.name}: the gradient w.r.t. {k} is not implemented")
    return tuple(wanted)


def _compiling() -> bool:
    """True while torch.compile traces (the tests also set it to run the operators eagerly)."""
    return torch.compiler.is_compiling()


def apply(spec, tensors, options):
    """The loss `spec` of `tensors` as a torch tensor that supports .backward()."""
    wanted = _wanted(spec, tensors, options, torch.is_grad_enabled())
    if _compiling():  # torch.compile traces the custom operator (losskit.torch._ops)
        return _ops.call(spec, tensors, options, wanted)
    if "inplace_grad" in options:  # an opt-in flag: only set when true
        if wanted[0]:
            return _apply_inplace(spec, tensors, options, wanted)
        options = {k: v for k, v in options.items() if k != "inplace_grad"}
    if any(wanted):
        return _LossFunction.apply(spec, options, wanted, *tensors)
    out = forward_kernel(spec, tensors, options, wanted)[0]
    dtype = tensors[0].dtype
    return out if out.dtype is dtype else out.to(dtype)


from . import _ops  # noqa: E402  (the custom operators; they call the kernels above)
