"""The Python API itself: signatures as torch.nn.functional, losskit.numpy against torch,
zero-copy strided inputs, int32 targets, no_grad / inference mode, the two backward paths."""
import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit
import losskit.numpy as LN
import losskit.torch as LT

# Every loss losskit.torch shares with torch.nn.functional.
TORCH_LOSSES = ["cross_entropy", "nll_loss", "kl_div",
                "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "poisson_nll_loss", "gaussian_nll_loss",
                "hinge_embedding_loss", "margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss",
                "triplet_margin_with_distance_loss",
                "binary_cross_entropy", "binary_cross_entropy_with_logits",
                "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
                "ctc_loss"]
# Arguments newer PyTorch added after the 1.13 signature (appended last, as there).
NEWER_TORCH_ARGS = {"mse_loss": ["weight"], "l1_loss": ["weight"], "huber_loss": ["weight"]}
# losskit's own keyword-only arguments, after torch's
LOSSKIT_ARGS = {"cross_entropy": ["inplace_grad"]}


def test_every_shared_loss_is_listed():
    shared = {n for n in LT.__all__ if hasattr(F, n)}
    assert shared == set(TORCH_LOSSES)


@pytest.mark.parametrize("name", TORCH_LOSSES)
def test_signature_is_torchs(name):
    ours = inspect.signature(getattr(LT, name)).parameters
    theirs = inspect.signature(getattr(F, name)).parameters
    newer = [p for p in NEWER_TORCH_ARGS.get(name, []) if p not in theirs] + LOSSKIT_ARGS.get(name, [])
    assert [p for p in ours][len(ours) - len(newer):] == newer
    assert [(p.name, p.kind, p.default) for p in ours.values()][:len(ours) - len(newer)] == \
           [(p.name, p.kind, p.default) for p in theirs.values()]


def test_import_losskit_loads_neither_torch_nor_numpy_frontend():
    import subprocess
    import sys
    code = "import sys, losskit; print('losskit.torch' in sys.modules, 'torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["False", "False"]


# ---- losskit.numpy ---------------------------------------------------------------------------
NUMPY_CASES = [
    ("cross_entropy", lambda g: (g.normal(size=(5, 4, 3)), g.integers(0, 4, size=(5, 3))),
     dict(weight=np.array([0.5, 1.0, 2.0, 1.5]), ignore_index=2, label_smoothing=0.1)),
    ("cross_entropy", lambda g: (g.normal(size=(5, 4)), g.dirichlet(np.ones(4), size=5)), dict(label_smoothing=0.2)),
    ("nll_loss", lambda g: (np.log(g.dirichlet(np.ones(4), size=6)), g.integers(0, 4, size=6)),
     dict(weight=np.array([0.5, 1.0, 2.0, 1.5]))),
    ("kl_div", lambda g: (np.log(g.dirichlet(np.ones(4), size=6)), g.dirichlet(np.ones(4), size=6)), {}),
    ("kl_div", lambda g: (np.log(g.dirichlet(np.ones(4), size=6)), np.log(g.dirichlet(np.ones(4), size=6))),
     dict(log_target=True)),
    ("binary_cross_entropy", lambda g: (g.uniform(0.05, 0.95, size=(5, 4)), g.uniform(size=(5, 4))),
     dict(weight=np.array([0.5, 1.0, 2.0, 1.5]))),
    ("binary_cross_entropy_with_logits", lambda g: (g.normal(size=(5, 4)), g.uniform(size=(5, 4))),
     dict(weight=np.array([0.5, 1.0, 2.0, 1.5]), pos_weight=np.array([2.0, 1.0, 0.5, 3.0]))),
    ("soft_margin_loss", lambda g: (g.normal(size=(5, 4)), g.integers(0, 2, size=(5, 4)) * 2.0 - 1), {}),
    ("multilabel_soft_margin_loss", lambda g: (g.normal(size=(5, 4)), g.uniform(size=(5, 4))),
     dict(weight=np.array([0.5, 1.0, 2.0, 1.5]))),
    ("multi_margin_loss", lambda g: (g.normal(size=(5, 4)), g.integers(0, 4, size=5)),
     dict(p=2, margin=0.7, weight=np.array([0.5, 1.0, 2.0, 1.5]))),
    ("multilabel_margin_loss", lambda g: (g.normal(size=(5, 4)), np.array([[1, 3, -1, 0]] * 5)), {}),
]


