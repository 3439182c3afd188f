#!/usr/bin/env python3
"""golden.py: bitwise golden record of every losskit loss (values AND gradients).

Guards refactors of the C++ kernels that must not change a single output bit. It calls only the
raw extension entries

    losskit._losskit.<loss>(pass, inputs, out, grad_output, grads, **options)

(python/CONTRIBUTING-bindings.md) with buffers it allocates itself (NaN-filled before each call),
on a fixed randomized suite, and stores the sha256 of the raw bytes of every buffer written.

Coverage: every LossSpec in losskit/_specs (a warning names any without a case table below),
every option of the pybind11 defs in python/src/bindings/*.cpp (checked against
each entry's signature; options never given a non-default value are listed on stderr), every
reduction each loss accepts (plus rejected ones), target kinds (int64 / int32 class ids,
probabilities, one-hot, soft, +-1 / 0-1 labels), and for each option set the forms
    f32 and f64 contiguous: small (3x5), rows long enough for the SIMD row kernels (8x37) and
        large (>20000 elements, so several 8192-element reduction blocks run);
    f32 non-contiguous inputs: transposed ("T"), every other element ("s2"), padded rows
        ("pad"); f32 padded output/gradient buffers ("outpad", the gaps must stay untouched);
    extra ranks: 0-d, 1-d, 3-d, spatial (N, C, d1, d2), empty batches;
    only the first gradient buffer given ("c+g0") for losses with several differentiable inputs;
    "special" values: NaN, +-inf, +-0, huge, subnormal, zero probabilities, -inf logits, ties;
    float16 for the losses with 16-bit overloads (nll_loss, cross_entropy with class ids);
    bad calls (wrong reduction, dtype, shape, negative strides, out-of-range ids ...), whose
        exception type and message are recorded instead ("error").
Each case runs the passes "forward", "backward" (upstream gradient: random of the loss shape
for reduction='none', a 0-d 0.7 otherwise) and "forward_backward". Case names are stable
strings: loss|target kind|options|red=...|dtype|layout|size|values|pass. Inputs come from
numpy.random.default_rng seeded by a hash of the case name (without dtype, layout, reduction
and pass, so those variants see the same values).

Usage (with the extension on PYTHONPATH, e.g. PYTHONPATH=build/python):
    scripts/golden.py record FILE [--arrays DIR]   record digests (and raw arrays as .npy)
    scripts/golden.py compare FILE [--arrays DIR]  recompute; print every differing case, with
                                                   max abs / max ULP differences when DIR holds
                                                   the recorded arrays; exit 1 if any differ
    --filter SUBSTR runs only the cases whose name contains SUBSTR (compare then ignores the rest).
The file is JSON: {"meta": {...simd target, threads...}, "cases": {name: record}} with one case
per line; a record is {"error": "ValueError: ..."} or {"buffers": {"out"|"grad.<input>":
{"sha256", "shape", "dtype"}}}, plus "inputs_modified"/"gaps_written"/"untouched" flags when
an input changed, a padded output's gaps were written, or a failing call wrote a buffer.
Arrays are stored content-addressed: DIR/<sha256[:2]>/<sha256>.npy.
meta.simd_target is None while _losskit has no simd_target() query; meta.cpu (the CPU model)
stands in for it, and compare warns when either differs from the record (the dispatched SIMD
target changes float32 bits). Results must not depend on LOSSKIT_NUM_THREADS: compare a record
made with the default against a run with LOSSKIT_NUM_THREADS=1.
"""
from __future__ import annotations

import argparse, hashlib, importlib, json, os, pkgutil, platform, re, sys, time
from dataclasses import dataclass

import numpy as np

from losskit import _losskit
import losskit._specs as specs_pkg
from losskit._specs import LossSpec

NAN, INF = float("nan"), float("inf")
PASSES = ("forward", "backward", "forward_backward")
RED3 = ("none", "mean", "sum")
DT = {"f16": np.float16, "f32": np.float32, "f64": np.float64}
# Values the "special" variants scatter into free float inputs (1e-40 is subnormal in float32).
SPECIAL = [NAN, INF, -INF, 0.0, -0.0, 1e30, -1e30, 1e-40, 88.5, -88.5]
SHAPES = {  # size name -> shape, per input kind
    "pw": {"small": (3, 5), "rows": (8, 37), "large": (200, 129), "1d": (11,), "3d": (2, 3, 7), "0d": (),
           "empty": (0, 5)},
    "cls": {"small": (3, 5), "rows": (8, 37), "large": (600, 43), "1d": (5,), "spatial": (2, 5, 3, 4),
            "spatial_large": (4, 6, 40, 30), "empty": (0, 5)},
    "last": {"small": (3, 5), "rows": (8, 37), "large": (600, 43), "1d": (7,), "3d": (2, 3, 5), "empty": (0, 5)},
    "dice": {"small": (2, 3, 4, 5), "rows": (2, 3, 8, 37), "large": (2, 4, 60, 55), "3sp": (2, 3, 3, 4, 5),
             "1sp": (2, 3, 7)},
}
EXTRAS = {"pw": ("1d", "3d", "0d", "empty"), "cls": ("1d", "spatial", "spatial_large", "empty"),
          "last": ("1d", "3d", "empty"), "dice": ("3sp", "1sp"), "cls2d": ("1d", "empty"), "last2d": ("1d", "empty")}


# ---- input generators (float64 / int64 masters; cast to the case dtype later) -------------------
def softmax(z, ax):
    if not z.size:
        return z
    e = np.exp(z - z.max(axis=ax, keepdims=True))
    return e / e.sum(axis=ax, keepdims=True)


def log_softmax(z, ax):
    if not z.size:
        return z
    m = z.max(axis=ax, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=ax, keepdims=True))


def cdim(shape):  # the class dim of class-score losses
    return 0 if len(shape) == 1 else 1


def no_cdim(shape):
    return shape[:cdim(shape)] + shape[cdim(shape) + 1:]


