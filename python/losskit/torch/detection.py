"""Box-regression losses with torchvision.ops' signatures (torchvision 0.2x)."""
from __future__ import annotations

import torch
from torch import Tensor

from .._specs import detection as specs
from ._function import apply


def _float_boxes(boxes1: Tensor, boxes2: Tensor):
    """torchvision's _upcast_non_float (integer and 16-bit boxes in float32), then type promotion
    between the two sets."""
    b1, b2 = (t if t.dtype in (torch.float32, torch.float64) else t.float() for t in (boxes1, boxes2))
    if b1.dtype != b2.dtype:
        dt = torch.promote_types(b1.dtype, b2.dtype)
        b1, b2 = b1.to(dt), b2.to(dt)
    return b1, b2


def _boxes(boxes1: Tensor, boxes2: Tensor):
    """What torchvision's code does to its inputs before the arithmetic: _upcast_non_float
    (integer and 16-bit boxes are computed in float32), type promotion between the two sets, and
    the broadcasting of its elementwise ops (by expand: autograd sums the gradient back). Shapes
    that do not broadcast go on unchanged, for the C++ check's message."""
    if not (isinstance(boxes1, Tensor) and isinstance(boxes2, Tensor)):
        return boxes1, boxes2
    b1, b2 = _float_boxes(boxes1, boxes2)
    if b1.shape != b2.shape:
        try:
            shape = torch.broadcast_shapes(b1.shape, b2.shape)
        except RuntimeError:
            return b1, b2
        b1, b2 = b1.expand(shape), b2.expand(shape)
    return b1, b2


def _box_loss(spec, boxes1, boxes2, reduction, eps):
    return apply(spec, _boxes(boxes1, boxes2), dict(reduction=reduction, eps=eps))


def generalized_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7) -> Tensor:
    """Generalized IoU loss of box pairs, as torchvision.ops.generalized_box_iou_loss.

    boxes1, boxes2 (..., 4) as (x1, y1, x2, y2) (broadcast against each other); integer and
    16-bit boxes are computed in float32, as torchvision. 1 - IoU + (C - U) / (C + eps) with C the
    smallest enclosing box's area. reduction 'none' (default), 'mean' (0 for no boxes), 'sum';
    gradients for both box sets."""
    return _box_loss(specs.generalized_box_iou_loss, boxes1, boxes2, reduction, eps)


def distance_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7) -> Tensor:
    """Distance IoU loss of box pairs, as torchvision.ops.distance_box_iou_loss: 1 - IoU plus the
    squared distance of the centres over the squared diagonal of the enclosing box (+ eps)."""
    return _box_loss(specs.distance_box_iou_loss, boxes1, boxes2, reduction, eps)


def complete_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7) -> Tensor:
    """Complete IoU loss of box pairs, as torchvision.ops.complete_box_iou_loss: the DIoU loss
    (with torchvision's default eps 1e-7, whatever `eps` is, as torchvision) plus alpha v, v the
    aspect-ratio term and alpha = v / (1 - IoU + v + eps) held constant in the gradient."""
    return _box_loss(specs.complete_box_iou_loss, boxes1, boxes2, reduction, eps)


# ---- box similarity matrices (torchvision.ops.box_iou, ...): (N, 4) x (M, 4) -> (N, M) ----------
# Custom operators (the forward and its backward), so torch.compile traces them like the losses.
from .. import _losskit  # noqa: E402
from torch.utils.dlpack import to_dlpack as _dl  # noqa: E402

_MATRICES = ("box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou")


def _matrix_fwd(kind: str, boxes1: Tensor, boxes2: Tensor, eps: float) -> Tensor:
    out = torch.empty((boxes1.shape[0], boxes2.shape[0]), dtype=boxes1.dtype)
    getattr(_losskit, kind)("forward", (_dl(boxes1), _dl(boxes2)), _dl(out), None, (), eps=eps)
    return out


def _matrix_bwd(kind: str, grad: Tensor, boxes1: Tensor, boxes2: Tensor, eps: float):
    g1, g2 = torch.empty_like(boxes1, memory_format=torch.contiguous_format), torch.empty_like(
        boxes2, memory_format=torch.contiguous_format)
    getattr(_losskit, kind)("backward", (_dl(boxes1), _dl(boxes2)), None, _dl(grad), (_dl(g1), _dl(g2)), eps=eps)
    return g1, g2


@torch.library.custom_op("losskit::box_matrix", mutates_args=())
def _box_matrix_op(kind: str, boxes1: Tensor, boxes2: Tensor, eps: float) -> Tensor:
    return _matrix_fwd(kind, boxes1, boxes2, eps)


@_box_matrix_op.register_fake
def _(kind, boxes1, boxes2, eps):
    return boxes1.new_empty((boxes1.shape[0], boxes2.shape[0]))


@torch.library.custom_op("losskit::box_matrix_backward", mutates_args=())
def _box_matrix_backward_op(kind: str, grad: Tensor, boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    return _matrix_bwd(kind, grad, boxes1, boxes2, eps)


@_box_matrix_backward_op.register_fake
def _(kind, grad, boxes1, boxes2, eps):
    return torch.empty_like(boxes1), torch.empty_like(boxes2)


def _setup(ctx, inputs, output):
    kind, boxes1, boxes2, eps = inputs
    ctx.kind, ctx.eps = kind, eps
    ctx.save_for_backward(boxes1, boxes2)


def _backward(ctx, grad):
    boxes1, boxes2 = ctx.saved_tensors
    g1, g2 = _box_matrix_backward_op(ctx.kind, grad.contiguous(), boxes1, boxes2, ctx.eps)
    return None, g1, g2, None


_box_matrix_op.register_autograd(_backward, setup_context=_setup)


def _matrix(kind, boxes1, boxes2, eps):
    b1, b2 = _float_boxes(boxes1, boxes2)
    return _box_matrix_op(kind, b1, b2, float(eps))


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of every box of boxes1 (N, 4) with every box of boxes2 (M, 4), as
    torchvision.ops.box_iou: the (N, M) matrix inter / union, differentiable w.r.t. both."""
    return _matrix("box_iou", boxes1, boxes2, 1e-7)


def generalized_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Generalized IoU matrix (N, M), as torchvision.ops.generalized_box_iou (DETR's matching cost)."""
    return _matrix("generalized_box_iou", boxes1, boxes2, 1e-7)


def distance_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Distance IoU matrix (N, M), as torchvision.ops.distance_box_iou."""
    return _matrix("distance_box_iou", boxes1, boxes2, eps)


def complete_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Complete IoU matrix (N, M), as torchvision.ops.complete_box_iou (alpha held constant in the
    gradient, as there)."""
    return _matrix("complete_box_iou", boxes1, boxes2, eps)
