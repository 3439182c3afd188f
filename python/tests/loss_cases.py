"""One or more calls of every losskit.torch loss, with valid inputs, for the tests that run every
loss the same way (custom operators, torch.compile): (function, kwargs, make inputs, indices of
the inputs to differentiate). Options vary across a loss's cases (reductions, weights, class-id
and probability targets, 16-bit and non-contiguous inputs)."""
import torch
import torch.nn.functional as F


def _g(seed=7):
    return torch.Generator().manual_seed(seed)


def _randn(*s, dtype=torch.float32, seed=7):
    return torch.randn(*s, generator=_g(seed), dtype=dtype)


def _rand(*s, dtype=torch.float32, seed=8):
    return torch.rand(*s, generator=_g(seed), dtype=dtype)


def _pm1(*s, dtype=torch.float32):
    return torch.randint(0, 2, s, generator=_g(9)).to(dtype) * 2 - 1


def _ids(n, c, *rest):
    return torch.randint(0, c, (n,) + rest, generator=_g(10))


def _pair(*s, dtype=torch.float32):
    return lambda: (_randn(*s, dtype=dtype), _randn(*s, dtype=dtype, seed=11))


def _triplet(*s):
    return lambda: tuple(_randn(*s, seed=k) for k in range(3))


def _box_pair(*lead, dtype=torch.float32):
    """Two sets of valid boxes (x1, y1, x2, y2) of shape (*lead, 4)."""
    def one(seed):
        xy = _rand(*lead, 2, dtype=dtype, seed=seed) * 10
        return torch.cat([xy, xy + 0.5 + _rand(*lead, 2, dtype=dtype, seed=seed + 1) * 4], -1)
    return one(20), one(30)