def wshape(shape, kind):
    if kind == "cls":
        return (shape[cdim(shape)],)
    if kind == "fg":  # dice without the background channel
        return (max(shape[1] - 1, 1),)
    return {"full": shape, "last": shape[-1:], "col": shape[:-1] + (1,)}[kind]


def arr_opts(rng, shape, opts):
    """Array options are written '@kind' in the option dict: weights in [0.5, 2] of that shape."""
    return {k: rng.uniform(0.5, 2.0, wshape(shape, v[1:])) for k, v in opts.items()
            if isinstance(v, str) and v.startswith("@")}


def class_ids(rng, shape, C, opts, int32=False):
    y = rng.integers(0, C, no_cdim(shape))
    if "ignore_index" in opts and y.size:
        y.flat[rng.choice(y.size, max(1, y.size // 5), replace=False)] = opts["ignore_index"]
    return y.astype(np.int32 if int32 else np.int64)


def make_cls(kind):
    """nll_loss / cross_entropy / focal / poly-1 / multi_margin: (input, target)."""
    def make(rng, shape, tag, opts):
        C = shape[cdim(shape)]
        x = rng.standard_normal(shape) * 3
        if kind == "logp":
            x = log_softmax(x, cdim(shape))
        if tag.startswith("ids"):
            y = class_ids(rng, shape, C, opts, int32=tag == "ids32")
        else:
            y = softmax(rng.standard_normal(shape) * 2, cdim(shape))
        return [x, y], arr_opts(rng, shape, opts)
    return make


def make_pair(xgen, ygen):
    def make(rng, shape, tag, opts):
        x, y = xgen(rng, shape, tag), ygen(rng, shape, tag)
        return [x, y], arr_opts(rng, shape, opts)
    return make


def normal(s=1.0):
    return lambda rng, shape, tag: rng.standard_normal(shape) * s


def uniform(a, b):
    return lambda rng, shape, tag: rng.uniform(a, b, shape)


def labels(rng, shape, tag):
    """+-1 labels ('pm1'), 0/1 ('01', 'hard'), soft labels ('soft'), one-hot rows ('onehot')."""
    if tag == "pm1":
        return rng.choice([-1.0, 1.0], shape)
    if tag in ("01", "hard", "multihot"):
        return rng.integers(0, 2, shape).astype(np.float64)
    if tag == "soft":
        return rng.uniform(0, 1, shape)
    if tag == "onehot":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])] if shape[-1] else np.zeros(shape)
    raise ValueError(tag)


def make_kl(rng, shape, tag, opts):
    ax = len(shape) - 1 if shape else None
    x = log_softmax(rng.standard_normal(shape), ax) if shape else np.array(-0.7)
    t = softmax(rng.standard_normal(shape) * 2, ax) if shape else np.array(0.4)
    return [x, np.log(t) if opts.get("log_target") else t], {}


def make_gauss(rng, shape, tag, opts):
    vs = {"elem": shape, "col": shape[:-1] + (1,), "row": shape[:-1]}[tag]
    return [rng.standard_normal(shape), rng.standard_normal(shape), rng.uniform(0.05, 2.0, vs)], {}


def make_poisson(rng, shape, tag, opts):
    x = rng.standard_normal(shape) if opts.get("log_input", True) else rng.uniform(0, 3, shape)
    return [x, rng.poisson(2.0, shape).astype(np.float64)], {}


def make_pair_target(rng, shape, tag, opts):  # margin_ranking
    return [rng.standard_normal(shape), rng.standard_normal(shape), rng.choice([-1.0, 1.0], shape)], {}


def make_cosine(rng, shape, tag, opts):
    return [rng.standard_normal(shape), rng.standard_normal(shape), rng.choice([-1.0, 1.0], shape[:-1])], {}


def make_triplet(rng, shape, tag, opts):
    return [rng.standard_normal(shape) for _ in range(3)], {}


def make_perceptron(rng, shape, tag, opts):  # multiclass_perceptron: ids over the last dim, ties
    x = np.round(rng.standard_normal(shape) * 2)
    y = rng.integers(0, max(shape[-1], 1), shape[:-1]) if shape else np.array(0)
    return [x, y.astype(np.int32 if tag == "ids32" else np.int64)], {}


def make_mlm(rng, shape, tag, opts):  # multilabel_margin: rows of ids padded with -1, junk after
    C = shape[-1]
    y = rng.integers(-1, C, shape)
    for row in y.reshape(-1, C):
        k = rng.integers(0, C + 1)
        row[:k] = rng.permutation(C)[:k]
        if k >= 2 and rng.random() < 0.3:
            row[1] = row[0]  # a label listed twice
        if k < C:
            row[k] = -1
    return [rng.standard_normal(shape) * 2, y.astype(np.int32 if tag == "ids32" else np.int64)], {}


def make_dice(rng, shape, tag, opts):
    if tag.startswith("c1_"):
        shape = (shape[0], 1) + shape[2:]
        tag = tag[3:]
    B, C, sp = shape[0], shape[1], shape[2:]
    x = rng.standard_normal(shape) * 2
    if not (opts.get("sigmoid") or opts.get("softmax")):
        x = 1 / (1 + np.exp(-x))
    ids = rng.integers(0, C if C > 1 else 2, (B, 1) + sp)
    if tag == "onehot":
        t = np.moveaxis(np.eye(C)[ids[:, 0]], -1, 1) if C > 1 else ids.astype(np.float64)
    elif tag == "soft":
        t = softmax(rng.standard_normal(shape), 1) if C > 1 else rng.uniform(0, 1, shape)
    elif tag in ("ids", "ids32"):
        t = ids.astype(np.int32 if tag == "ids32" else np.int64)
    elif tag == "ids_nochan":
        t = ids[:, 0]
    elif tag == "ids_float":
        t = ids.astype(np.float64)
    else:
        raise ValueError(tag)
    return [x, t], arr_opts(rng, shape, opts)


# ---- special values -------------------------------------------------------------------------------
def scatter(rng, a, values):
    if a.ndim and a.size and a.dtype.kind == "f":
        n = min(len(values), a.size)
        a.flat[rng.choice(a.size, n, replace=False)] = values[:n]


