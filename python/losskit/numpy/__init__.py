"""losskit.numpy: losskit's losses on NumPy arrays (float32 or float64, any strides).

For each loss `f`: f(...) returns the loss; f_with_grad(...) returns (loss, grad_input[, grad of
other differentiable inputs]) computed in one fused pass, the gradient being that of the summed
output (of the scalar for 'mean'/'sum'). The arrays are positional; the options are keyword-only,
with the names and defaults of the C++ binding (PyTorch's names where PyTorch has the loss).

The functions are made here from the loss specs (losskit/_specs) and the bindings' signatures:
adding a loss to the C++ binding and its spec adds it to losskit.numpy.
"""
from __future__ import annotations

from .. import _specs
from ._run import value, value_and_grad


def _define(spec):
    """f and f_with_grad for one spec, with real signatures (inputs, then keyword-only options)."""
    options = [o for o in spec.options if o.name not in _specs.EAGER_ONLY]
    inputs = ", ".join(spec.inputs)
    params = inputs + "".join([", *"] + [f", {o.name}={o.default!r}" for o in options] if options else [])
    opts = ", ".join(f"{o.name!r}: {o.name}" for o in options)
    src = (f"def {spec.name}({params}):\n    return _value(_spec, ({inputs},), {{{opts}}})\n"
           f"def {spec.name}_with_grad({params}):\n    return _value_and_grad(_spec, ({inputs},), {{{opts}}})\n")
    ns = {"_value": value, "_value_and_grad": value_and_grad, "_spec": spec}
    exec(src, ns)  # the source is made from our own binding's names and literal defaults only
    f, fg = ns[spec.name], ns[spec.name + "_with_grad"]
    grads = ", ".join(f"grad_{n}" for n, has in zip(spec.inputs, spec.grads) if has)
    f.__module__ = fg.__module__ = __name__
    f.__doc__ = (f"{spec.doc}\n\nThe loss of NumPy arrays: per-element losses for reduction='none', else a 0-d "
                 f"array. Shapes, options and reference in detail: losskit.torch.{spec.name}.")
    fg.__doc__ = (f"(loss, {grads}) of {spec.name}, from one fused pass: the gradients of the summed loss "
                  f"(of the scalar for 'mean'/'sum'); integer inputs (class ids) have none.\n\n{spec.doc}")
    return f, fg


__all__ = []
for _spec in sorted(_specs.all_specs().values(), key=lambda s: s.name):
    _f, _fg = _define(_spec)
    globals()[_f.__name__], globals()[_fg.__name__] = _f, _fg
    __all__ += [_f.__name__, _fg.__name__]
del _spec, _f, _fg