@pytest.mark.parametrize("case", range(len(NUMPY_CASES)))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strided", [False, True])
def test_numpy_against_torch(case, reduction, np_dtype, strided, rng):
    name, make, kw = NUMPY_CASES[case]
    x, t = make(rng)
    x = x.astype(np_dtype)
    if t.dtype.kind == "f":
        t = t.astype(np_dtype)
    kw = {k: v.astype(np_dtype) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    if strided:  # Fortran order: same values, transposed strides (no copy on the way in)
        x, t = np.asfortranarray(x), np.asfortranarray(t)
    kw["reduction"] = reduction
    tx = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()
    tt = torch.from_numpy(np.ascontiguousarray(t))
    diff_target = name in ("kl_div", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                           "multilabel_soft_margin_loss") or (
        name == "cross_entropy" and t.dtype.kind == "f")
    if diff_target:
        tt.requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(F, name)(tx, tt, **{k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                                          for k, v in kw.items()})
    ref.sum().backward()
    tol = dict(rtol=1e-5, atol=1e-6) if np_dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    value = getattr(LN, name)(x, t, **kw)
    assert isinstance(value, np.ndarray) and value.dtype == np_dtype and value.shape == tuple(ref.shape)
    np.testing.assert_allclose(value, ref.detach().numpy(), **tol)
    res = getattr(LN, name + "_with_grad")(x, t, **kw)
    assert len(res) == (3 if diff_target else 2)
    np.testing.assert_allclose(res[0], value, **tol)
    np.testing.assert_allclose(res[1], tx.grad.numpy(), **tol)
    if diff_target:
        np.testing.assert_allclose(res[2], tt.grad.numpy(), **tol)


def test_numpy_negative_strides_and_read_only(rng):
    x = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6)
    expected = LN.cross_entropy(x, y)
    xr = x[::-1]  # negative strides: copied
    np.testing.assert_allclose(LN.cross_entropy(xr, y[::-1]), expected, rtol=1e-14)
    x.setflags(write=False)
    y.setflags(write=False)
    np.testing.assert_allclose(LN.cross_entropy(x, y), expected, rtol=0)
    np.testing.assert_allclose(LN.cross_entropy(x.tolist(), y.tolist()), expected, rtol=0)


def test_numpy_int32_targets(rng):
    x = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6)
    np.testing.assert_array_equal(LN.cross_entropy(x, y.astype(np.int32), reduction="none"),
                                  LN.cross_entropy(x, y, reduction="none"))


# ---- losskit.torch mechanics -----------------------------------------------------------------
def test_zero_copy_strided_views():
    # The kernels read the caller's memory: a view into a larger buffer, and an expanded tensor
    # (stride 0), give the values of their contiguous copies; grad lands in the view's shape.
    big = torch.randn(8, 10, 6, dtype=torch.float64)
    x = big[::2, 1:9:2, ::3]  # (4, 4, 2), all strides odd
    assert not x.is_contiguous()
    y = torch.randint(0, 4, (4, 2))
    a = LT.cross_entropy(x, y, reduction="none")
    b = F.cross_entropy(x.contiguous(), y, reduction="none")
    torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
    e = torch.randn(1, 4, 1, dtype=torch.float64).expand(4, 4, 2)
    torch.testing.assert_close(LT.cross_entropy(e, y), F.cross_entropy(e.contiguous(), y))
    yt = torch.randint(0, 4, (2, 4)).t()  # transposed target
    torch.testing.assert_close(LT.cross_entropy(x, yt), F.cross_entropy(x, yt.contiguous()))


@pytest.mark.parametrize("target_dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_int32_targets(fn, target_dtype):
    x = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 4, (5, 3))
    a = getattr(LT, fn)(x, y.to(target_dtype), reduction="none")
    b = getattr(F, fn)(x, y, reduction="none")
    torch.testing.assert_close(a, b)
    g = torch.rand_like(b)
    torch.testing.assert_close(torch.autograd.grad(a, x, g)[0], torch.autograd.grad(b, x, g)[0])


def test_no_grad_and_inference_mode():
    x = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 2, 1, 1])
    with torch.no_grad():
        a = LT.cross_entropy(x, y)
    assert not a.requires_grad and a.grad_fn is None
    with torch.inference_mode():
        xi = torch.randn(4, 3)
        b = LT.cross_entropy(xi, y)
        assert b.is_inference()
        torch.testing.assert_close(b, F.cross_entropy(xi, y))
    c = LT.cross_entropy(xi, y)  # an inference tensor used outside inference mode
    torch.testing.assert_close(c, F.cross_entropy(xi, y))
    d = LT.cross_entropy(x, y)
    assert d.requires_grad and type(d.grad_fn).__name__ == "_LossFunctionBackward"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_backward_paths_agree(reduction):
    # Fused (upstream exactly 1) and the C++ backward kernel (any other upstream) agree;
    # backward twice with retain_graph accumulates like torch.
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    xr = x.detach().clone().requires_grad_()
    y = torch.randint(0, 5, (6,))
    a = LT.cross_entropy(x, y, reduction=reduction, label_smoothing=0.1)
    b = F.cross_entropy(xr, y, reduction=reduction, label_smoothing=0.1)
    for scale in (1.0, 2.5, 1.0):
        g = torch.full_like(b, scale)
        a.backward(g, retain_graph=True)
        b.backward(g, retain_graph=True)
        torch.testing.assert_close(x.grad, xr.grad)


