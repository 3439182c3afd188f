"""What losskit.torch and losskit.numpy share about each loss: a LossSpec per loss.

A LossSpec names the C++ entry (`_losskit.<name>`), its inputs, which inputs have a gradient
kernel, and the shape of the per-element losses (reduction='none'). One module per loss family.
Its options (names, types, defaults) are read from the C++ binding's signature, where they are
written once (python/src/bindings/*.cpp): `spec.options`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import ast
import re
from typing import Any, Callable, Dict, NamedTuple, Optional, Sequence, Tuple
import warnings

from .. import _losskit

Shape = Tuple[int, ...]


class Option(NamedTuple):
    name: str
    kind: str      # 'str', 'float', 'int', 'bool' or 'tensor' (an optional array: None or a tensor)
    default: Any


# The binding's signature as pybind11 writes it in the docstring's first line, e.g.
#   mse_loss(pass: str, inputs: tuple, out: object = None, grad_output: object = None,
#            grads: tuple = (), reduction: str = 'mean', weight: object = None) -> None
# (pybind11 3 writes a float as "typing.SupportsFloat | typing.SupportsIndex", 2.x as "float").
_CALL_ARGS = ("pass", "inputs", "out", "grad_output", "grads")
_ARG = re.compile(r"(\w+): ([\w. |\[\]]+?)(?: = ([^,]+))?(?:, |$)")


def _kind(annotation: str) -> str:
    a = annotation.strip()
    if a in ("str", "bool"):
        return a
    if a == "float" or "SupportsFloat" in a:
        return "float"
    if a == "int" or "SupportsInt" in a:
        return "int"
    if a == "object":
        return "tensor"
    raise TypeError(f"losskit: binding option type {annotation!r} has no schema kind")


def binding_options(entry) -> Tuple[Option, ...]:
    """The options of a C++ entry (after the five call arguments), from its signature."""
    line = entry.__doc__.lstrip().split("\n", 1)[0]
    m = re.match(r"\w+\((.*)\) -> ", line)
    if not m:
        raise TypeError(f"losskit: cannot read the signature of {line!r}")
    options = []
    for name, annotation, default in _ARG.findall(m.group(1)):
        if name in _CALL_ARGS:
            continue
        options.append(Option(name, _kind(annotation), ast.literal_eval(default)))
    return tuple(options)


# Options of losskit.torch's eager path only (no functional form: not in the custom operators'
# schemas, nor in losskit.numpy): cross_entropy's gradient written over the logits.
EAGER_ONLY = frozenset({"inplace_grad"})


@dataclass(frozen=True)
class LossSpec:
    name: str                 # the C++ entry _losskit.<name>, also the Python function's name
    inputs: Tuple[str, ...]   # the array arguments, in the entry's order
    # per input: True when the C++ backward gives its gradient; None where torch takes an input
    # that requires grad and gives it no gradient (a label used only in comparisons); False where
    # a gradient is refused (RuntimeError)
    grads: Tuple[Optional[bool], ...]
    loss_shape: Callable[[Sequence[Shape], dict], Shape]  # shapes of inputs, options -> 'none' shape
    doc: str = ""             # one line: the formula and the defining library (help() of every front end)

    @property
    def entry(self):
        return getattr(_losskit, self.name)

    # the loss's options in the C++ entry's order, with their kinds and defaults (read once, at
    # import: a plain attribute, which torch.compile reads without tracing a parser)
    options: Tuple[Option, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "options", binding_options(getattr(_losskit, self.name)))

    def out_shape(self, shapes: Sequence[Shape], options: dict) -> Shape:
        if options.get("reduction", "mean") != "none":
            return ()
        return tuple(self.loss_shape(shapes, options))


# ---- loss_shape helpers ------------------------------------------------------------------------
def shape_of_input(shapes, options):
    """Elementwise losses: one loss per input element."""
    return shapes[0]


def shape_without_class_dim(shapes, options):
    """Class-score losses: input (C), (N, C) or (N, C, d1..dK) -> (), (N) or (N, d1..dK)."""
    s = tuple(shapes[0])
    if len(s) == 0:
        return ()  # invalid; the C++ checks say why
    cd = 0 if len(s) == 1 else 1
    return s[:cd] + s[cd + 1:]


def legacy_reduction(size_average, reduce) -> str:
    """The reduction that PyTorch's deprecated size_average/reduce arguments stand for."""
    warnings.warn("size_average and reduce are deprecated (as in PyTorch); use reduction='none', "
                  "'mean' or 'sum'", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def all_specs() -> Dict[str, LossSpec]:
    """Every LossSpec, by name (the family modules import this one: imported here on call)."""
    from . import (classification, classification_extra, distribution, embedding, margin, regression,
                   segmentation, sequence, detection)
    return {v.name: v
            for m in (classification, classification_extra, distribution, embedding, margin, regression, segmentation,
                      sequence, detection)
            for v in vars(m).values() if isinstance(v, LossSpec)}
