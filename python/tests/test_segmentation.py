"""losskit.torch.dice_loss against MONAI's DiceLoss (monai.losses.DiceLoss, the MONAI of
python/requirements-peers.txt): every option, 1-3 spatial dims, values and autograd gradients."""
import pytest
import torch
import torch.nn.functional as F

import losskit.numpy as LN
import losskit.torch as LT
from conftest import check_parity, seed_of
from peers import monai_dice_loss, quiet


@quiet
def monai_dice(input, target, weight=None, **opts):
    """monai.losses.DiceLoss(**opts)(input, target). losskit's int64/int32 class ids (B, 1, ...)
    or (B, ...) are always one-hot encoded: MONAI's to_onehot_y of the float ids (B, 1, ...)
    (with one channel MONAI ignores to_onehot_y and takes the ids as the binary mask, as losskit)."""
    DiceLoss = monai_dice_loss()
    if not target.is_floating_point():
        target = (target if target.dim() == input.dim() else target.unsqueeze(1)).to(input.dtype)
        opts["to_onehot_y"] = True
    C = input.shape[1]
    if (opts.get("to_onehot_y") and C > 1 and input.dtype == torch.float64
            and (opts.get("squared_pred") or opts.get("soft_label"))):
        # MONAI's to_onehot_y makes a float32 one-hot, and its squared_pred / soft_label path takes
        # the target's vector_norm in float32 before squaring it (relative errors ~1e-8 in a
        # float64 loss): one-hot with MONAI's own one_hot in the input's dtype instead.
        from monai.networks.utils import one_hot
        target = one_hot(target, num_classes=C, dtype=input.dtype)
        opts["to_onehot_y"] = False
    return DiceLoss(weight=weight, **opts)(input, target)


OPTION_SETS = [
    {}, dict(include_background=False), dict(sigmoid=True), dict(softmax=True),
    dict(softmax=True, include_background=False, weight="w"), dict(squared_pred=True), dict(jaccard=True),
    dict(jaccard=True, squared_pred=True, sigmoid=True), dict(batch=True), dict(batch=True, softmax=True, jaccard=True),
    dict(soft_label=True), dict(smooth_nr=0.0, smooth_dr=1e-3), dict(weight="w"),
    dict(batch=True, weight="w", include_background=False, sigmoid=True, soft_label=True, smooth_nr=1e-3),
]
TARGETS = ["onehot", "soft", "ids_int", "ids_float"]


def make(shape, target_kind, dtype, gen, opts):
    B, C = shape[:2]
    x = torch.randn(shape, generator=gen, dtype=dtype)
    if not (opts.get("sigmoid") or opts.get("softmax")):
        x = torch.sigmoid(x)  # probabilities
    ids = torch.randint(0, C, (B, 1) + shape[2:], generator=gen)
    if target_kind == "onehot":
        t = F.one_hot(ids[:, 0], C).movedim(-1, 1).to(dtype)
    elif target_kind == "soft":
        t = torch.softmax(torch.randn(shape, generator=gen, dtype=dtype), 1)
    elif target_kind == "ids_int":
        t = ids if torch.rand((), generator=gen) < 0.5 else ids[:, 0]
    else:
        t = ids.to(dtype)
    return x, t