def test_optimizer_step_in_place_grad_is_not_shared():
    # After loss.backward() the fused gradient belongs to x.grad; a second forward gives a new one.
    x = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 2, 1, 1])
    LT.cross_entropy(x, y).backward()
    g1 = x.grad.clone()
    x.grad.mul_(0)
    LT.cross_entropy(x, y).backward()
    torch.testing.assert_close(x.grad, g1)


def test_double_backward_is_refused():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 2, 1, 1])
    g, = torch.autograd.grad(LT.cross_entropy(x, y, reduction="sum"), x, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


def test_threads_do_not_change_results():
    x = torch.randn(512, 37, dtype=torch.float32)
    y = torch.randint(0, 37, (512,))
    n = losskit.get_num_threads()
    try:
        losskit.set_num_threads(1)
        a = LT.cross_entropy(x, y, label_smoothing=0.1)
        losskit.set_num_threads(2)
        b = LT.cross_entropy(x, y, label_smoothing=0.1)
    finally:
        losskit.set_num_threads(n)
    assert torch.equal(a, b)


def test_gradcheck_float64():
    x = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 4, (3, 2))
    w = torch.rand(4, dtype=torch.float64) + 0.5
    assert torch.autograd.gradcheck(lambda x: LT.cross_entropy(x, y, weight=w, label_smoothing=0.2), (x,))
    p = torch.log_softmax(torch.randn(3, 4, dtype=torch.float64), -1).requires_grad_()
    t = torch.softmax(torch.randn(3, 4, dtype=torch.float64), -1).requires_grad_()
    assert torch.autograd.gradcheck(lambda p, t: LT.kl_div(p, t, reduction="none"), (p, t))


def test_scaled_loss_reuses_the_fused_gradient(monkeypatch):
    """A scalar upstream gradient other than 1 (loss / steps, a GradScaler) scales the gradient
    the fused forward computed instead of running the C++ backward again."""
    import losskit.torch._function as fn_mod
    passes = []
    real = fn_mod._call
    monkeypatch.setattr(fn_mod, "_call", lambda spec, pass_, *a: passes.append(pass_) or real(spec, pass_, *a))
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(6, 5, dtype=dtype, requires_grad=True)
        y = torch.randint(0, 5, (6,))
        xr = x.detach().clone().requires_grad_()
        passes.clear()
        (LT.cross_entropy(x, y, label_smoothing=0.1) * 0.25).backward()
        assert passes == ["forward_backward"]
        (F.cross_entropy(xr, y, label_smoothing=0.1) * 0.25).backward()
        torch.testing.assert_close(x.grad, xr.grad)
    # A non-finite factor and 16-bit gradients take the C++ backward.
    x = torch.randn(6, 5, requires_grad=True)
    passes.clear()
    (LT.cross_entropy(x, y) * float("inf")).backward()
    assert passes == ["forward_backward", "backward"]
    xb = torch.randn(6, 5).bfloat16().requires_grad_()
    passes.clear()
    (LT.cross_entropy(xb, y) * 0.5).backward()
    assert passes == ["forward_backward", "backward"]


def test_torch_defaults_are_the_bindings():
    """losskit.torch's signatures are written out (torch's order and legacy arguments); each option
    they share with the C++ binding has the binding's default (the one written in C++), so the
    eager functions, the modules, the operators and losskit.numpy agree. Known exceptions:
    torchvision's sigmoid_focal_loss writes gamma=2 (an int: the same value)."""
    import losskit.numpy as LN
    from losskit import _specs
    for name, spec in _specs.all_specs().items():
        params = inspect.signature(getattr(LT, name)).parameters
        for o in spec.options:
            if o.name in params:
                d = params[o.name].default
                assert d == o.default, (name, o.name, d, o.default)
        np_params = inspect.signature(getattr(LN, name)).parameters
        assert [p for p in np_params][:len(spec.inputs)] == list(spec.inputs)
