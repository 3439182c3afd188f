"""What losskit.torch and losskit.numpy share about each loss: a LossSpec per loss.

A LossSpec names the C++ entry (`_losskit.<name>`), its inputs, which inputs have a gradient
kernel, and the shape of the per-element losses (reduction='none'). One module per loss family.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple
import warnings

from .. import _losskit

Shape = Tuple[int, ...]


@dataclass(frozen=True)
class LossSpec:
    name: str                 # the C++ entry _losskit.<name>, also the Python function's name
    inputs: Tuple[str, ...]   # the array arguments, in the entry's order
    # per input: True when the C++ backward gives its gradient; None where torch takes an input
    # that requires grad and gives it no gradient (a label used only in comparisons); False where
    # a gradient is refused (RuntimeError)
    grads: Tuple[Optional[bool], ...]
    loss_shape: Callable[[Sequence[Shape], dict], Shape]  # shapes of inputs, options -> 'none' shape

    @property
    def entry(self):
        return getattr(_losskit, self.name)

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
