"""Every PyTorch loss of losskit.torch against torch.nn.functional with NaN and +-inf in an input,
a target or a class weight, on rows short enough for the scalar code and long enough for the SIMD
kernels (with tails).

The rule (issue 5): wherever PyTorch's value or gradient is finite, losskit's equals it; with a
NaN in the data, a loss PyTorch makes NaN is NaN in losskit too (NaN is never turned into a
number). Where PyTorch gives NaN or inf from an infinite input, losskit may give the
mathematical limit instead (bce_with_logits at an infinite logit, kl_div at an infinite target,
documented per loss)."""
import math

import pytest
import torch
import torch.nn.functional as F

import losskit.torch as LT
from conftest import TOL, seed_of

pytestmark = [pytest.mark.filterwarnings("ignore:reduction"), pytest.mark.filterwarnings("ignore:kl_div")]  # kl_div mean

NAN, INF = math.nan, math.inf
SPECIALS = {"nan": [NAN], "inf": [INF], "-inf": [-INF], "mixed": [NAN, INF, -INF]}


def spiked(t, values):
    """t with the special values spread over it (every 7th element from 1)."""
    t = t.clone()
    flat = t.view(-1)
    for k, v in enumerate(values):
        flat[(7 * k + 1) % flat.numel()] = v
    return t


def run(fn, inputs, grad_of, reduction):
    xs = [t.detach().clone().requires_grad_(i in grad_of) if isinstance(t, torch.Tensor) else t
          for i, t in enumerate(inputs)]
    loss = fn(*xs, reduction=reduction)
    up = torch.full_like(loss, 0.7)
    grads = torch.autograd.grad(loss, [xs[i] for i in grad_of], up, allow_unused=True)
    return loss.detach(), [torch.zeros_like(xs[i]) if g is None else g for g, i in zip(grads, grad_of)]


def expect_agree(ours, ref, nan_in_data, what):
    tol = TOL[ref.dtype]
    fin = torch.isfinite(ref)
    torch.testing.assert_close(ours[fin], ref[fin], **tol, msg=lambda m: f"{what}: {m}")
    if nan_in_data:
        assert torch.equal(torch.isnan(ours), torch.isnan(ref)), f"{what}: NaN pattern {ours} vs {ref}"


def check(lk, ref, inputs, grad_of, nan_in_data):
    for reduction in ("none", "mean", "sum"):
        lt, gt = run(ref, inputs, grad_of, reduction)
        ll, gl = run(lk, inputs, grad_of, reduction)
        expect_agree(ll, lt, nan_in_data, f"value ({reduction})")
        for k, (a, b) in enumerate(zip(gl, gt)):
            expect_agree(a, b, False, f"gradient {k} ({reduction})")


def case(name, lk, ref=None, **kw):
    ref = ref or getattr(F, name)
    return name, (lambda *a, **k: lk(*a, **kw, **k)), (lambda *a, **k: ref(*a, **kw, **k))


@pytest.mark.parametrize("C", [5, 37])
@pytest.mark.parametrize("special", list(SPECIALS))
def test_non_finite_inputs(C, special, dtype):
    gen = torch.Generator().manual_seed(seed_of(C, special))
    vals, nan = SPECIALS[special], special == "nan"  # "mixed": infinities may give limits
    R = 4
    x = spiked(torch.randn((R, C), generator=gen, dtype=dtype), vals)
    other = torch.randn((R, C), generator=gen, dtype=dtype)
    ids = torch.randint(0, C, (R,), generator=gen)
    binary = torch.randint(0, 2, (R, C), generator=gen).to(dtype)
    pm1 = binary * 2 - 1
    probs = torch.rand((R, C), generator=gen, dtype=dtype)
    lab = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=dtype)
    mlm = torch.full((R, C), -1)
    mlm[:, 0], mlm[:, 1] = 1, 3

    cases = [
        (case("cross_entropy", LT.cross_entropy), [x, ids], [0]),
        (case("cross_entropy", LT.cross_entropy, label_smoothing=0.1), [x, ids], [0]),
        (case("cross_entropy", LT.cross_entropy), [x, torch.softmax(other, 1)], [0]),
        (case("nll_loss", LT.nll_loss), [x, ids], [0]),
        (case("kl_div", LT.kl_div), [x, probs], [0]),
        (case("kl_div", LT.kl_div, log_target=True), [x, other], [0]),
        (case("binary_cross_entropy_with_logits", LT.binary_cross_entropy_with_logits), [x, binary], [0]),
        (case("soft_margin_loss", LT.soft_margin_loss), [x, pm1], [0]),
        (case("multilabel_soft_margin_loss", LT.multilabel_soft_margin_loss), [x, binary], [0]),
        (case("multi_margin_loss", LT.multi_margin_loss), [x, ids], [0]),
        (case("multi_margin_loss", LT.multi_margin_loss, p=2), [x, ids], [0]),
        (case("multilabel_margin_loss", LT.multilabel_margin_loss), [x, mlm], [0]),
        (case("poisson_nll_loss", LT.poisson_nll_loss), [x, probs * 3], [0]),
        (case("poisson_nll_loss", LT.poisson_nll_loss, full=True), [x, probs * 3], [0]),
        (case("gaussian_nll_loss", LT.gaussian_nll_loss), [x, other, probs + 0.1], [0, 1, 2]),
        (case("cosine_embedding_loss", LT.cosine_embedding_loss), [x, other, lab], [0, 1]),
        (case("margin_ranking_loss", LT.margin_ranking_loss), [x, other, pm1], [0, 1]),
        (case("hinge_embedding_loss", LT.hinge_embedding_loss), [x, pm1], [0]),
    ]
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        cases.append((case(name, getattr(LT, name)), [x, other], [0, 1]))
        cases.append((case(name, getattr(LT, name)), [other, x], [0, 1]))  # the special values in the target
    for p in (1.0, 2.0, 3.0, INF):
        for swap in (False, True):
            cases.append((case("triplet_margin_loss", LT.triplet_margin_loss, p=p, swap=swap),
                          [x, other, torch.randn((R, C), generator=gen, dtype=dtype)], [0, 1, 2]))
            cases.append((case("triplet_margin_loss", LT.triplet_margin_loss, p=p, swap=swap),
                          [other, torch.randn((R, C), generator=gen, dtype=dtype), x], [0, 1, 2]))
    for (name, lk, ref), inputs, grad_of in cases:
        try:
            check(lk, ref, inputs, grad_of, nan)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


@pytest.mark.parametrize("C", [5, 37, 300])
@pytest.mark.parametrize("special", list(SPECIALS))
def test_non_finite_class_weights(C, special, dtype):
    gen = torch.Generator().manual_seed(seed_of(C, special, "w"))
    w = spiked(torch.rand(C, generator=gen, dtype=dtype) + 0.5, SPECIALS[special]).abs()
    x = torch.randn((6, C), generator=gen, dtype=dtype)
    ids = torch.randint(0, C, (6,), generator=gen)
    nan = special == "nan"
    for name, lk, ref in (case("cross_entropy", LT.cross_entropy, weight=w),
                          case("cross_entropy", LT.cross_entropy, weight=w, label_smoothing=0.2),
                          case("nll_loss", LT.nll_loss, weight=w),
                          case("multi_margin_loss", LT.multi_margin_loss, weight=w)):
        try:
            check(lk, ref, [x, ids], [0], nan)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None
