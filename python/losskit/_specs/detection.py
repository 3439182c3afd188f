"""Specs of the box-regression losses (include/losskit/detection.hpp)."""
from . import LossSpec


def box_shape(shapes, options):
    """One loss per box pair: the leading dims of (..., 4)."""
    return tuple(shapes[0])[:-1]


_REF = "torchvision.ops"
generalized_box_iou_loss = LossSpec(
    "generalized_box_iou_loss", ("boxes1", "boxes2"), (True, True), box_shape,
    doc=f"1 - GIoU of box pairs (x1, y1, x2, y2), {_REF}.generalized_box_iou_loss.")
distance_box_iou_loss = LossSpec(
    "distance_box_iou_loss", ("boxes1", "boxes2"), (True, True), box_shape,
    doc=f"1 - IoU + centre distance^2 / enclosing diagonal^2, {_REF}.distance_box_iou_loss.")
complete_box_iou_loss = LossSpec(
    "complete_box_iou_loss", ("boxes1", "boxes2"), (True, True), box_shape,
    doc=f"DIoU loss + alpha v (aspect-ratio term), {_REF}.complete_box_iou_loss.")
