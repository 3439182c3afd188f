"""losskit.torch.cross_entropy / nll_loss against torch.nn.functional: values and gradients."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

import losskit.torch as LT
from conftest import check_parity, seed_of

SHAPES = [(7,), (6, 5), (4, 3, 5), (3, 4, 2, 3), (0, 4)]


def class_ids(shape, C, gen, ignore=None):
    """Class ids for an input of `shape` (class dim 1, 0 for 1-D), some set to `ignore`."""
    cd = 0 if len(shape) == 1 else 1
    tshape = shape[:cd] + shape[cd + 1:]
    y = torch.randint(0, C, tshape, generator=gen)
    if ignore is not None and y.numel():
        mask = torch.rand(tshape, generator=gen) < 0.3
        y = torch.where(mask, torch.full_like(y, ignore), y)
    return y


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted,ignore,smoothing",
                         [(False, None, 0.0), (True, None, 0.0), (False, 1, 0.0), (True, 2, 0.25),
                          (False, None, 0.1), (True, -100, 1.0)])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_cross_entropy_class_ids(shape, reduction, weighted, ignore, smoothing, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, weighted, ignore, smoothing))
    C = shape[0] if len(shape) == 1 else shape[1]
    x = torch.randn(shape, generator=gen, dtype=dtype) * 3
    y = class_ids(shape, C, gen, ignore)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if weighted:
        kw["weight"] = torch.rand(C, generator=gen, dtype=dtype) + 0.1
    if ignore is not None:
        kw["ignore_index"] = ignore
    check_parity(LT.cross_entropy, F.cross_entropy, [x, y], kw, grad_of=[0], layout=layout, upstream=upstream)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.2)])
def test_cross_entropy_probabilities(shape, reduction, weighted, smoothing, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, weighted, smoothing))
    C = shape[0] if len(shape) == 1 else shape[1]
    cd = 0 if len(shape) == 1 else 1
    x = torch.randn(shape, generator=gen, dtype=dtype) * 2
    t = torch.softmax(torch.randn(shape, generator=gen, dtype=dtype), dim=cd)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if weighted:
        kw["weight"] = torch.rand(C, generator=gen, dtype=dtype) + 0.1
    check_parity(LT.cross_entropy, F.cross_entropy, [x, t], kw, grad_of=[0], layout=layout)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted,ignore", [(False, None), (True, None), (False, 0), (True, 1)])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_nll_loss(shape, reduction, weighted, ignore, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, weighted, ignore))
    C = shape[0] if len(shape) == 1 else shape[1]
    cd = 0 if len(shape) == 1 else 1
    x = torch.log_softmax(torch.randn(shape, generator=gen, dtype=dtype), dim=cd)
    y = class_ids(shape, C, gen, ignore)
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = torch.rand(C, generator=gen, dtype=dtype) + 0.1
    if ignore is not None:
        kw["ignore_index"] = ignore
    check_parity(LT.nll_loss, F.nll_loss, [x, y], kw, grad_of=[0], layout=layout, upstream=upstream)


@pytest.mark.parametrize("C", [5, 37, 300])  # short rows, vector rows, the pipeline
@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_cross_entropy_non_finite_class_weight(C, bad, dtype):
    """A NaN or inf class weight without label smoothing reaches only the rows of its class,
    as in PyTorch (the smoothing term's sum of weights is not formed)."""
    gen = torch.Generator().manual_seed(seed_of(C, bad))
    x = torch.randn((6, C), generator=gen, dtype=dtype)
    w = torch.rand(C, generator=gen, dtype=dtype) + 0.5
    w[2] = bad
    y = torch.tensor([0, 1, 3, 4, 0, 1])  # class 2 not a target: every value finite
    for reduction in ("none", "mean", "sum"):
        check_parity(LT.cross_entropy, F.cross_entropy, [x, y], dict(weight=w, reduction=reduction), grad_of=[0])
        check_parity(LT.nll_loss, F.nll_loss, [x, y], dict(weight=w, reduction=reduction), grad_of=[0])
    y2 = torch.tensor([0, 2, 3, 4, 0, 1])  # class 2 a target: that row (and the mean) non-finite
    check_parity(LT.cross_entropy, F.cross_entropy, [x, y2], dict(weight=w, reduction="none"), grad_of=[0])


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("size_average,reduce", list(itertools.product([None, True, False], repeat=2))[1:])
def test_legacy_reduction_arguments(fn, size_average, reduce):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (5,), generator=gen)
    kw = dict(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning):
        a = getattr(LT, fn)(x, y, **kw)
    with pytest.warns(UserWarning):
        b = getattr(F, fn)(x, y, **kw)
    torch.testing.assert_close(a, b)


def test_int32_targets_are_accepted():
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (6,))
    a = LT.cross_entropy(x, y.to(torch.int32))
    b = F.cross_entropy(x, y)
    torch.testing.assert_close(a, b)
    ga, = torch.autograd.grad(a, x)
    gb, = torch.autograd.grad(b, x)
    torch.testing.assert_close(ga, gb)