def sp_free(idx=(0,), extra=()):
    """NaN/inf/... into the inputs `idx`, plus `extra` values into every other float input."""
    def special(rng, ins, opts):
        for i, a in enumerate(ins):
            scatter(rng, a, SPECIAL if i in idx else list(extra))
    return special


def sp_ties(rng, ins, opts):  # ties and kinks (x == y, |x - y| == 1, 0.5) plus non-finite values
    x, y = ins[0], ins[1]
    if x.size >= 4:
        k = rng.choice(x.size, min(x.size, 6), replace=False)
        x.flat[k] = y.flat[k] + np.array([0, 0, 1, -1, 0.5, -0.5])[:len(k)]
    scatter(rng, x, SPECIAL[:5])
    scatter(rng, y, [NAN, INF, 0.0])


def sp_logits(rng, ins, opts):  # class scores: -inf (masked classes), +inf, NaN; zero probabilities
    x, y = ins[0], ins[1]
    if x.size:
        flat = x.reshape(-1)
        k = rng.choice(x.size, min(x.size, 6), replace=False)
        flat[k] = [-INF, -INF, -INF, INF, NAN, 0.0][:len(k)]
        if y.dtype.kind == "f":
            y.reshape(-1)[k[:3]] = 0.0  # zero probability where the logit is -inf
            y.reshape(-1)[k[3:4]] = 0.0


def sp_kl(rng, ins, opts):
    x, t = ins
    if x.size >= 6:
        k = rng.choice(x.size, 6, replace=False)
        x.flat[k] = [-INF, -INF, NAN, INF, 0.0, -1e30]
        zero = -INF if opts.get("log_target") else 0.0  # log_target stores log-probabilities
        t.flat[k[:2]] = zero
        t.flat[k[2:3]] = zero
        t.flat[rng.choice(x.size, 2, replace=False)] = [NAN, -0.25 if zero == 0.0 else INF]


def sp_bce(rng, ins, opts):  # probabilities exactly 0 and 1 (clamped logs), NaN in the target
    x, y = ins
    if x.size >= 6:
        k = rng.choice(x.size, 6, replace=False)
        x.flat[k] = [0.0, 1.0, 0.0, 1.0, 1e-30, 1 - 1e-7]
        y.flat[k] = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
        y.flat[rng.choice(x.size, 1)] = NAN


def sp_gauss(rng, ins, opts):
    scatter(rng, ins[0], SPECIAL[:6])
    scatter(rng, ins[1], [NAN, INF])
    scatter(rng, ins[2], [0.0, 1e-6, INF, NAN, 1e-30])


def sp_poisson(rng, ins, opts):
    x, y = ins
    if x.size >= 6:
        k = rng.choice(x.size, 6, replace=False)
        lin = not opts.get("log_input", True)  # rates, not log-rates
        x.flat[k] = [0.0, -1e-8, INF, NAN, 0.0, 1e-30] if lin else [-INF, -INF, INF, NAN, 0.0, 50.0]
        y.flat[k] = [0.0, 0.0, 0.0, 1.0, 3.0, 1.0]
        y.flat[rng.choice(x.size, 2, replace=False)] = [NAN, 1.0]


def sp_rows(rng, ins, opts):  # embeddings: a zero row, anchor == positive, NaN/inf, label 0
    a = ins[0]
    if a.ndim == 2 and a.shape[0] >= 3:
        a[0] = 0.0
        ins[1][1] = a[1]
        a[2, 0] = NAN
        ins[1][2 % a.shape[0], -1] = INF
        if len(ins) == 3 and ins[2].shape == a.shape:
            ins[2][1] = ins[1][1]  # swap ties: d(a, n) == d(p, n)
    if len(ins) == 3 and ins[2].ndim == 1 and ins[2].shape != a.shape and ins[2].size:
        ins[2][-1] = 0.0  # a label other than +-1


# ---- the case table -------------------------------------------------------------------------------
@dataclass
class Variant:
    loss: str
    tag: str                  # target kind / input flavour, passed to make
    opts: dict                # options; '@kind' values are arrays made by make
    make: object
    kind: str                 # SHAPES key (cls2d/last2d: no extra ranks beyond 1-d)
    reductions: tuple = RED3
    special: object = None
    half: bool = False        # float16 overloads exist
    partial: bool = False     # run also with only the first gradient buffer
    extra: bool = True        # run the EXTRAS sizes


def prod(**lists):
    keys = list(lists)
    out = [{}]
    for k in keys:
        out = [dict(d, **({k: v} if v is not None else {})) for d in out for v in lists[k]]
    return out


