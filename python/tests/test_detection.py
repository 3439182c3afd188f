"""The box-regression losses against torchvision.ops' code (torchvision does not import beside
this torch build, so its functions are transcribed below in torch ops, line for line: values and
autograd gradients come from the same expressions). Randomized boxes (overlapping, disjoint,
nested, identical, touching, degenerate), every reduction, eps, shapes (N, 4), (4), (B, N, 4),
broadcasting, integer and 16-bit boxes, strided views, special values, finite differences."""
import math

import pytest
import torch

import losskit.numpy as LN
import losskit.torch as LT
from conftest import TOL


# ---- torchvision/ops/_utils.py, giou_loss.py, diou_loss.py, ciou_loss.py (0.2x), transcribed ----
def _upcast_non_float(t):
    return t.float() if t.dtype not in (torch.float32, torch.float64) else t


def _loss_inter_union(boxes1, boxes2):
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xkis1 = torch.max(x1, x1g)
    ykis1 = torch.max(y1, y1g)
    xkis2 = torch.min(x2, x2g)
    ykis2 = torch.min(y2, y2g)
    intsctk = torch.zeros_like(x1)
    mask = (ykis2 > ykis1) & (xkis2 > xkis1)
    intsctk[mask] = (xkis2[mask] - xkis1[mask]) * (ykis2[mask] - ykis1[mask])
    unionk = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsctk
    return intsctk, unionk


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    return loss


