"""losskit.torch.nn: a loss module for every losskit.torch function.

Where PyTorch has the loss, the class has torch.nn's name and is a subclass of it: the same
constructor arguments, defaults, attributes, buffers (``weight``, ``pos_weight``) and
``state_dict``; only ``forward`` runs losskit. Losses PyTorch lacks get a module in the same
style: the function's keyword arguments become constructor arguments with the same defaults
(``SigmoidFocalLoss(alpha=0.25, gamma=2, reduction='none')``), tensors among them are buffers.

    import losskit.torch.nn as lnn
    criterion = lnn.CrossEntropyLoss(label_smoothing=0.1)   # as torch.nn.CrossEntropyLoss
    loss = criterion(logits, labels)

``routed()`` runs an existing script's losses on losskit without editing it: inside the
``with`` block, ``torch.nn.functional``'s loss functions (and so ``torch.nn``'s loss modules,
which call them) are losskit's; they are restored on exit.
"""
from __future__ import annotations

import contextlib
import inspect
from typing import Callable, Dict, Iterable, Iterator, Optional

import torch

import losskit.torch as _lt

__all__ = ["routed", "route", "unroute", "ROUTABLE"]

_LEGACY = ("size_average", "reduce")
# Tensors a loss's module takes per call, in forward (as the defining library's module does), not
# in its constructor: LigerJSD's forward(log_q, log_p, shift_labels=None), LigerTVDLoss's forward(p, q,
# shift_labels=None).
_CALL_TENSORS = {"jsd": ("shift_labels",), "tvd": ("shift_labels",)}


def _tensor_params(fn) -> int:
    """How many leading parameters are the loss's tensors (the ones without a default)."""
    n = 0
    for p in inspect.signature(fn).parameters.values():
        if p.default is not inspect.Parameter.empty or p.kind is inspect.Parameter.KEYWORD_ONLY:
            break
        n += 1
    return n


def _option_names(fn):
    params = list(inspect.signature(fn).parameters.values())[_tensor_params(fn):]
    call = _CALL_TENSORS.get(fn.__name__, ())
    return [p.name for p in params if p.name not in _LEGACY and p.name not in call]


def _torch_module(torch_cls, fn):
    """torch_cls with a forward that calls losskit's fn with the module's own attributes."""
    options = _option_names(fn)

    def forward(self, *tensors):
        return fn(*tensors, **{k: getattr(self, k) for k in options if hasattr(self, k)})

    cls = type(torch_cls.__name__, (torch_cls,), {
        "forward": forward,
        "__module__": __name__,
        "__doc__": f"torch.nn.{torch_cls.__name__} (same arguments and defaults) running "
                   f"losskit.torch.{fn.__name__}.\n\n{fn.__doc__ or ''}",
    })
    return cls


class _LossModule(torch.nn.Module):
    """A module for a losskit.torch function: the constructor takes the function's options."""

    _fn: Callable = None
    _options: tuple = ()

    def __init__(self, **kwargs):
        super().__init__()
        sig = inspect.signature(type(self)._fn)
        for name in type(self)._options:
            if name in kwargs:
                value = kwargs.pop(name)
            else:
                value = sig.parameters[name].default
            if isinstance(value, torch.Tensor):
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected arguments: {', '.join(sorted(kwargs))}")

    def forward(self, *tensors, **call_tensors):
        return type(self)._fn(*tensors, **call_tensors, **{k: getattr(self, k) for k in type(self)._options})

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in type(self)._options
                         if not isinstance(getattr(self, k), torch.Tensor))


def _losskit_module(name, fn):
    options = tuple(_option_names(fn))
    sig = inspect.signature(fn)
    args = ", ".join(f"{k}={sig.parameters[k].default!r}" for k in options)
    return type(name, (_LossModule,), {
        "_fn": staticmethod(fn), "_options": options, "__module__": __name__,
        "__doc__": f"{name}({args}): module form of losskit.torch.{fn.__name__}.\n\n{fn.__doc__ or ''}",
    })