def table():
    V = []
    add = lambda loss, tags, optsets, make, kind, **kw: V.extend(
        Variant(loss, t, o, make, kind, **kw) for t in tags for o in optsets)
    # classification
    ce_ids = [{}, {"weight": "@cls"}, {"ignore_index": -100}, {"ignore_index": 1}, {"label_smoothing": 0.1},
              {"label_smoothing": 1.0}, {"weight": "@cls", "label_smoothing": 0.2},
              {"weight": "@cls", "ignore_index": 0, "label_smoothing": 0.3}]
    add("cross_entropy", ["ids"], ce_ids, make_cls("logits"), "cls", special=sp_logits, half=True)
    add("cross_entropy", ["ids32"], [{}, {"weight": "@cls", "ignore_index": 2, "label_smoothing": 0.1}],
        make_cls("logits"), "cls", special=sp_logits, half=True)
    add("cross_entropy", ["probs"], [{}, {"weight": "@cls"}, {"label_smoothing": 0.15},
                                     {"weight": "@cls", "label_smoothing": 0.25}],
        make_cls("logits"), "cls", special=sp_logits)
    add("nll_loss", ["ids"], [{}, {"weight": "@cls"}, {"ignore_index": -100}, {"ignore_index": 2},
                              {"weight": "@cls", "ignore_index": 0}], make_cls("logp"), "cls",
        special=sp_logits, half=True)
    add("nll_loss", ["ids32"], [{"weight": "@cls", "ignore_index": 1}], make_cls("logp"), "cls",
        special=sp_logits, half=True)
    add("binary_cross_entropy", ["hard", "soft"], [{}, {"weight": "@full"}, {"weight": "@last"}, {"weight": "@col"}],
        make_pair(uniform(0.01, 0.99), labels), "pw", special=sp_bce)
    add("binary_cross_entropy_with_logits", ["hard", "soft"],
        [{}, {"weight": "@full"}, {"weight": "@last"}, {"pos_weight": "@last"}, {"pos_weight": "@col"},
         {"pos_weight": "@full"}, {"weight": "@last", "pos_weight": "@last"},
         {"weight": "@col", "pos_weight": "@last"}], make_pair(normal(3), labels), "pw", special=sp_free((0,)))
    add("sigmoid_focal_loss", ["hard", "soft"],
        prod(alpha=[None], gamma=[None, 0.0, 0.5, 1.0, 1.5, 3.0]) + [{"alpha": -1.0}, {"alpha": 0.75, "gamma": 0.5},
                                                                     {"alpha": 0.0, "gamma": 2.5}],
        make_pair(normal(3), labels), "pw", special=sp_free((0,)))
    sf = prod(alpha=[None], gamma=[None, 0.0, 0.5, 1.5]) + [
        {"alpha": 1.0, "gamma": 1.0}, {"class_alpha": "@cls"}, {"label_smoothing": 0.1},
        {"class_alpha": "@cls", "gamma": 2.5, "label_smoothing": 0.2}]
    add("softmax_focal_loss", ["ids"], sf + [{"ignore_index": -100}, {"ignore_index": 1, "class_alpha": "@cls"}],
        make_cls("logits"), "cls", special=sp_logits)
    add("softmax_focal_loss", ["probs"], sf, make_cls("logits"), "cls", special=sp_logits)
    add("poly1_cross_entropy", ["ids"], [{}, {"epsilon": 0.0}, {"epsilon": -1.0}, {"epsilon": 1.5},
                                         {"ignore_index": -100}, {"ignore_index": 2, "epsilon": 0.5}],
        make_cls("logits"), "cls", special=sp_logits)
    add("poly1_cross_entropy", ["probs"], [{}, {"epsilon": 0.0}, {"epsilon": -1.0}, {"epsilon": 1.5}],
        make_cls("logits"), "cls", special=sp_logits)
    # distribution, segmentation
    add("kl_div", ["probs"], [{}, {"log_target": True}], make_kl, "pw", reductions=RED3 + ("batchmean",),
        special=sp_kl, partial=True)
    dice_opts = [{}, {"include_background": False}, {"sigmoid": True}, {"softmax": True},
                 {"softmax": True, "include_background": False, "weight": "@fg"}, {"squared_pred": True},
                 {"jaccard": True}, {"jaccard": True, "squared_pred": True, "sigmoid": True}, {"batch": True},
                 {"batch": True, "softmax": True, "jaccard": True}, {"soft_label": True},
                 {"soft_label": True, "jaccard": True, "sigmoid": True},
                 {"smooth_nr": 0.0, "smooth_dr": 1e-3}, {"weight": "@cls"}]
    add("dice_loss", ["onehot", "soft", "ids"], dice_opts, make_dice, "dice", special=sp_free((0,), [NAN]))
    add("dice_loss", ["ids_nochan", "ids32"], [{}, {"softmax": True, "include_background": False}],
        make_dice, "dice")
    add("dice_loss", ["ids_float"], [{"to_onehot_y": True}, {"to_onehot_y": True, "softmax": True, "batch": True},
                                     {"to_onehot_y": True, "include_background": False, "weight": "@fg"}],
        make_dice, "dice")
    add("dice_loss", ["c1_onehot", "c1_soft", "c1_ids"], [{}, {"sigmoid": True}, {"softmax": True},
                                                          {"include_background": False, "weight": "@fg"},
                                                          {"to_onehot_y": True}],
        make_dice, "dice")
    # regression
    W = [{}, {"weight": "@full"}]  # same shape as the input (no broadcasting: see SPECIFIC_ERRORS)
    rp = dict(kind="pw", special=sp_ties, partial=True)
    add("mse_loss", ["real"], W, make_pair(normal(), normal()), **rp)
    add("l1_loss", ["real"], W, make_pair(normal(), normal()), **rp)
    add("huber_loss", ["real"], W + [{"delta": 0.5}, {"delta": 3.0, "weight": "@full"}],
        make_pair(normal(2), normal()), **rp)
    add("smooth_l1_loss", ["real"], [{}, {"beta": 0.0}, {"beta": 0.25}, {"beta": 2.0}],
        make_pair(normal(2), normal()), **rp)
    add("poisson_nll_loss", ["counts"], prod(log_input=[None, False], full=[None, True]) + [
        {"log_input": False, "eps": 0.5}], make_poisson, "pw", special=sp_poisson, partial=True)
    add("gaussian_nll_loss", ["elem", "col", "row"], prod(full=[None, True], eps=[None, 0.5]), make_gauss, "pw",
        special=sp_gauss, partial=True)
    add("log_cosh_loss", ["real"], [{}], make_pair(normal(200), normal()), **rp)
    add("l2_loss", ["real"], [{}], make_pair(normal(2), normal()), **rp)
    add("quantile_loss", ["real"], [{}, {"tau": 0.1}, {"tau": 0.9}, {"tau": 0.0}, {"tau": 1.0}],
        make_pair(normal(), normal()), **rp)
    add("msle_loss", ["real"], [{}, {"eps": 0.5}], make_pair(uniform(-0.5, 3), uniform(0, 3)), kind="pw",
        special=sp_free((0, 1)), partial=True)
    add("mape_loss", ["real"], [{}, {"eps": 0.5}], make_pair(normal(), normal()), kind="pw",
        special=sp_free((0, 1)), partial=True)
    # embedding
    add("hinge_embedding_loss", ["pm1"], [{}, {"margin": 0.5}, {"margin": 2.5}],
        make_pair(uniform(0, 3), labels), "pw", special=sp_free((0,), [0.0, 2.0, NAN]))
    add("margin_ranking_loss", ["pm1"], [{}, {"margin": 0.5}, {"margin": -0.3}], make_pair_target, "pw",
        special=sp_free((0,), [0.0, NAN]), partial=True)
    add("cosine_embedding_loss", ["pm1"], [{}, {"margin": 0.3}, {"margin": -0.2}], make_cosine, "last2d",
        special=sp_rows, partial=True)
    add("triplet_margin_loss", ["real"], prod(p=[None, 1.0, 3.0, 0.0, 1.5, INF], swap=[None, True]) + [
        {"margin": 0.3, "eps": 0.0}, {"eps": 1e-3, "swap": True, "margin": 2.0}], make_triplet, "last",
        special=sp_rows, partial=True)
    add("triplet_margin_with_distance_loss", ["real"],
        prod(distance=[None], swap=[None, True], p=[None, 1.0, 3.0]) + [
            {"eps": 0.0, "margin": 0.2}, {"distance": "cosine"}, {"distance": "cosine", "swap": True},
            {"distance": "cosine", "cosine_eps": 0.5, "margin": 0.2}], make_triplet, "last",
        special=sp_rows, partial=True)
    # margin
    add("soft_margin_loss", ["pm1"], [{}], make_pair(normal(3), labels), "pw",
        special=sp_free((0,), [0.0, NAN, 100.0]))
    add("multilabel_soft_margin_loss", ["01", "soft"], [{}, {"weight": "@last"}, {"weight": "@full"},
                                                        {"weight": "@col"}], make_pair(normal(3), labels), "last",
        special=sp_free((0,)))
    add("multi_margin_loss", ["ids"], prod(p=[None, 2], margin=[None, 0.5]) + [
        {"weight": "@cls"}, {"p": 2, "margin": 2.0, "weight": "@cls"}], make_cls("logits"), "cls2d",
        special=sp_free((0,)))
    add("multilabel_margin_loss", ["ids", "ids32"], [{}], make_mlm, "last2d", special=sp_free((0,)))
    for loss in ("hinge_loss", "squared_hinge_loss"):
        add(loss, ["pm1", "01"], [{}], make_pair(normal(2), labels), "last", special=sp_free((0,), [0.0, 2.0]))
    add("categorical_hinge_loss", ["onehot", "multihot"], [{}], make_pair(normal(2), labels), "last",
        special=sp_free((0,), [NAN]))
    add("multiclass_perceptron_loss", ["ids", "ids32"], [{}], make_perceptron, "last",
        special=sp_free((0,), [NAN, INF, -INF]))
    return V


