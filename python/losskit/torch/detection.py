"""Box-regression losses with torchvision.ops' signatures (torchvision 0.2x)."""
from __future__ import annotations

import torch
from torch import Tensor

from .._specs import detection as specs
from ._function import apply


def _boxes(boxes1: Tensor, boxes2: Tensor):
    """What torchvision's code does to its inputs before the arithmetic: _upcast_non_float
    (integer and 16-bit boxes are computed in float32), type promotion between the two sets, and
    the broadcasting of its elementwise ops (by expand: autograd sums the gradient back). Shapes
    that do not broadcast go on unchanged, for the C++ check's message."""
    if not (isinstance(boxes1, Tensor) and isinstance(boxes2, Tensor)):
        return boxes1, boxes2
    b1, b2 = (t if t.dtype in (torch.float32, torch.float64) else t.float() for t in (boxes1, boxes2))
    if b1.dtype != b2.dtype:
        dt = torch.promote_types(b1.dtype, b2.dtype)
        b1, b2 = b1.to(dt), b2.to(dt)
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