# torch.nn class -> losskit.torch function (PyTorch's own losses).
_TORCH = {
    "CrossEntropyLoss": "cross_entropy", "NLLLoss": "nll_loss", "KLDivLoss": "kl_div",
    "MSELoss": "mse_loss", "L1Loss": "l1_loss", "HuberLoss": "huber_loss", "SmoothL1Loss": "smooth_l1_loss",
    "PoissonNLLLoss": "poisson_nll_loss", "GaussianNLLLoss": "gaussian_nll_loss",
    "BCELoss": "binary_cross_entropy", "BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
    "SoftMarginLoss": "soft_margin_loss", "MultiLabelSoftMarginLoss": "multilabel_soft_margin_loss",
    "MultiMarginLoss": "multi_margin_loss", "MultiLabelMarginLoss": "multilabel_margin_loss",
    "HingeEmbeddingLoss": "hinge_embedding_loss", "MarginRankingLoss": "margin_ranking_loss",
    "CosineEmbeddingLoss": "cosine_embedding_loss", "TripletMarginLoss": "triplet_margin_loss",
    "TripletMarginWithDistanceLoss": "triplet_margin_with_distance_loss", "CTCLoss": "ctc_loss",
}
# losskit's other losses, in the same style.
_OWN = {
    "DiceLoss": "dice_loss", "TverskyLoss": "tversky_loss", "GeneralizedDiceLoss": "generalized_dice_loss",
    "SigmoidFocalLoss": "sigmoid_focal_loss", "SoftmaxFocalLoss": "softmax_focal_loss",
    "Poly1CrossEntropyLoss": "poly1_cross_entropy", "LogCoshLoss": "log_cosh_loss", "L2Loss": "l2_loss",
    "QuantileLoss": "quantile_loss", "MSLELoss": "msle_loss", "MAPELoss": "mape_loss", "HingeLoss": "hinge_loss",
    "SquaredHingeLoss": "squared_hinge_loss", "CategoricalHingeLoss": "categorical_hinge_loss",
    "MulticlassPerceptronLoss": "multiclass_perceptron_loss", "GeneralizedBoxIoULoss": "generalized_box_iou_loss",
    "DistanceBoxIoULoss": "distance_box_iou_loss", "CompleteBoxIoULoss": "complete_box_iou_loss",
    "JSDLoss": "jsd", "TVDLoss": "tvd",
    "GeneralizedKLDivergenceLoss": "generalized_kl_divergence", "SparsemaxLoss": "sparsemax_loss",
    "MulticlassSparsemaxLoss": "multiclass_sparsemax_loss",
    "CategoricalGeneralizedCrossEntropyLoss": "categorical_generalized_cross_entropy",
}

for _name, _fn_name in _TORCH.items():
    globals()[_name] = _torch_module(getattr(torch.nn, _name), getattr(_lt, _fn_name))
for _name, _fn_name in _OWN.items():
    globals()[_name] = _losskit_module(_name, getattr(_lt, _fn_name))
__all__ += sorted(_TORCH) + sorted(_OWN)

# ---- routing torch.nn.functional's losses to losskit ----------------------------------------------
#: The torch.nn.functional names that routed() replaces (every PyTorch loss losskit has).
ROUTABLE = tuple(sorted(_TORCH.values()))
_saved: Dict[str, Callable] = {}


def route(names: Optional[Iterable[str]] = None) -> None:
    """Replaces torch.nn.functional.<name> by losskit.torch.<name> for each name (all of
    ROUTABLE by default) until unroute(). torch.nn's loss modules call these functions, so they
    run losskit too."""
    F = torch.nn.functional
    for n in ROUTABLE if names is None else names:
        if n not in ROUTABLE:
            raise ValueError(f"route: {n!r} is not a loss losskit can take over (see ROUTABLE)")
        if n not in _saved:
            _saved[n] = getattr(F, n)
        setattr(F, n, getattr(_lt, n))


def unroute() -> None:
    """Restores every torch.nn.functional function that route() replaced."""
    F = torch.nn.functional
    while _saved:
        n, f = _saved.popitem()
        setattr(F, n, f)


@contextlib.contextmanager
def routed(names: Optional[Iterable[str]] = None) -> Iterator[None]:
    """``with routed():`` runs torch.nn.functional's losses (and torch.nn's loss modules) on
    losskit inside the block, and restores PyTorch's on exit, also on an exception."""
    already = set(_saved)
    route(names)
    try:
        yield
    finally:
        F = torch.nn.functional
        for n in list(_saved):
            if n not in already:
                setattr(F, n, _saved.pop(n))
