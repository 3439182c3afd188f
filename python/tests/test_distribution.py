"""losskit.torch.kl_div against torch.nn.functional.kl_div: values, gradients w.r.t. input and
target."""
import warnings

import pytest
import torch
import torch.nn.functional as F

import losskit.torch as LT
from conftest import check_parity, seed_of

SHAPES = [(5,), (4, 6), (3, 4, 5), (2, 3, 2, 4), (0, 3)]


def kl_inputs(shape, dtype, log_target, gen, zeros):
    x = torch.log_softmax(torch.randn(shape, generator=gen, dtype=dtype), dim=-1)
    t = torch.softmax(torch.randn(shape, generator=gen, dtype=dtype) * 2, dim=-1)
    if zeros and t.numel():
        t = torch.where(torch.rand(shape, generator=gen) < 0.25, torch.zeros_like(t), t)
    if log_target:
        t = torch.log_softmax(torch.randn(shape, generator=gen, dtype=dtype), dim=-1)
    return x, t


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
# Zero target probabilities with a target gradient are left out here: d/dt of t*log(t) at
# t = 0 is nan in torch and 0 in losskit (test_kl_div_zero_target_gradient_is_finite).
@pytest.mark.parametrize("log_target,zeros,grad_of",
                         [(False, False, [0]), (False, False, [0, 1]), (False, False, [1]),
                          (False, True, [0]), (True, False, [0]), (True, False, [0, 1]), (True, False, [1])])
@pytest.mark.parametrize("upstream", ["one", "random"])
def test_kl_div(shape, reduction, log_target, zeros, grad_of, upstream, dtype, layout):
    gen = torch.Generator().manual_seed(seed_of(shape, reduction, log_target, zeros))
    x, t = kl_inputs(shape, dtype, log_target, gen, zeros)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_parity(LT.kl_div, F.kl_div, [x, t], dict(reduction=reduction, log_target=log_target),
                     grad_of=grad_of, layout=layout, upstream=upstream)


def test_kl_div_zero_target_gradient_is_finite():
    x = torch.log_softmax(torch.randn(3, 4, dtype=torch.float64), -1).requires_grad_()
    t = torch.tensor([[0.0, 0.5, 0.5, 0.0]] * 3, dtype=torch.float64, requires_grad=True)
    LT.kl_div(x, t, reduction="batchmean").backward()
    assert torch.isfinite(t.grad).all()
    assert (t.grad[:, 0] == 0).all()
    torch.testing.assert_close(x.grad, -t.detach() / 3)


def test_kl_div_mean_warns_like_torch():
    x = torch.zeros(2, 3)
    with pytest.warns(UserWarning):
        LT.kl_div(x, x.exp() / 3)
