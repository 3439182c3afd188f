"""End-to-end Python timings of losskit.torch against torch.nn.functional, side by side in one
process: forward + backward as a training step runs it (fresh gradients each step, freed by
zero_grad), eager and compiled, small and large. Also the kernel alone (the C++ entry with
buffers reused), to show what the Python path adds.

    PYTHONPATH=build/python .venv/bin/python bench/python_e2e.py [--quick] [--threads N]

Prints medians over rounds that alternate losskit and torch, and their ratio (torch time /
losskit time: above 1 means losskit is faster).
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.dlpack import to_dlpack

import losskit
import losskit.torch as LT
from losskit import _losskit


def median_us(fn, reps, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps * 1e6)
    return statistics.median(times)


def step(loss_fn, make):
    x, *rest = make()

    def run():
        loss = loss_fn(x, *rest)
        loss.backward()
        x.grad = None  # as optimizer.zero_grad(set_to_none=True)
    return run


def side_by_side(name, lk, tc, reps, rounds):
    for f in (lk, tc):  # warm up (compiles, caches)
        for _ in range(3):
            f()
    a, b = [], []
    for _ in range(rounds):  # alternate, so drifts of a shared machine hit both
        a.append(median_us(lk, reps, 1))
        b.append(median_us(tc, reps, 1))
    ma, mb = statistics.median(a), statistics.median(b)
    unit, div = ("us", 1) if max(ma, mb) < 5000 else ("ms", 1000)
    print(f"{name:<46} losskit {ma / div:9.2f} {unit}   torch {mb / div:9.2f} {unit}   torch/losskit {mb / ma:5.2f}")


def kernel_only(name, entry, x, t, out, gx, reps, rounds, **opts):
    caps = lambda: ((to_dlpack(x), to_dlpack(t)), to_dlpack(out), None, (to_dlpack(gx), None))
    def run():
        ins, o, go, gs = caps()
        entry("forward_backward", ins, o, go, gs, **opts)
    for _ in range(3):
        run()
    us = statistics.median([median_us(run, reps, 1) for _ in range(rounds)])
    unit, div = ("us", 1) if us < 1000 else ("ms", 1000)
    print(f"{name:<46} kernel alone (buffers reused) {us / div:9.2f} {unit}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--threads", type=int, default=0, help="threads for both (0: as configured)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        losskit.set_num_threads(args.threads)
    rounds = 5 if args.quick else 11
    g = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, losskit {losskit.__version__}, threads torch {torch.get_num_threads()} "
          f"losskit {losskit.get_num_threads()}")

    print("\n== small calls, eager (per-call overhead)")
    ce_small = lambda: (torch.randn(8, 5, generator=g, requires_grad=True), torch.randint(0, 5, (8,), generator=g))
    mse_small = lambda: (torch.randn(1000, generator=g, requires_grad=True), torch.randn(1000, generator=g))
    side_by_side("cross_entropy 8x5 fwd+bwd", step(LT.cross_entropy, ce_small), step(F.cross_entropy, ce_small),
                 2000, rounds)
    side_by_side("mse_loss 1,000 fwd+bwd", step(LT.mse_loss, mse_small), step(F.mse_loss, mse_small), 2000, rounds)
    with torch.no_grad():
        x, y = ce_small()
        side_by_side("cross_entropy 8x5 forward (no_grad)", lambda: LT.cross_entropy(x, y),
                     lambda: F.cross_entropy(x, y), 5000, rounds)

    print("\n== small calls, torch.compile (inductor) of the loss")
    for name, lk, tc, make in [("cross_entropy 8x5 fwd+bwd", LT.cross_entropy, F.cross_entropy, ce_small),
                               ("mse_loss 1,000 fwd+bwd", LT.mse_loss, F.mse_loss, mse_small)]:
        torch._dynamo.reset()
        side_by_side(name + " (compiled)", step(torch.compile(lk, fullgraph=True), make),
                     step(torch.compile(tc, fullgraph=True), make), 1000, rounds)

    print("\n== large calls, eager: fresh gradients each step")
    big_rounds = 5 if args.quick else 9
    n = 16 * 1024 * 1024
    mse_big = lambda: (torch.randn(n, generator=g, requires_grad=True), torch.randn(n, generator=g))
    side_by_side("mse_loss 16M float32 fwd+bwd", step(LT.mse_loss, mse_big), step(F.mse_loss, mse_big), 3, big_rounds)
    x, t = mse_big()
    kernel_only("mse_loss 16M float32 fwd+bwd", _losskit.mse_loss, x.detach(), t, torch.empty(()),
                torch.empty_like(x), 3, big_rounds)
    ce_big = lambda: (torch.randn(4096, 32000, generator=g, requires_grad=True),
                      torch.randint(0, 32000, (4096,), generator=g))
    side_by_side("cross_entropy 4096x32000 fwd+bwd", step(LT.cross_entropy, ce_big), step(F.cross_entropy, ce_big),
                 1, big_rounds)
    x, y = ce_big()
    kernel_only("cross_entropy 4096x32000 fwd+bwd", _losskit.cross_entropy, x.detach(), y, torch.empty(()),
                torch.empty_like(x), 1, big_rounds)
    # jsd (Liger's LigerJSD) against the same loss composed in torch ops: student and teacher
    # log-probabilities, beta = 0.5, the student's gradient.
    def jsd_torch(x, y, beta=0.5):
        log_m = torch.logaddexp(y + math.log(beta), x + math.log(1 - beta))
        return (beta * y.exp() * (y - log_m) + (1 - beta) * x.exp() * (x - log_m)).sum() / x.shape[0]
    jsd_big = lambda: (torch.log_softmax(torch.randn(4096, 32000, generator=g), -1).requires_grad_(),
                       torch.log_softmax(torch.randn(4096, 32000, generator=g), -1))
    side_by_side("jsd 4096x32000 fwd+bwd", step(LT.jsd, jsd_big), step(jsd_torch, jsd_big), 1, big_rounds)
    x, y = jsd_big()
    kernel_only("jsd 4096x32000 fwd+bwd", _losskit.jsd, x.detach(), y, torch.empty(()), torch.empty_like(x), 1,
                big_rounds)
    ce_tr = lambda: (torch.randn(1000, 4096, generator=g).t().requires_grad_(),
                     torch.randint(0, 1000, (4096,), generator=g))
    side_by_side("cross_entropy 4096x1000 transposed fwd+bwd", step(LT.cross_entropy, ce_tr),
                 step(F.cross_entropy, ce_tr), 3, big_rounds)
    # ctc_loss, T=400, N=16, C=64, S=100 (the log_softmax in front is part of neither side's timing)
    lp = torch.randn(400, 16, 64, generator=g).log_softmax(2)
    ctc = lambda: (lp.clone().requires_grad_(), torch.randint(1, 64, (16, 100), generator=g),
                   torch.full((16,), 400), torch.full((16,), 100))
    side_by_side("ctc_loss T=400 N=16 C=64 S=100 fwd+bwd", step(LT.ctc_loss, ctc), step(F.ctc_loss, ctc), 3,
                 big_rounds)
    # generalized_box_iou_loss on 1M box pairs against torchvision's code in torch ops (torchvision
    # does not import beside this torch build; the same expressions as torchvision/ops/giou_loss.py)
    def tv_giou(b1, b2):
        x1, y1, x2, y2 = b1.unbind(-1)
        x1g, y1g, x2g, y2g = b2.unbind(-1)
        xk1, yk1, xk2, yk2 = torch.max(x1, x1g), torch.max(y1, y1g), torch.min(x2, x2g), torch.min(y2, y2g)
        inter = torch.zeros_like(x1)
        mask = (yk2 > yk1) & (xk2 > xk1)
        inter[mask] = (xk2[mask] - xk1[mask]) * (yk2[mask] - yk1[mask])
        union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
        iou = inter / (union + 1e-7)
        area_c = (torch.max(x2, x2g) - torch.min(x1, x1g)) * (torch.max(y2, y2g) - torch.min(y1, y1g))
        return (1 - (iou - (area_c - union) / (area_c + 1e-7))).mean()
    def box_pairs():
        xy = torch.rand(1 << 20, 2, generator=g) * 100
        b1 = torch.cat([xy, xy + 1 + torch.rand(1 << 20, 2, generator=g) * 20], 1).requires_grad_()
        xy2 = xy + torch.randn(1 << 20, 2, generator=g) * 5
        return b1, torch.cat([xy2, xy2 + 1 + torch.rand(1 << 20, 2, generator=g) * 20], 1)
    side_by_side("generalized_box_iou_loss 1M boxes fwd+bwd (vs torchvision code)",
                 step(lambda a, b: LT.generalized_box_iou_loss(a, b, reduction="mean"), box_pairs), step(tv_giou, box_pairs),
                 3, big_rounds)
    print(f"\nbuffer pool: {losskit.buffer_cache_stats()}")


if __name__ == "__main__":
    main()