# ---- error cases: bad calls whose exception type and message are part of the behaviour ------------
def _err_dtype(s):
    a = s.ins[1]
    s.ins[1] = a.astype(np.float64 if a.dtype == np.float32 else np.int16 if a.dtype.kind == "i" else np.float32)


def _err_shape(s):
    x = s.ins[0]
    s.ins[0] = np.concatenate([x, x[:1]], axis=0) if x.ndim else x.reshape(1)


ERRORS = {  # name -> mutation of the call state (ins, aopts, opts, out_shape, pass_name, bufs)
    "reduction_bogus": lambda s: s.opts.update(reduction="bogus"),
    "reduction_batchmean": lambda s: s.opts.update(reduction="batchmean"),
    "pass_bogus": lambda s: setattr(s, "pass_name", "bogus"),
    "dtype_mismatch": _err_dtype,
    "int_input": lambda s: s.ins.__setitem__(0, s.ins[0].astype(np.int64)),
    "shape_mismatch": _err_shape,
    "negative_stride": lambda s: s.ins.__setitem__(0, s.ins[0][::-1]),
    "out_shape": lambda s: setattr(s, "out_shape", tuple(s.out_shape) + (2,)),
    "readonly_out": lambda s: setattr(s, "readonly", True),
    "grad_dtype": lambda s: setattr(s, "grad_dtype", np.float64),
    "grads_count": lambda s: setattr(s, "grads_extra", True),
    "unknown_option": lambda s: s.opts.update(bogus_option=1),
}
SPECIFIC_ERRORS = {  # loss -> {name: option/input mutation}
    "cross_entropy": {"label_smoothing_1.5": lambda s: s.opts.update(label_smoothing=1.5),
                      "probs_positive_ignore_index": lambda s: (s.opts.update(ignore_index=1), s.ins.__setitem__(
                          1, np.full(s.ins[0].shape, 0.2, s.ins[0].dtype))),
                      "label_smoothing_neg": lambda s: s.opts.update(label_smoothing=-0.1)},
    "binary_cross_entropy": {"input_above_1": lambda s: s.ins[0].__setitem__((0, 0), 1.5),
                             "input_nan": lambda s: s.ins[0].__setitem__((0, 0), NAN)},
    "gaussian_nll_loss": {"var_negative": lambda s: s.ins[2].__setitem__((0, 0), -0.5),
                          "var_bad_shape": lambda s: s.ins.__setitem__(2, s.ins[2][:, :2])},
    "smooth_l1_loss": {"beta_negative": lambda s: s.opts.update(beta=-1.0)},
    "huber_loss": {"delta_zero": lambda s: s.opts.update(delta=0.0)},
    "multi_margin_loss": {"p_3": lambda s: s.opts.update(p=3)},
    "sigmoid_focal_loss": {"gamma_negative": lambda s: s.opts.update(gamma=-1.0)},
    "softmax_focal_loss": {"gamma_negative": lambda s: s.opts.update(gamma=-1.0)},
    "triplet_margin_loss": {"p_negative": lambda s: s.opts.update(p=-1.0)},
    "triplet_margin_with_distance_loss": {"distance_bogus": lambda s: s.opts.update(distance="bogus")},
    "dice_loss": {"no_spatial_dims": lambda s: [s.ins.__setitem__(i, s.ins[i][:, :, 0, 0]) for i in (0, 1)],
                  "weight_wrong_length": lambda s: s.aopts.update(weight=np.ones(5, s.ins[0].dtype))},
    "multilabel_margin_loss": {"id_out_of_range": lambda s: s.ins[1].__setitem__((0, 0), s.ins[1].shape[-1])},
    "cosine_embedding_loss": {"3d_input": lambda s: [s.ins.__setitem__(i, s.ins[i][None]) for i in (0, 1)]},
}
for _loss in ("cross_entropy", "nll_loss", "softmax_focal_loss", "poly1_cross_entropy", "multi_margin_loss"):
    SPECIFIC_ERRORS.setdefault(_loss, {}).update({
        "id_too_large": lambda s: s.ins[1].__setitem__((0,), s.ins[0].shape[1]),
        "id_negative": lambda s: s.ins[1].__setitem__((0,), -1)})
    if _loss != "multi_margin_loss":  # not an error: the mean of no kept target is NaN
        SPECIFIC_ERRORS[_loss]["all_ignored"] = lambda s: (s.opts.update(ignore_index=0), s.ins[1].fill(0))
    if _loss != "poly1_cross_entropy":
        _w = "class_alpha" if _loss == "softmax_focal_loss" else "weight"
        SPECIFIC_ERRORS[_loss]["weight_wrong_length"] = lambda s, w=_w: s.aopts.update({w: np.ones(2, s.ins[0].dtype)})