@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 4, 3, 2), (2, 1, 4, 3), (1, 2, 2, 2, 3)], ids=str)
@pytest.mark.parametrize("opts", range(len(OPTION_SETS)))
@pytest.mark.parametrize("target_kind", TARGETS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dice_loss(shape, opts, target_kind, reduction, dtype, layout):
    opts = dict(OPTION_SETS[opts])
    C = shape[1]
    if target_kind == "ids_float":
        opts["to_onehot_y"] = True
    if target_kind == "ids_int" and C == 1:
        pytest.skip("int ids with one channel are a binary mask; covered by the float mask cases")
    gen = torch.Generator().manual_seed(seed_of(shape, sorted(opts.items()), target_kind, reduction))
    if opts.get("weight") == "w":
        n = C - 1 if (not opts.get("include_background", True) and C > 1) else C
        opts["weight"] = torch.rand(n, generator=gen, dtype=dtype) + 0.2
    x, t = make(shape, target_kind, dtype, gen, opts)
    opts["reduction"] = reduction
    check_parity(LT.dice_loss, monai_dice, [x, t], opts, grad_of=[0], layout=layout,
                 upstream="one" if reduction != "none" else "random")


def test_dice_numpy_matches_torch():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    ids = torch.randint(0, 3, (2, 4, 4), generator=gen)
    kw = dict(softmax=True, include_background=False, reduction="none")
    xt = x.clone().requires_grad_()
    ref = LT.dice_loss(xt, ids, **kw)
    ref.sum().backward()
    value, grad = LN.dice_loss_with_grad(x.numpy(), ids.numpy(), **kw)
    torch.testing.assert_close(torch.from_numpy(value), ref.detach(), rtol=0, atol=0)
    torch.testing.assert_close(torch.from_numpy(grad), xt.grad, rtol=1e-14, atol=1e-15)


def test_dice_errors():
    x = torch.rand(2, 3, 4)
    with pytest.raises(ValueError, match="^dice_loss: "):
        LT.dice_loss(x, x, reduction="batchmean")
    with pytest.raises(RuntimeError, match="^dice_loss: "):
        LT.dice_loss(x, torch.rand(2, 2, 4))
    with pytest.raises(IndexError, match="^dice_loss: "):
        LT.dice_loss(x, torch.full((2, 4), 3))
    with pytest.raises((ValueError, RuntimeError), match="^dice_loss: "):
        LT.dice_loss(x, x, sigmoid=True, softmax=True)


# ---- tversky_loss against MONAI's TverskyLoss -------------------------------------------------
@quiet
def monai_tversky(input, target, **opts):
    """monai.losses.TverskyLoss(**opts)(input, target), with losskit's int class ids one-hot
    encoded by MONAI's to_onehot_y of the float ids (as monai_dice)."""
    TverskyLoss = pytest.importorskip("monai.losses").TverskyLoss
    if not target.is_floating_point():
        target = (target if target.dim() == input.dim() else target.unsqueeze(1)).to(input.dtype)
        opts["to_onehot_y"] = True
    C = input.shape[1]
    if opts.get("to_onehot_y") and C > 1 and input.dtype == torch.float64 and opts.get("soft_label"):
        from monai.networks.utils import one_hot  # MONAI's float32 one-hot, see monai_dice
        target = one_hot(target, num_classes=C, dtype=input.dtype)
        opts["to_onehot_y"] = False
    return TverskyLoss(**opts)(input, target)


TVERSKY_OPTIONS = [
    {}, dict(alpha=0.3, beta=0.7), dict(alpha=1.0, beta=1.0, include_background=False), dict(sigmoid=True, alpha=0.8),
    dict(softmax=True, beta=0.9), dict(batch=True, alpha=0.2, beta=0.6), dict(soft_label=True, alpha=0.7),
    dict(softmax=True, batch=True, include_background=False, soft_label=True, smooth_nr=1e-3, smooth_dr=1e-2),
    dict(alpha=0.0, beta=2.0, smooth_nr=0.0),
]


@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 4, 3, 2), (2, 1, 4, 3)], ids=str)
@pytest.mark.parametrize("opts", range(len(TVERSKY_OPTIONS)))
@pytest.mark.parametrize("target_kind", TARGETS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_tversky_loss(shape, opts, target_kind, reduction, dtype, layout):
    opts = dict(TVERSKY_OPTIONS[opts])
    C = shape[1]
    if target_kind == "ids_float":
        opts["to_onehot_y"] = True
    if target_kind == "ids_int" and C == 1:
        pytest.skip("int ids with one channel are a binary mask; covered by the float mask cases")
    gen = torch.Generator().manual_seed(seed_of(shape, sorted(opts.items()), target_kind, reduction, "tversky"))
    x, t = make(shape, target_kind, dtype, gen, opts)
    opts["reduction"] = reduction
    check_parity(LT.tversky_loss, monai_tversky, [x, t], opts, grad_of=[0], layout=layout,
                 upstream="one" if reduction != "none" else "random")


def test_tversky_finite_differences_numpy_and_module():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(2, 3, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 3, (2, 4, 3), generator=gen)
    for kw in [dict(softmax=True, alpha=0.3, beta=0.7), dict(sigmoid=True, batch=True, soft_label=True, alpha=0.9)]:
        assert torch.autograd.gradcheck(lambda z: LT.tversky_loss(z, ids, reduction="none", **kw), (x,))
    kw = dict(softmax=True, alpha=0.3, beta=0.7, reduction="none")
    ref = LT.tversky_loss(x, ids, **kw)
    g, = torch.autograd.grad(ref.sum(), x)
    value, grad = LN.tversky_loss_with_grad(x.detach().numpy(), ids.numpy(), **kw)
    torch.testing.assert_close(torch.from_numpy(value), ref.detach(), rtol=0, atol=0)
    torch.testing.assert_close(torch.from_numpy(grad), g, rtol=1e-14, atol=1e-15)
    m = LT.nn.TverskyLoss(softmax=True, alpha=0.3, beta=0.7)
    torch.testing.assert_close(m(x, ids), LT.tversky_loss(x, ids, softmax=True, alpha=0.3, beta=0.7))
    # alpha = beta = 0.5 is the Dice loss without smoothing (MONAI's shapes differ for 'none': (B, C)
    # against (B, C, 1, 1)); alpha = beta = 1 the Jaccard loss
    for ab, jac in [(0.5, False), (1.0, True)]:
        torch.testing.assert_close(
            LT.tversky_loss(x, ids, softmax=True, reduction="none", alpha=ab, beta=ab, smooth_nr=0.0, smooth_dr=0.0),
            LT.dice_loss(x, ids, softmax=True, reduction="none", jaccard=jac, smooth_nr=0.0, smooth_dr=0.0)[..., 0, 0])


def test_tversky_errors():
    x = torch.rand(2, 3, 4)
    with pytest.raises(ValueError, match="^tversky_loss: alpha = inf must be finite"):
        LT.tversky_loss(x, x, alpha=float("inf"))
    with pytest.raises(RuntimeError, match="^tversky_loss: target has shape"):
        LT.tversky_loss(x, torch.rand(2, 2, 4))
    with pytest.raises(IndexError, match=r"^tversky_loss: target\[0, 0, 1\] = 3 is outside \[0, 3\)"):
        LT.tversky_loss(x, torch.tensor([[[0, 3, 1, 1]], [[0, 0, 0, 0]]]))


# ---- generalized_dice_loss against MONAI's GeneralizedDiceLoss ---------------------------------
@quiet
def monai_gdl(input, target, **opts):
    GeneralizedDiceLoss = pytest.importorskip("monai.losses").GeneralizedDiceLoss
    if not target.is_floating_point():
        target = (target if target.dim() == input.dim() else target.unsqueeze(1)).to(input.dtype)
        opts["to_onehot_y"] = True
    C = input.shape[1]
    if opts.get("to_onehot_y") and C > 1 and input.dtype == torch.float64:
        from monai.networks.utils import one_hot  # MONAI's float32 one-hot, see monai_dice
        target = one_hot(target, num_classes=C, dtype=input.dtype)
        opts["to_onehot_y"] = False
    return GeneralizedDiceLoss(**opts)(input, target)


GDL_OPTIONS = [
    {}, dict(w_type="simple"), dict(w_type="uniform"), dict(include_background=False, softmax=True),
    dict(sigmoid=True, batch=True), dict(batch=True, w_type="simple", soft_label=True),
    dict(softmax=True, soft_label=True, smooth_nr=1e-3, smooth_dr=1e-2),
]


@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 4, 3, 2), (2, 1, 4, 3)], ids=str)
@pytest.mark.parametrize("opts", range(len(GDL_OPTIONS)))
@pytest.mark.parametrize("target_kind", TARGETS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_generalized_dice_loss(shape, opts, target_kind, reduction, dtype, layout):
    opts = dict(GDL_OPTIONS[opts])
    C = shape[1]
    if target_kind == "ids_float":
        opts["to_onehot_y"] = True
    if target_kind == "ids_int" and C == 1:
        pytest.skip("int ids with one channel are a binary mask; covered by the float mask cases")
    gen = torch.Generator().manual_seed(seed_of(shape, sorted(opts.items()), target_kind, reduction, "gdl"))
    x, t = make(shape, target_kind, dtype, gen, opts)
    opts["reduction"] = reduction
    check_parity(LT.generalized_dice_loss, monai_gdl, [x, t], opts, grad_of=[0], layout=layout,
                 upstream="one" if reduction != "none" else "random")


def test_generalized_dice_empty_classes_and_finite_differences():
    # a class absent from an item's target: infinite weight, replaced by the item's largest
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(2, 4, 3, 3, generator=gen, dtype=torch.float64)
    ids = torch.randint(0, 2, (2, 1, 3, 3), generator=gen)  # classes 2 and 3 never appear
    for w_type in ["square", "simple", "uniform"]:
        check_parity(LT.generalized_dice_loss, monai_gdl, [x, ids], dict(softmax=True, w_type=w_type),
                     grad_of=[0], upstream="one")
        assert torch.autograd.gradcheck(
            lambda z: LT.generalized_dice_loss(z, ids, softmax=True, w_type=w_type, reduction="none"),
            (x.clone().requires_grad_(),))
    with pytest.raises(ValueError, match="^generalized_dice_loss: w_type = 'cube'"):
        LT.generalized_dice_loss(x, ids, w_type="cube")
    m = LT.nn.GeneralizedDiceLoss(softmax=True, w_type="simple")
    torch.testing.assert_close(m(x, ids), LT.generalized_dice_loss(x, ids, softmax=True, w_type="simple"))
