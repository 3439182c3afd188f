"""Specs of the segmentation losses (include/losskit/segmentation.hpp)."""
from . import LossSpec


def dice_shape(shapes, options):
    """MONAI's reduction='none' shape: (B, C', 1, .., 1), (C', 1, .., 1) with batch; C' drops the
    background channel when include_background is False and C > 1."""
    s = tuple(shapes[0])
    if len(s) < 2:
        return ()  # invalid; the C++ checks say why
    c = s[1] - 1 if (not options.get("include_background", True) and s[1] > 1) else s[1]
    ones = (1,) * (len(s) - 2)
    return ((c,) if options.get("batch", False) else (s[0], c)) + ones


dice_loss = LossSpec("dice_loss", ("input", "target"), (True, False), dice_shape,
                     doc='Soft Dice loss, MONAI DiceLoss options.')


def tversky_shape(shapes, options):
    """MONAI TverskyLoss's reduction='none' shape: (B, C'), (C') with batch."""
    s = tuple(shapes[0])
    if len(s) < 2:
        return ()  # invalid; the C++ checks say why
    c = s[1] - 1 if (not options.get("include_background", True) and s[1] > 1) else s[1]
    return (c,) if options.get("batch", False) else (s[0], c)


tversky_loss = LossSpec("tversky_loss", ("input", "target"), (True, False), tversky_shape,
                        doc="1 - (tp + smooth) / (tp + alpha fp + beta fn + smooth), MONAI TverskyLoss options.")


def gdl_shape(shapes, options):
    """MONAI GeneralizedDiceLoss's reduction='none' shape: (B, 1, 1, .., 1); with batch (1, .., 1)
    with one dim fewer (its f.shape[0:2] + ones)."""
    s = tuple(shapes[0])
    if len(s) < 2:
        return ()  # invalid; the C++ checks say why
    ones = (1,) * (len(s) - 2)
    return ((1,) if options.get("batch", False) else (s[0], 1)) + ones


generalized_dice_loss = LossSpec("generalized_dice_loss", ("input", "target"), (True, False), gdl_shape,
                                 doc="Generalized Dice loss (class weights 1/volume^2), MONAI GeneralizedDiceLoss.")