for _loss in ("mse_loss", "l1_loss", "huber_loss"):
    SPECIFIC_ERRORS[_loss] = {"weight_broadcast": lambda s: s.aopts.update(weight=np.ones(s.ins[0].shape[-1:],
                                                                                           s.ins[0].dtype))}
for _loss in ("binary_cross_entropy_with_logits",):
    SPECIFIC_ERRORS[_loss] = {"pos_weight_bad_shape": lambda s: s.aopts.update(pos_weight=np.ones(2, np.float32))}


# ---- running cases ----------------------------------------------------------------------------------
@dataclass
class Case:
    v: Variant
    red: str
    dt: str
    layout: str   # c, T, s2, pad, outpad, c+g0 (only the first gradient buffer)
    size: str
    values: str   # rand, special, err:<name>

    def base(self):
        o = ",".join(f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v}" for k, v in sorted(self.v.opts.items()))
        return f"{self.v.loss}|{self.v.tag}|{o or '-'}"

    def name(self, p):
        return f"{self.base()}|red={self.red}|{self.dt}|{self.layout}|{self.size}|{self.values}|{p}"


class State:
    pass


def place(a, layout, fill):
    """(view, parent, region): a's values in the layout; region selects the view in parent."""
    if a.ndim == 0 or layout in ("c", "c+g0"):
        a = np.asarray(a) if any(st < 0 for st in np.asarray(a).strides) else np.asarray(a, order="C")
        return a, a, ...
    if layout == "T":
        p = np.ascontiguousarray(a.T)
        return p.T, p, ...
    n = a.shape[-1]
    if layout == "s2":
        p, region = np.full(a.shape[:-1] + (2 * n,), fill, a.dtype), (..., slice(None, None, 2))
    else:  # pad
        p, region = np.full(a.shape[:-1] + (n + 3,), fill, a.dtype), (..., slice(0, n))
    p[region] = a
    return p[region], p, region


def fill_of(dtype):
    return np.nan if np.dtype(dtype).kind == "f" else -7777


def buffer(shape, dtype, layout):
    return place(np.full(shape, fill_of(dtype), dtype), "pad" if layout == "outpad" else "c", fill_of(dtype))


def digest(a):
    return hashlib.sha256(np.asarray(a, order="C").tobytes()).hexdigest()