CASES = [
    ("cross_entropy", dict(label_smoothing=0.1), lambda: (_randn(6, 5), _ids(6, 5)), [0]),
    ("cross_entropy", dict(weight=_rand(5) + 0.5, ignore_index=2, reduction="none"),
     lambda: (_randn(3, 5, 4), _ids(3, 5, 4)), [0]),
    ("cross_entropy", dict(reduction="sum"), lambda: (_randn(6, 5), torch.softmax(_randn(6, 5, seed=3), 1)), [0, 1]),
    ("cross_entropy", {}, lambda: (_randn(5, 6).t(), _ids(6, 5).int()), [0]),
    ("cross_entropy", {}, lambda: (_randn(6, 5, dtype=torch.bfloat16), _ids(6, 5)), [0]),
    ("nll_loss", dict(reduction="none"), lambda: (torch.log_softmax(_randn(6, 5), 1), _ids(6, 5)), [0]),
    ("nll_loss", dict(weight=_rand(5)), lambda: (torch.log_softmax(_randn(6, 5), 1), _ids(6, 5)), [0]),
    ("kl_div", dict(reduction="batchmean", log_target=True),
     lambda: (torch.log_softmax(_randn(6, 5), 1), torch.log_softmax(_randn(6, 5, seed=3), 1)), [0, 1]),
    ("kl_div", dict(reduction="none"), lambda: (torch.log_softmax(_randn(6, 5), 1), _rand(6, 5)), [0, 1]),
    ("jsd", dict(beta=0.3, shift_labels=torch.tensor([1, -100, 2, 3, -100, 0])),
     lambda: (torch.log_softmax(_randn(6, 5), 1), torch.log_softmax(_randn(6, 5, seed=3), 1)), [0, 1]),
    ("jsd", dict(beta=0.0), lambda: (torch.log_softmax(_randn(4, 7, dtype=torch.float64), 1),
                                     torch.log_softmax(_randn(4, 7, dtype=torch.float64, seed=3), 1)), [0]),
    ("tvd", dict(shift_labels=torch.tensor([1, -100, 2, 3, -100, 0])),
     lambda: (torch.softmax(_randn(6, 5), 1), torch.softmax(_randn(6, 5, seed=3), 1)), [0, 1]),
    ("tvd", dict(reduction="none"), lambda: (torch.softmax(_randn(4, 7, dtype=torch.float64), 1),
                                             torch.softmax(_randn(4, 7, dtype=torch.float64, seed=3), 1)), [0]),
    ("generalized_kl_divergence", {}, lambda: (_randn(3, 4, 5) * 0.5, _rand(3, 4, 5)), [0]),
    ("sparsemax_loss", {}, lambda: (_randn(4, 3) * 2, _pm1(4, 3).clamp(min=0)), [0]),
    ("multiclass_sparsemax_loss", dict(reduction="none"), lambda: (_randn(6, 5), _ids(6, 5)), [0]),
    ("categorical_generalized_cross_entropy", dict(q=0.3), lambda: (torch.softmax(_randn(6, 5), 1), _ids(6, 5)), [0]),
    ("generalized_kl_divergence", dict(reduction="none", where=_rand(4, 6) > 0.3),
     lambda: (_randn(4, 6, dtype=torch.float64), _rand(4, 6, dtype=torch.float64)), [0]),
    ("dice_loss", dict(softmax=True, to_onehot_y=True), lambda: (_randn(2, 3, 4, 4), _ids(2, 3, 1, 4, 4).float()),
     [0]),
    ("dice_loss", dict(sigmoid=True, reduction="none", jaccard=True), lambda: (_randn(2, 3, 4), _rand(2, 3, 4)), [0]),
    ("generalized_box_iou_loss", dict(reduction="mean"), lambda: _box_pair(6), [0, 1]),
    ("distance_box_iou_loss", {}, lambda: _box_pair(5), [0, 1]),
    ("complete_box_iou_loss", dict(reduction="sum", eps=1e-6), lambda: _box_pair(2, 3, dtype=torch.float64), [0, 1]),
    ("tversky_loss", dict(softmax=True, alpha=0.3, beta=0.7), lambda: (_randn(2, 3, 4, 4), _ids(2, 3, 4, 4)), [0]),
    ("tversky_loss", dict(sigmoid=True, reduction="none", batch=True), lambda: (_randn(2, 3, 5), _rand(2, 3, 5)), [0]),
    ("generalized_dice_loss", dict(softmax=True, w_type="simple", reduction="none"),
     lambda: (_randn(2, 3, 4, 4), _ids(2, 3, 4, 4)), [0]),
    ("ctc_loss", {}, lambda: (torch.log_softmax(_randn(12, 3, 6), 2), torch.randint(1, 6, (3, 4), generator=_g(12)),
                              torch.tensor([12, 10, 8]), torch.tensor([4, 3, 2])), [0]),
    ("ctc_loss", dict(blank=5, reduction="none", zero_infinity=True),  # concatenated; sequence 1 cannot align
     lambda: (torch.log_softmax(_randn(9, 2, 6, dtype=torch.float64), 2), torch.tensor([0, 4, 2, 1, 1]),
              torch.tensor([9, 2]), torch.tensor([3, 2])), [0]),
    ("mse_loss", {}, _pair(4, 3), [0, 1]),
    ("mse_loss", dict(reduction="none", weight=_rand(4, 3)), _pair(4, 3), [0, 1]),
    ("mse_loss", {}, _pair(4, 3, dtype=torch.float64), [0]),
    ("mse_loss", {}, lambda: (_randn(()), _randn((), seed=2)), [0, 1]),
    ("l1_loss", dict(reduction="sum"), _pair(4, 3), [0, 1]),
    ("huber_loss", dict(delta=0.5, weight=_rand(4, 3)), _pair(4, 3), [0, 1]),
    ("smooth_l1_loss", dict(beta=0.3, reduction="none"), _pair(4, 3), [0, 1]),
    ("poisson_nll_loss", dict(log_input=False, full=True), lambda: (_rand(4, 3) + 0.1, _rand(4, 3, seed=2) * 3),
     [0, 1]),
    ("gaussian_nll_loss", dict(full=True, eps=1e-3),
     lambda: (_randn(4, 3), _randn(4, 3, seed=2), _rand(4, 1) + 0.1), [0, 1, 2]),
    ("gaussian_nll_loss", dict(var=0.5, reduction="none"), _pair(4, 3), [0, 1]),
    ("log_cosh_loss", {}, _pair(4, 3), [0, 1]),
    ("l2_loss", dict(reduction="sum"), _pair(4, 3), [0, 1]),
    ("quantile_loss", dict(tau=0.9), _pair(4, 3), [0, 1]),
    ("msle_loss", {}, lambda: (_rand(4, 3), _rand(4, 3, seed=2)), [0, 1]),
    ("mape_loss", dict(reduction="none"), lambda: (_rand(4, 3) + 0.5, _rand(4, 3, seed=2) + 0.5), [0, 1]),
    ("hinge_embedding_loss", dict(margin=0.5), lambda: (_randn(6), _pm1(6)), [0]),
    ("margin_ranking_loss", dict(margin=0.2), lambda: (_randn(6), _randn(6, seed=2), _pm1(6)), [0, 1, 2]),
    ("cosine_embedding_loss", dict(margin=0.1, reduction="none"),
     lambda: (_randn(6, 4), _randn(6, 4, seed=2), _pm1(6)), [0, 1]),
    ("triplet_margin_loss", dict(margin=0.5, p=1.5, swap=True), _triplet(5, 4), [0, 1, 2]),
    ("triplet_margin_with_distance_loss", dict(margin=0.5, swap=True), _triplet(5, 4), [0, 1, 2]),
    ("triplet_margin_with_distance_loss", "cosine", _triplet(5, 4), [0, 1, 2]),
    ("triplet_margin_with_distance_loss", "l1", _triplet(5, 4), [0, 1, 2]),
    ("binary_cross_entropy", dict(weight=_rand(3)), lambda: (_rand(4, 3) * 0.9 + 0.05, _rand(4, 3, seed=2)), [0, 1]),
    ("binary_cross_entropy_with_logits", dict(pos_weight=_rand(3) + 0.5), lambda: (_randn(4, 3), _rand(4, 3)),
     [0, 1]),
    ("binary_cross_entropy_with_logits", dict(reduction="none"), lambda: (_randn(4, 3), _rand(4, 3)), [0, 1]),
    ("sigmoid_focal_loss", dict(alpha=0.5, gamma=1.5, reduction="mean"), lambda: (_randn(4, 3), _rand(4, 3)), [0]),
    ("sigmoid_focal_loss", {}, lambda: (_randn(4, 3), _rand(4, 3)), [0]),
    ("softmax_focal_loss", dict(gamma=1.0), lambda: (_randn(4, 3), _ids(4, 3)), [0]),
    ("softmax_focal_loss", dict(alpha=_rand(3), reduction="sum"), lambda: (_randn(4, 3), _ids(4, 3)), [0]),
    ("poly1_cross_entropy", dict(epsilon=1.0), lambda: (_randn(4, 3), _ids(4, 3)), [0]),
    ("soft_margin_loss", {}, lambda: (_randn(4, 3), _pm1(4, 3)), [0]),
    ("multilabel_soft_margin_loss", dict(weight=_rand(3)), lambda: (_randn(4, 3), _rand(4, 3)), [0, 1]),
    ("multi_margin_loss", dict(p=2, margin=0.5, weight=_rand(5)), lambda: (_randn(6, 5), _ids(6, 5)), [0]),
    ("multi_margin_loss", dict(reduction="none"), lambda: (_randn(5), _ids(1, 5)[0]), [0]),
    ("multilabel_margin_loss", {}, lambda: (_randn(2, 4), torch.tensor([[3, 0, -1, 1], [1, 2, 3, -1]])), [0]),
    ("hinge_loss", {}, lambda: (_randn(4, 3), _pm1(4, 3)), [0]),
    ("squared_hinge_loss", dict(reduction="none"), lambda: (_randn(4, 3), _pm1(4, 3)), [0]),
    ("categorical_hinge_loss", {}, lambda: (_randn(4, 3), F.one_hot(torch.tensor([0, 2, 1, 1]), 3).float()), [0]),
    ("multiclass_perceptron_loss", {}, lambda: (_randn(4, 3), torch.tensor([0, 2, 1, 1])), [0]),
]


def _l1_distance(a, b):
    return (a - b).abs().sum(-1)


def call(lt, case):
    """(a function of the inputs, inputs) for a case; `lt` is the losskit.torch module."""
    name, kwargs, make, grad_of = case
    fn = getattr(lt, name)
    if kwargs == "cosine":
        kwargs = dict(distance_function=lt.cosine_distance, margin=0.3)
    elif kwargs == "l1":
        kwargs = dict(distance_function=_l1_distance, margin=0.3, reduction="none")
    return (lambda *t: fn(*t, **kwargs)), make()


def ids():
    return [f"{c[0]}-{i}" for i, c in enumerate(CASES)]