def tv_generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    boxes1, boxes2 = _upcast_non_float(boxes1), _upcast_non_float(boxes2)
    intsctk, unionk = _loss_inter_union(boxes1, boxes2)
    iouk = intsctk / (unionk + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    miouk = iouk - ((area_c - unionk) / (area_c + eps))
    return _reduce(1 - miouk, reduction)


def _diou_iou_loss(boxes1, boxes2, eps=1e-7):
    intsct, union = _loss_inter_union(boxes1, boxes2)
    iou = intsct / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    diagonal_distance_squared = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    x_p, y_p = (x2 + x1) / 2, (y2 + y1) / 2
    x_g, y_g = (x1g + x2g) / 2, (y1g + y2g) / 2
    centers_distance_squared = ((x_p - x_g) ** 2) + ((y_p - y_g) ** 2)
    loss = 1 - iou + (centers_distance_squared / diagonal_distance_squared)
    return loss, iou


def tv_distance_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    boxes1, boxes2 = _upcast_non_float(boxes1), _upcast_non_float(boxes2)
    loss, _ = _diou_iou_loss(boxes1, boxes2, eps)
    return _reduce(loss, reduction)


def tv_complete_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    boxes1, boxes2 = _upcast_non_float(boxes1), _upcast_non_float(boxes2)
    diou_loss, iou = _diou_iou_loss(boxes1, boxes2)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    w_pred, h_pred = x2 - x1, y2 - y1
    w_gt, h_gt = x2g - x1g, y2g - y1g
    v = (4 / (torch.pi**2)) * torch.pow((torch.atan(w_gt / h_gt) - torch.atan(w_pred / h_pred)), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduce(diou_loss + alpha * v, reduction)


PAIRS = [(LT.generalized_box_iou_loss, tv_generalized_box_iou_loss),
         (LT.distance_box_iou_loss, tv_distance_box_iou_loss),
         (LT.complete_box_iou_loss, tv_complete_box_iou_loss)]
IDS = ["giou", "diou", "ciou"]


def boxes(n, dtype=torch.float64, seed=0, lead=()):
    """Random valid boxes, with every relation between pairs: overlapping, disjoint, nested,
    identical, sharing an edge, degenerate (zero width), integer-valued corners (ties)."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(*lead, n, 2, generator=g, dtype=torch.float64) * 10
    wh = torch.rand(*lead, n, 2, generator=g, dtype=torch.float64) * 5 + 0.1
    b1 = torch.cat([xy, xy + wh], -1)
    xy2 = xy + (torch.rand(*lead, n, 2, generator=g, dtype=torch.float64) - 0.5) * 6
    wh2 = torch.rand(*lead, n, 2, generator=g, dtype=torch.float64) * 5 + 0.1
    b2 = torch.cat([xy2, xy2 + wh2], -1)
    if n >= 8:
        b2[..., 0, :] = b1[..., 0, :]                              # identical
        b2[..., 1, :] = b1[..., 1, :] + torch.tensor([1.0, 1, -1, -1], dtype=torch.float64) * 0.2  # nested
        b2[..., 2, :] = b1[..., 2, :] + 20                         # disjoint
        b2[..., 3, 0] = b1[..., 3, 2]                              # touching edge (x1g == x2)
        b1[..., 4, :] = torch.tensor([1.0, 2, 3, 4], dtype=torch.float64)  # integer corners, ties
        b2[..., 4, :] = torch.tensor([1.0, 3, 3, 5], dtype=torch.float64)
        b1[..., 5, 2] = b1[..., 5, 0]                              # zero width
        b2[..., 6, :] = b1[..., 6, :] * 2                          # scaled
    return b1.to(dtype), b2.to(dtype)


def compare(lk, tv, b1, b2, upstream="random", tol=None, **kw):
    a1, a2 = b1.clone().requires_grad_(), b2.clone().requires_grad_()
    r1, r2 = b1.clone().requires_grad_(), b2.clone().requires_grad_()
    la, lb = lk(a1, a2, **kw), tv(r1, r2, **kw)
    assert la.dtype == lb.dtype and la.shape == lb.shape, (la.shape, lb.shape)
    tol = tol or TOL[lb.dtype]
    torch.testing.assert_close(la, lb, equal_nan=True, **tol)
    g = torch.ones_like(lb) if upstream == "one" else torch.rand(lb.shape, dtype=lb.dtype,
                                                                  generator=torch.Generator().manual_seed(3))
    ga = torch.autograd.grad(la, [a1, a2], g, allow_unused=True)
    gb = torch.autograd.grad(lb, [r1, r2], g, allow_unused=True)
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, equal_nan=True, **tol)


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("eps", [1e-7, 0.0, 0.5])
def test_against_torchvision(pair, reduction, eps, dtype):
    for n, seed in [(1, 1), (9, 2), (300, 3)]:
        b1, b2 = boxes(n, dtype, seed)
        compare(*pair, b1, b2, upstream="one" if seed == 2 else "random", reduction=reduction, eps=eps)
        compare(*pair, b2, b1, reduction=reduction, eps=eps)


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
def test_input_forms(pair):
    b1, b2 = boxes(12, torch.float64, 4, lead=(3,))
    compare(*pair, b1, b2)                                      # (B, N, 4)
    compare(*pair, b1[0, 0], b2[0, 0])                          # (4): a 0-d loss
    compare(*pair, b1[:, 0], b2[0, 0])                          # broadcast (3, 4) against (4)
    compare(*pair, b1, b2[:, :1], reduction="sum")              # (3, 12, 4) against (3, 1, 4)
    # torchvision's zeros_like(x1) limits it to boxes1 of the broadcast shape; losskit takes either
    torch.testing.assert_close(pair[0](b1[:, :1], b2), pair[1](b1[:, :1].expand(3, 12, 4), b2))
    compare(*pair, b1.transpose(0, 1), b2.transpose(0, 1))      # strided
    cols = torch.zeros(3, 12, 8, dtype=torch.float64)
    cols[..., ::2] = b1
    compare(*pair, cols[..., ::2], b2, reduction="mean")        # coordinates strided
    compare(*pair, b1[:0], b2[:0], reduction="mean")            # no boxes: mean 0, as torchvision
    assert pair[0](b1[:0], b2[:0], reduction="mean").item() == 0.0
    # integer and 16-bit boxes: computed in float32 (torchvision's _upcast_non_float)
    bi1, bi2 = (b1 * 10).round().long(), (b2 * 10).round().long()
    torch.testing.assert_close(pair[0](bi1, bi2), pair[1](bi1, bi2))
    for half in (torch.bfloat16, torch.float16):
        h1, h2 = b1.to(half).requires_grad_(), b2.to(half).requires_grad_()
        ref1, ref2 = b1.to(half).requires_grad_(), b2.to(half).requires_grad_()
        la, lb = pair[0](h1, h2, reduction="sum"), pair[1](ref1, ref2, reduction="sum")
        assert la.dtype == lb.dtype == torch.float32
        torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-4)
        la.backward()
        lb.backward()
        assert h1.grad.dtype == half
        torch.testing.assert_close(h1.grad, ref1.grad)


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
def test_special_values(pair, dtype):
    b1, b2 = boxes(9, dtype, 5)
    b1[0, 0] = float("nan")
    b1[1, 2] = float("inf")
    b2[2, :] = 0  # a point box
    b1[2, :] = 0  # two point boxes: 0/eps
    b2[3, :] = torch.tensor([1e30, 1e30, 2e30, 2e30], dtype=dtype)  # huge coordinates
    compare(*pair, b1, b2, reduction="none")
    compare(*pair, b1[2:], b2[2:], reduction="mean", eps=0.0)


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
def test_finite_differences(pair):
    b1, b2 = boxes(20, torch.float64, 6)
    keep = [0, 1, 2, 6] + list(range(7, 20))  # away from the ties and kinks of rows 3 (touching), 4 and 5
    b1, b2 = b1[keep].clone().requires_grad_(), b2[keep].clone().requires_grad_()
    if pair[0] is not LT.complete_box_iou_loss:
        assert torch.autograd.gradcheck(lambda x, y: pair[0](x, y, reduction="sum"), (b1, b2))
        return
    # CIoU holds alpha constant (torch.no_grad in torchvision), so its gradient is not the
    # derivative of its value: it is the DIoU loss's (checked by finite differences above) plus
    # alpha times the derivative of the aspect-ratio term v (here by torch autograd of v's formula).
    assert torch.autograd.gradcheck(lambda x, y: LT.distance_box_iou_loss(x, y, reduction="sum"), (b1, b2))
    g_ciou = torch.autograd.grad(LT.complete_box_iou_loss(b1, b2, reduction="sum"), (b1, b2))
    g_diou = torch.autograd.grad(LT.distance_box_iou_loss(b1, b2, reduction="sum"), (b1, b2))
    w, h = b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1]
    wg, hg = b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1]
    v = 4 / math.pi**2 * (torch.atan(wg / hg) - torch.atan(w / h)) ** 2
    with torch.no_grad():
        alpha = v / (1 - _diou_iou_loss(b1, b2)[1] + v + 1e-7)
    g_v = torch.autograd.grad((alpha * v).sum(), (b1, b2))
    for c, d, e in zip(g_ciou, g_diou, g_v):
        torch.testing.assert_close(c, d + e, rtol=1e-10, atol=1e-12)


def test_ciou_eps_only_in_alpha():
    # torchvision's complete_box_iou_loss passes eps to alpha only (its DIoU part uses 1e-7)
    b1, b2 = boxes(9, torch.float64, 7)
    compare(LT.complete_box_iou_loss, tv_complete_box_iou_loss, b1, b2, eps=0.3)


def test_errors():
    b = torch.rand(5, 4)
    with pytest.raises(RuntimeError, match=r"^generalized_box_iou_loss: boxes1 must have shape \(\.\.\., 4\)"):
        LT.generalized_box_iou_loss(torch.rand(5, 3), torch.rand(5, 3))
    with pytest.raises(RuntimeError, match="^distance_box_iou_loss: boxes1 and boxes2 must have the same shape"):
        LT.distance_box_iou_loss(b, torch.rand(3, 4))
    # mixed dtypes promote, as torch's arithmetic in torchvision's code
    b64 = torch.rand(5, 4, dtype=torch.float64)
    assert LT.distance_box_iou_loss(b, b64).dtype == torch.float64
    with pytest.raises(ValueError, match="^complete_box_iou_loss: eps = -1 must be finite and >= 0"):
        LT.complete_box_iou_loss(b, b, eps=-1.0)
    with pytest.raises(ValueError, match="^generalized_box_iou_loss: reduction = 'avg'"):
        LT.generalized_box_iou_loss(b, b, reduction="avg")


def test_numpy_and_module():
    b1, b2 = boxes(9, torch.float64, 8)
    for name, tv in [("generalized_box_iou_loss", tv_generalized_box_iou_loss),
                     ("distance_box_iou_loss", tv_distance_box_iou_loss),
                     ("complete_box_iou_loss", tv_complete_box_iou_loss)]:
        r1, r2 = b1.clone().requires_grad_(), b2.clone().requires_grad_()
        ref = tv(r1, r2, reduction="sum")
        ref.backward()
        v, g1, g2 = getattr(LN, name + "_with_grad")(b1.numpy(), b2.numpy(), reduction="sum")
        torch.testing.assert_close(torch.from_numpy(v), ref.detach())
        torch.testing.assert_close(torch.from_numpy(g1), r1.grad)
        torch.testing.assert_close(torch.from_numpy(g2), r2.grad)
    m = LT.nn.CompleteBoxIoULoss(reduction="mean", eps=1e-6)
    torch.testing.assert_close(m(b1, b2), tv_complete_box_iou_loss(b1, b2, reduction="mean", eps=1e-6))


# ---- the (N, M) matrices: torchvision/ops/boxes.py, transcribed -------------------------------
def _upcast(t):
    if t.is_floating_point():
        return t if t.dtype in (torch.float32, torch.float64) else t.float()
    return t if t.dtype in (torch.int32, torch.int64) else t.int()


def tv_box_area(boxes):
    boxes = _upcast(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _box_inter_union(boxes1, boxes2):
    area1, area2 = tv_box_area(boxes1), tv_box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = _upcast(rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area1[:, None] + area2 - inter


def tv_box_iou(boxes1, boxes2):
    inter, union = _box_inter_union(boxes1, boxes2)
    return inter / union


def tv_generalized_box_iou(boxes1, boxes2):
    inter, union = _box_inter_union(boxes1, boxes2)
    iou = inter / union
    lti = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rbi = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    whi = _upcast(rbi - lti).clamp(min=0)
    areai = whi[:, :, 0] * whi[:, :, 1]
    return iou - (areai - union) / areai


def _box_diou_iou(boxes1, boxes2, eps=1e-7):
    iou = tv_box_iou(boxes1, boxes2)
    lti = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rbi = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    whi = _upcast(rbi - lti).clamp(min=0)
    diagonal_distance_squared = (whi[:, :, 0] ** 2) + (whi[:, :, 1] ** 2) + eps
    x_p = (boxes1[:, 0] + boxes1[:, 2]) / 2
    y_p = (boxes1[:, 1] + boxes1[:, 3]) / 2
    x_g = (boxes2[:, 0] + boxes2[:, 2]) / 2
    y_g = (boxes2[:, 1] + boxes2[:, 3]) / 2
    centers_distance_squared = (_upcast((x_p[:, None] - x_g[None, :])) ** 2) + (
        _upcast((y_p[:, None] - y_g[None, :])) ** 2)
    return iou - (centers_distance_squared / diagonal_distance_squared), iou


def tv_distance_box_iou(boxes1, boxes2, eps=1e-7):
    boxes1, boxes2 = _upcast(boxes1), _upcast(boxes2)
    return _box_diou_iou(boxes1, boxes2, eps=eps)[0]


def tv_complete_box_iou(boxes1, boxes2, eps=1e-7):
    boxes1, boxes2 = _upcast(boxes1), _upcast(boxes2)
    diou, iou = _box_diou_iou(boxes1, boxes2, eps)
    w_pred = boxes1[:, None, 2] - boxes1[:, None, 0]
    h_pred = boxes1[:, None, 3] - boxes1[:, None, 1]
    w_gt = boxes2[:, 2] - boxes2[:, 0]
    h_gt = boxes2[:, 3] - boxes2[:, 1]
    v = (4 / (torch.pi**2)) * torch.pow(torch.atan(w_pred / h_pred) - torch.atan(w_gt / h_gt), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


MATRICES = [(LT.box_iou, tv_box_iou, False), (LT.generalized_box_iou, tv_generalized_box_iou, False),
            (LT.distance_box_iou, tv_distance_box_iou, True), (LT.complete_box_iou, tv_complete_box_iou, True)]


def matrix_sets(n, m, dtype, seed):
    a1, a2 = boxes(max(n, m, 9), dtype, seed)
    return a1[:n], torch.cat([a2, a1])[:m]  # boxes2 shares some boxes with boxes1 (identical pairs)


@pytest.mark.parametrize("fns", MATRICES, ids=["iou", "giou", "diou", "ciou"])
def test_matrices_against_torchvision(fns, dtype):
    lk, tv, has_eps = fns
    for n, m, seed in [(1, 1, 1), (9, 14, 2), (40, 7, 3), (0, 5, 4)]:
        b1, b2 = matrix_sets(n, m, dtype, seed)
        for kw in ([{}, dict(eps=0.3)] if has_eps else [{}]):
            compare(lambda x, y, **k: lk(x, y, **k), lambda x, y, **k: tv(x, y, **k), b1, b2, **kw)
    # strided boxes, and a transposed layout
    b1, b2 = matrix_sets(9, 14, dtype, 5)
    compare(lk, tv, b1.t().contiguous().t(), b2[::1])
    # special values: NaN, inf, point boxes (0/0 in box_iou, as torchvision)
    b1, b2 = matrix_sets(9, 9, dtype, 6)
    b1[0, 0] = float("nan")
    b1[1, 2] = float("inf")
    b1[2] = 0
    b2[2] = 0
    compare(lk, tv, b1, b2)


@pytest.mark.parametrize("fns", MATRICES, ids=["iou", "giou", "diou", "ciou"])
def test_matrices_finite_differences_and_compile(fns):
    lk, tv, _ = fns
    b1, b2 = matrix_sets(7, 6, torch.float64, 7)
    b1, b2 = b1[[0, 1, 2, 6]].clone(), b2[[0, 1, 2, 3, 5]].clone()  # away from ties and kinks
    if lk is not LT.complete_box_iou:  # complete_box_iou holds alpha constant: not a derivative
        assert torch.autograd.gradcheck(lk, (b1.requires_grad_(), b2.requires_grad_()))
    torch.library.opcheck(torch.ops.losskit.box_matrix.default, (lk.__name__, b1.detach(), b2.detach(), 1e-7))
    compiled = torch.compile(lk, fullgraph=True, backend="aot_eager")
    x1, x2 = b1.detach().clone().requires_grad_(), b2.detach().clone().requires_grad_()
    y1, y2 = b1.detach().clone().requires_grad_(), b2.detach().clone().requires_grad_()
    out_c, out_e = compiled(x1, x2), lk(y1, y2)
    torch.testing.assert_close(out_c, out_e)
    out_c.sum().backward()
    out_e.sum().backward()
    torch.testing.assert_close(x1.grad, y1.grad)
    torch.testing.assert_close(x2.grad, y2.grad)


def test_matrix_errors_and_forms():
    with pytest.raises(RuntimeError, match=r"^box_iou: boxes1 must have shape \(N, 4\)"):
        LT.box_iou(torch.rand(2, 3, 4), torch.rand(3, 4))
    with pytest.raises(ValueError, match="^distance_box_iou: eps = -1 must be finite"):
        LT.distance_box_iou(torch.rand(2, 4), torch.rand(3, 4), eps=-1.0)
    b1, b2 = matrix_sets(5, 4, torch.float64, 8)
    torch.testing.assert_close(LT.box_iou((b1 * 10).round().long(), (b2 * 10).round().long()),
                               tv_box_iou((b1 * 10).round().long(), (b2 * 10).round().long()).float())
    assert LT.generalized_box_iou(b1.float(), b2).dtype == torch.float64