def run_case(c, arrays_dir=None):
    """Runs the three passes of case c: ({name: record}, {(name, buffer): array})."""
    v, spec = c.v, SPECS[c.v.loss]
    seed = int.from_bytes(hashlib.sha256(f"{c.base()}|{c.size}|{c.values}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    ins, aopts = v.make(rng, SHAPES[v.kind.replace("2d", "")][c.size], v.tag, v.opts)
    if c.values == "special":
        v.special(rng, ins, v.opts)
    dt = DT[c.dt]
    acc = np.float32 if dt == np.float16 else dt
    s = State()
    s.ins = [np.asarray(a, dt if np.asarray(a).dtype.kind == "f" else None) for a in ins]
    s.aopts = {k: np.asarray(a, acc) for k, a in aopts.items()}
    s.opts = {k: x for k, x in v.opts.items() if not (isinstance(x, str) and x.startswith("@"))}
    s.opts["reduction"] = c.red
    s.pass_name, s.readonly, s.grad_dtype, s.grads_extra = None, False, None, False
    try:
        s.out_shape = spec.out_shape([a.shape for a in s.ins], dict(s.opts, **s.aopts))
    except Exception:
        s.out_shape = ()
    if c.values.startswith("err:"):
        err = c.values[4:]
        (ERRORS.get(err) or SPECIFIC_ERRORS[v.loss][err])(s)
    in_layout = c.layout if c.layout in ("T", "s2", "pad") else "c"
    placed = [place(a, in_layout, fill_of(a.dtype)) for a in s.ins]
    ins_t = tuple(p[0] for p in placed)
    placed_opts = {k: place(a, in_layout, np.nan) for k, a in s.aopts.items()}
    opts = dict(s.opts, **{k: p[0] for k, p in placed_opts.items()})
    parents = [p[1] for p in placed + list(placed_opts.values())]
    before = [digest(p) for p in parents]
    rgo = np.random.default_rng(seed ^ hash_str(c.red))
    go = (rgo.standard_normal(s.out_shape) if c.red == "none" else np.array(0.7)).astype(acc)
    result, arrays = {}, {}
    for p in PASSES:
        bufs = {}
        if p != "backward":
            bufs["out"] = buffer(s.out_shape, acc, c.layout)
            if s.readonly:
                bufs["out"][0].setflags(write=False)
        grads = ()
        if p != "forward":
            want = [g and (i == 0 or c.layout != "c+g0") for i, g in enumerate(spec.grads)]
            for i, (a, w) in enumerate(zip(s.ins, want)):
                if w:
                    bufs["grad." + spec.inputs[i]] = buffer(a.shape, s.grad_dtype or a.dtype, c.layout)
            grads = tuple(bufs["grad." + n][0] if "grad." + n in bufs else None for n in spec.inputs)
            grads += (None,) if s.grads_extra else ()
        fresh = {k: b[1].tobytes() for k, b in bufs.items()}
        rec = {}
        try:
            spec.entry(s.pass_name or p, ins_t, bufs["out"][0] if "out" in bufs else None,
                       go if p == "backward" else None, grads, **opts)
        except Exception as e:
            # pybind11's TypeError lists the arguments with numpy's repr: keep only the signature part
            rec["error"] = f"{type(e).__name__}: " + str(e).split("\n\nInvoked with:")[0]
            if any(b[1].tobytes() != fresh[k] for k, b in bufs.items()):
                rec["untouched"] = False
        else:
            rec["buffers"] = {}
            for k, (view, parent, region) in bufs.items():
                d = digest(view)
                rec["buffers"][k] = {"sha256": d, "shape": list(view.shape), "dtype": str(view.dtype)}
                if region is not ...:
                    ref = np.frombuffer(fresh[k], parent.dtype).reshape(parent.shape).copy()
                    ref[region] = view
                    if ref.tobytes() != parent.tobytes():
                        rec["gaps_written"] = True
                if arrays_dir:
                    save_array(arrays_dir, d, view)
                arrays[(c.name(p), k)] = view
        if [digest(q) for q in parents] != before:
            rec["inputs_modified"] = True
        result[c.name(p)] = rec
    return result, arrays


def hash_str(x):
    return int.from_bytes(hashlib.sha256(x.encode()).digest()[:8], "little")


def save_array(root, d, a):
    path = os.path.join(root, d[:2], d + ".npy")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, np.asarray(a, order="C"))


# ---- the suite ----------------------------------------------------------------------------------------
FULL = [("f32", "c", "small", "rand"), ("f32", "c", "rows", "rand"), ("f32", "c", "large", "rand"),
        ("f64", "c", "small", "rand"), ("f64", "c", "rows", "rand"),
        ("f32", "T", "rows", "rand"), ("f32", "s2", "rows", "rand"), ("f32", "pad", "rows", "rand"),
        ("f32", "outpad", "rows", "rand"), ("f32", "c", "small", "special"), ("f32", "c", "rows", "special")]
FIRST = [("f64", "c", "large", "rand"), ("f32", "c", "large", "special"), ("f64", "c", "rows", "special"),
         ("f64", "s2", "small", "rand"), ("f64", "T", "rows", "rand")]
HALF = [("f16", "c", "small", "rand"), ("f16", "c", "rows", "rand"), ("f16", "c", "large", "rand"),
        ("f16", "s2", "rows", "rand"), ("f16", "outpad", "rows", "rand"), ("f16", "c", "rows", "special")]


def suite():
    cases, seen = [], set()
    for v in table():
        if v.loss not in SPECS:  # removed or renamed: its recorded cases then show as differing
            continue
        first = (v.loss, v.tag) not in seen
        seen.add((v.loss, v.tag))
        forms = list(FULL) + (FIRST if first else [])
        for size in (EXTRAS[v.kind] if v.extra else ()):
            multi = len(SHAPES[v.kind.replace("2d", "")][size]) >= 3
            forms += [("f32", "c", size, "rand")] + ([("f64", "c", size, "rand")] if size != "empty" else [])
            forms += [("f32", "T", size, "rand"), ("f32", "pad", size, "rand"),
                      ("f32", "c", size, "special")] if multi else []
        if v.partial:
            forms += [("f32", "c+g0", "rows", "rand"), ("f64", "c+g0", "small", "rand")]
        if v.half and _losskit.HAS_HALF:
            forms += HALF + [("f16", "c", "spatial", "rand")]
        if v.special is None:
            forms = [f for f in forms if f[3] != "special"]
        for red in v.reductions:
            cases += [Case(v, red, *f) for f in forms]
        if first and v.tag == table_first_tag(v.loss):
            errs = list(ERRORS) + list(SPECIFIC_ERRORS.get(v.loss, {}))
            cases += [Case(v, "none" if e == "out_shape" else "mean", "f32", "c", "small", "err:" + e) for e in errs]
    return cases


_FIRST_TAG = {}


def table_first_tag(loss):
    if not _FIRST_TAG:
        for v in table():
            _FIRST_TAG.setdefault(v.loss, v.tag)
    return _FIRST_TAG[loss]


def load_specs():
    out = {}
    for m in pkgutil.iter_modules(specs_pkg.__path__):
        mod = importlib.import_module(f"{specs_pkg.__name__}.{m.name}")
        out.update({s.name: s for s in vars(mod).values() if isinstance(s, LossSpec)})
    return out


SPECS = load_specs()


def coverage_report(cases):
    """Losses without cases (fatal) and keyword options never given a non-default value."""
    covered = {c.v.loss for c in cases}
    missing = sorted(set(SPECS) - covered)
    if missing:  # a build with new losses can still be compared; record needs them in table()
        print(f"golden.py: WARNING: no cases for {missing}: add them to table()", file=sys.stderr)
    entries = sorted(n for n in dir(_losskit) if callable(getattr(_losskit, n)) and not n.startswith("_")
                     and n not in ("get_num_threads", "set_num_threads", "simd_target") and n not in SPECS)
    if entries:
        print(f"golden.py: extension entries without a LossSpec (not covered): {entries}", file=sys.stderr)
    for loss, spec in sorted(SPECS.items()):
        m = re.search(r"\((.*)\)", (spec.entry.__doc__ or "").splitlines()[0] if spec.entry.__doc__ else "")
        names = [a.split(":")[0].strip() for a in m.group(1).split(",")] if m else []
        opts = set(names[names.index("grads") + 1:]) if "grads" in names else set()
        used = {k for c in cases if c.v.loss == loss for k in c.v.opts} | {"reduction"}
        if opts - used:
            print(f"golden.py: {loss}: options never varied: {sorted(opts - used)}", file=sys.stderr)


def meta():
    cpu = ""
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    except OSError:
        pass
    st = getattr(_losskit, "simd_target", None)
    return {"simd_target": st() if callable(st) else None, "num_threads": _losskit.get_num_threads(),
            "LOSSKIT_NUM_THREADS": os.environ.get("LOSSKIT_NUM_THREADS"), "has_half": bool(_losskit.HAS_HALF),
            "cpu": cpu, "machine": platform.machine(), "numpy": np.__version__, "python": platform.python_version(),
            "module": _losskit.__file__}


def compute(args, old=None):
    """Runs the suite: (records, cases per loss, diff lines against `old` records)."""
    cases = suite()
    coverage_report(cases)
    if args.filter:
        cases = [c for c in cases if args.filter in c.name("")]
    t0, out, per_loss, diffs = time.time(), {}, {}, []
    for c in cases:
        recs, arrays = run_case(c, args.arrays if args.cmd == "record" else None)
        out.update(recs)
        per_loss[c.v.loss] = per_loss.get(c.v.loss, 0) + len(recs)
        for name, rec in (recs.items() if old is not None else ()):
            if old.get(name) != rec:
                diffs.append(f"DIFF {name}: {describe(name, old.get(name), rec, args.arrays, arrays)}")
    dt = time.time() - t0
    nerr = sum("error" in r for r in out.values())
    print(f"{len(out)} cases ({nerr} raise) over {len(per_loss)} losses in {dt:.1f} s", file=sys.stderr)
    return out, per_loss, diffs


# ---- comparing ------------------------------------------------------------------------------------------
def ulp_key(a):
    """Python ints ordered as the floats of a (+0 and -0 equal), for ULP distances."""
    n = a.dtype.itemsize
    return [-(x & ((1 << (8 * n - 1)) - 1)) if x < 0 else x for x in a.view(f"<i{n}").tolist()]


def quantify(old, new):
    if old.shape != new.shape or old.dtype != new.dtype:
        return f"shape/dtype {old.shape} {old.dtype} -> {new.shape} {new.dtype}"
    o, n = old.ravel(), new.ravel()
    diff = o.view(np.uint8).reshape(o.size, -1) != n.view(np.uint8).reshape(n.size, -1)
    idx = np.nonzero(diff.any(axis=1))[0] if o.size else np.array([], int)
    if o.dtype.kind != "f":
        return f"{idx.size} elements differ"
    on, nn = np.isnan(o[idx]), np.isnan(n[idx])
    fin = ~on & ~nn
    mabs = np.max(np.abs(o[idx][fin].astype(np.float64) - n[idx][fin])) if fin.any() else 0.0
    mulp = max((abs(x - y) for x, y in zip(ulp_key(o[idx][fin]), ulp_key(n[idx][fin]))), default=0)
    return (f"{idx.size}/{o.size} elements differ, max abs {mabs:.3g}, max ulp {mulp}, "
            f"nan mismatches {int((on != nn).sum())}")


def describe(name, old, new, arrays_dir, arrays):
    if old is None or new is None:
        return "only in the " + ("new run" if old is None else "record (not run now)")
    if ("error" in old) != ("error" in new):
        return f"{old.get('error', 'ok')!r} -> {new.get('error', 'ok')!r}"
    if "error" in old:
        return f"error {old['error']!r} -> {new['error']!r}" if old["error"] != new["error"] else "flags differ"
    msgs = []
    for k in sorted(set(old["buffers"]) | set(new["buffers"])):
        a, b = old["buffers"].get(k), new["buffers"].get(k)
        if a != b:
            m = f"{k}: {'missing' if not a or not b else 'digest'}"
            path = a and arrays_dir and os.path.join(arrays_dir, a["sha256"][:2], a["sha256"] + ".npy")
            if a and b and path and os.path.exists(path):
                m += " (" + quantify(np.load(path), np.asarray(arrays[(name, k)], order="C")) + ")"
            msgs.append(m)
    flags = {f for f in ("inputs_modified", "gaps_written", "untouched") if old.get(f) != new.get(f)}
    return "; ".join(msgs + [f"flag {f}: {old.get(f)} -> {new.get(f)}" for f in sorted(flags)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["record", "compare"])
    ap.add_argument("file")
    ap.add_argument("--arrays", help="directory of the raw arrays (.npy, content-addressed)")
    ap.add_argument("--filter", help="only cases whose name contains this")
    args = ap.parse_args()
    if args.cmd == "record":
        cases, per_loss, _ = compute(args)
        doc = {"meta": meta(), "cases": cases}
        with open(args.file, "w") as f:
            f.write('{"meta": ' + json.dumps(doc["meta"], sort_keys=True) + ',\n"cases": {\n')
            f.write(",\n".join(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in cases.items()))
            f.write("\n}}\n")
        for loss, n in sorted(per_loss.items()):
            print(f"  {loss:36s} {n:6d}", file=sys.stderr)
        print(f"recorded {len(cases)} cases to {args.file}")
        return 0
    with open(args.file) as f:
        doc = json.load(f)
    now = meta()
    for k in ("simd_target", "cpu", "has_half"):
        if doc["meta"].get(k) != now.get(k):
            print(f"warning: {k} differs: recorded {doc['meta'].get(k)!r}, now {now.get(k)!r}")
    old = doc["cases"]
    if args.filter:
        old = {k: v for k, v in old.items() if args.filter in k}
    new, _, diffs = compute(args, old)
    for line in diffs:
        print(line)
    gone = [k for k in old if k not in new]
    for name in gone:
        print(f"DIFF {name}: only in the record (not run now)")
    names, ndiff = len(set(old) | set(new)), len(diffs) + len(gone)
    print(f"{names} cases, {ndiff} differ")
    return 1 if ndiff else 0


if __name__ == "__main__":
    sys.exit(main())
