"""A small training run with losskit.torch.cross_entropy ends at the parameters of the same run
with torch's own loss."""
import pytest
import torch
import torch.nn.functional as F

import losskit.torch as LT


def train(loss_fn, dtype, steps=60, **loss_kw):
    g = torch.Generator().manual_seed(0)
    n, d, c = 96, 10, 4
    centers = torch.randn(c, d, generator=g, dtype=dtype) * 2
    y = torch.randint(0, c, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g, dtype=dtype)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(d, 16), torch.nn.Tanh(), torch.nn.Linear(16, c)).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    losses = []
    for step in range(steps):
        batch = slice((step * 32) % n, (step * 32) % n + 32)
        opt.zero_grad()
        loss = loss_fn(model(x[batch]), y[batch], **loss_kw)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).double().mean().item()
    return [p.detach() for p in model.parameters()], losses, acc


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("loss_kw", [{}, dict(label_smoothing=0.1, weight="w")], ids=["plain", "smoothed+weighted"])
def test_training_matches_torch(dtype, loss_kw):
    if loss_kw.get("weight") == "w":
        loss_kw = dict(loss_kw, weight=torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=dtype))
    ours, our_losses, our_acc = train(LT.cross_entropy, dtype, **loss_kw)
    ref, ref_losses, ref_acc = train(F.cross_entropy, dtype, **loss_kw)
    assert our_losses[-1] < 0.5 * our_losses[0]  # it did learn
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, **tol)
    assert our_acc == ref_acc
