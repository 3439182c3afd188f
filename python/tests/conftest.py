"""Shared helpers of the Python tests: layouts, tolerances and a torch-parity check."""
import zlib

import numpy as np
import pytest
import torch

DTYPES = [torch.float32, torch.float64]
LAYOUTS = ["contiguous", "strided", "permuted"]
TOL = {torch.float32: dict(rtol=2e-5, atol=2e-6), torch.float64: dict(rtol=1e-10, atol=1e-12)}


def seed_of(*args):
    """A seed that depends on the test's parameters only (not on PYTHONHASHSEED)."""
    return zlib.crc32(repr(args).encode())


def with_layout(t, layout):
    """The same values in another memory layout (a non-contiguous view), never a copy of t's
    layout: 'strided' keeps every other element of a twice-as-big buffer, 'permuted' stores the
    dims in reverse order."""
    if layout == "contiguous" or t.dim() == 0:
        return t.clone()
    if layout == "strided":
        big = torch.zeros(t.shape + (2,), dtype=t.dtype)
        big[..., 1] = t
        v = big[..., 1]
        assert t.numel() <= 1 or not v.is_contiguous()
        return v
    if layout == "permuted":
        rev = list(range(t.dim()))[::-1]
        return t.permute(rev).contiguous().permute(rev)
    raise ValueError(layout)


def check_parity(lk_fn, ref_fn, inputs, kwargs, grad_of, layout="contiguous", upstream="random", seed=0,
                 tol_dtype=None):
    """Compares values and gradients of lk_fn and ref_fn (same call). grad_of: indices of the
    inputs to differentiate. upstream: 'one' (loss.backward()), or 'random' upstream gradients.
    tol_dtype: compare with that dtype's tolerances (a reference that rounds to float32 inside)."""
    gen = torch.Generator().manual_seed(seed)
    lk_in = [with_layout(t, layout) if isinstance(t, torch.Tensor) else t for t in inputs]
    ref_in = [t.clone() if isinstance(t, torch.Tensor) else t for t in inputs]
    for i in grad_of:
        lk_in[i].requires_grad_(True)
        ref_in[i].requires_grad_(True)
    a = lk_fn(*lk_in, **kwargs)
    b = ref_fn(*ref_in, **kwargs)
    assert isinstance(a, torch.Tensor)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.shape, b.shape)
    tol = TOL[tol_dtype or b.dtype]
    torch.testing.assert_close(a, b, **tol, equal_nan=True)
    if not grad_of:
        return a
    if upstream == "one":
        g = torch.ones_like(b)
    else:
        g = torch.rand(b.shape, generator=gen, dtype=b.dtype) * 2 - 0.5
    ga = torch.autograd.grad(a, [lk_in[i] for i in grad_of], g)
    gb = torch.autograd.grad(b, [ref_in[i] for i in grad_of], g)
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, **tol, equal_nan=True)
    return a


@pytest.fixture(params=DTYPES, ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture(params=LAYOUTS)
def layout(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
