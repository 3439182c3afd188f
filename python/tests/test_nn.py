"""losskit.torch.nn: module classes against torch.nn (same constructor, attributes, state_dict,
values and gradients), the modules of losskit's own losses, and routed()."""
import pytest
import torch
import torch.nn.functional as F

import losskit.torch as LT
import losskit.torch.nn as lnn


def g():
    return torch.Generator().manual_seed(7)


def _pm1(*s):
    return torch.randint(0, 2, s, generator=g()).double() * 2 - 1


# class name, constructor kwargs, inputs (float64), index of the inputs to differentiate
TORCH_CASES = [
    ("CrossEntropyLoss", dict(weight=torch.rand(5, dtype=torch.float64) + 0.5, ignore_index=2, label_smoothing=0.1),
     lambda: (torch.randn(6, 5, generator=g(), dtype=torch.float64), torch.randint(0, 5, (6,), generator=g())), [0]),
    ("CrossEntropyLoss", dict(reduction="sum"),
     lambda: (torch.randn(6, 5, generator=g(), dtype=torch.float64),
              torch.softmax(torch.randn(6, 5, generator=g(), dtype=torch.float64), 1)), [0, 1]),
    ("NLLLoss", dict(reduction="none"),
     lambda: (torch.log_softmax(torch.randn(6, 5, generator=g(), dtype=torch.float64), 1),
              torch.randint(0, 5, (6,), generator=g())), [0]),
    ("KLDivLoss", dict(reduction="batchmean", log_target=True),
     lambda: (torch.log_softmax(torch.randn(6, 5, generator=g(), dtype=torch.float64), 1),
              torch.log_softmax(torch.randn(6, 5, generator=g(), dtype=torch.float64), 1)), [0, 1]),
    ("MSELoss", {}, lambda: (torch.randn(4, 3, generator=g(), dtype=torch.float64),) * 2, [0, 1]),
    ("L1Loss", dict(reduction="sum"), lambda: (torch.randn(4, 3, generator=g(), dtype=torch.float64),
                                               torch.randn(4, 3, dtype=torch.float64)), [0, 1]),
    ("HuberLoss", dict(delta=0.5), lambda: (torch.randn(4, 3, generator=g(), dtype=torch.float64),
                                            torch.randn(4, 3, dtype=torch.float64)), [0, 1]),
    ("SmoothL1Loss", dict(beta=0.3), lambda: (torch.randn(4, 3, generator=g(), dtype=torch.float64),
                                              torch.randn(4, 3, dtype=torch.float64)), [0, 1]),
    ("PoissonNLLLoss", dict(log_input=False, full=True),
     lambda: (torch.rand(4, 3, generator=g(), dtype=torch.float64) + 0.1, torch.rand(4, 3, dtype=torch.float64) * 3),
     [0, 1]),
    ("GaussianNLLLoss", dict(full=True, eps=1e-3),
     lambda: (torch.randn(4, 3, generator=g(), dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64),
              torch.rand(4, 1, dtype=torch.float64) + 0.1), [0, 1, 2]),
    ("BCELoss", dict(weight=torch.rand(3, dtype=torch.float64)),
     lambda: (torch.rand(4, 3, generator=g(), dtype=torch.float64) * 0.9 + 0.05, torch.rand(4, 3, dtype=torch.float64)),
     [0, 1]),
    ("BCEWithLogitsLoss", dict(pos_weight=torch.rand(3, dtype=torch.float64) + 0.5),
     lambda: (torch.randn(4, 3, generator=g(), dtype=torch.float64), torch.rand(4, 3, dtype=torch.float64)), [0, 1]),
    ("SoftMarginLoss", {}, lambda: (torch.randn(4, 3, generator=g(), dtype=torch.float64), _pm1(4, 3)), [0]),
    ("MultiLabelSoftMarginLoss", dict(weight=torch.rand(3, dtype=torch.float64)),
     lambda: (torch.randn(4, 3, generator=g(), dtype=torch.float64), torch.rand(4, 3, dtype=torch.float64)), [0, 1]),
    ("MultiMarginLoss", dict(p=2, margin=0.5, weight=torch.rand(5, dtype=torch.float64)),
     lambda: (torch.randn(6, 5, generator=g(), dtype=torch.float64), torch.randint(0, 5, (6,), generator=g())), [0]),
    ("MultiLabelMarginLoss", {}, lambda: (torch.randn(2, 4, generator=g(), dtype=torch.float64),
                                          torch.tensor([[3, 0, -1, 1], [1, 2, 3, -1]])), [0]),
    ("HingeEmbeddingLoss", dict(margin=0.5), lambda: (torch.randn(6, generator=g(), dtype=torch.float64), _pm1(6)),
     [0]),
    ("MarginRankingLoss", dict(margin=0.2), lambda: (torch.randn(6, generator=g(), dtype=torch.float64),
                                                     torch.randn(6, dtype=torch.float64), _pm1(6)), [0, 1, 2]),
    ("CosineEmbeddingLoss", dict(margin=0.1), lambda: (torch.randn(6, 4, generator=g(), dtype=torch.float64),
                                                       torch.randn(6, 4, dtype=torch.float64), _pm1(6)), [0, 1]),
    ("TripletMarginLoss", dict(margin=0.5, p=1.5, swap=True),
     lambda: tuple(torch.randn(5, 4, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
                   for k in range(3)), [0, 1, 2]),
    ("TripletMarginWithDistanceLoss", dict(margin=0.5, swap=True),
     lambda: tuple(torch.randn(5, 4, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
                   for k in range(3)), [0, 1, 2]),
]


@pytest.mark.parametrize("case", range(len(TORCH_CASES)), ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CASES)])
def test_module_matches_torch_nn(case):
    name, kwargs, make, grad_of = TORCH_CASES[case]
    ours, theirs = getattr(lnn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert isinstance(ours, getattr(torch.nn, name)) and type(ours).__name__ == name
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert repr(ours) == repr(theirs)
    made = make()
    a = [t.clone().requires_grad_() if i in grad_of else t for i, t in enumerate(made)]
    b = [t.clone().requires_grad_() if i in grad_of else t for i, t in enumerate(made)]
    la, lb = ours(*a), theirs(*b)
    torch.testing.assert_close(la, lb)
    up = torch.rand(lb.shape, generator=g(), dtype=lb.dtype) + 0.5
    ga = torch.autograd.grad(la, [a[i] for i in grad_of], up)
    gb = torch.autograd.grad(lb, [b[i] for i in grad_of], up)
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y)


def test_module_runs_losskit_not_torch(monkeypatch):
    calls = []
    real = LT.cross_entropy
    monkeypatch.setattr(lnn.CrossEntropyLoss, "forward",
                        lambda self, x, y: calls.append(1) or real(x, y, weight=self.weight))
    lnn.CrossEntropyLoss()(torch.randn(3, 4), torch.tensor([0, 1, 2]))
    assert calls == [1]


def test_weight_is_a_buffer_that_moves_with_the_module():
    m = lnn.CrossEntropyLoss(weight=torch.ones(4))
    assert "weight" in dict(m.named_buffers())
    m = m.double()
    assert m.weight.dtype == torch.float64
    x = torch.randn(3, 4, dtype=torch.float64)
    torch.testing.assert_close(m(x, torch.tensor([0, 1, 3])), F.cross_entropy(x, torch.tensor([0, 1, 3])))


OWN = [
    ("DiceLoss", dict(softmax=True, to_onehot_y=True), "dice_loss",
     lambda: (torch.randn(2, 3, 4, 4, generator=g()), torch.randint(0, 3, (2, 1, 4, 4), generator=g()))),
    ("SigmoidFocalLoss", dict(alpha=0.5, gamma=1.5, reduction="mean"), "sigmoid_focal_loss",
     lambda: (torch.randn(4, 3, generator=g()), torch.rand(4, 3))),
    ("SoftmaxFocalLoss", dict(gamma=1.0), "softmax_focal_loss",
     lambda: (torch.randn(4, 3, generator=g()), torch.randint(0, 3, (4,), generator=g()))),
    ("Poly1CrossEntropyLoss", dict(epsilon=1.0), "poly1_cross_entropy",
     lambda: (torch.randn(4, 3, generator=g()), torch.randint(0, 3, (4,), generator=g()))),
    ("LogCoshLoss", {}, "log_cosh_loss", lambda: (torch.randn(4, 3, generator=g()), torch.randn(4, 3))),
    ("L2Loss", dict(reduction="sum"), "l2_loss", lambda: (torch.randn(4, 3, generator=g()), torch.randn(4, 3))),
    ("QuantileLoss", dict(tau=0.9), "quantile_loss", lambda: (torch.randn(4, 3, generator=g()), torch.randn(4, 3))),
    ("MSLELoss", {}, "msle_loss", lambda: (torch.rand(4, 3, generator=g()), torch.rand(4, 3))),
    ("MAPELoss", {}, "mape_loss", lambda: (torch.rand(4, 3, generator=g()) + 0.5, torch.rand(4, 3) + 0.5)),
    ("HingeLoss", {}, "hinge_loss", lambda: (torch.randn(4, 3, generator=g()), _pm1(4, 3).float())),
    ("SquaredHingeLoss", {}, "squared_hinge_loss", lambda: (torch.randn(4, 3, generator=g()), _pm1(4, 3).float())),
    ("CategoricalHingeLoss", {}, "categorical_hinge_loss",
     lambda: (torch.randn(4, 3, generator=g()), F.one_hot(torch.tensor([0, 2, 1, 1]), 3).float())),
    ("MulticlassPerceptronLoss", {}, "multiclass_perceptron_loss",
     lambda: (torch.randn(4, 3, generator=g()), torch.tensor([0, 2, 1, 1]))),
]


@pytest.mark.parametrize("name,kwargs,fn,make", OWN, ids=[c[0] for c in OWN])
def test_modules_of_losskit_losses(name, kwargs, fn, make):
    m = getattr(lnn, name)(**kwargs)
    x, t = make()
    torch.testing.assert_close(m(x, t), getattr(LT, fn)(x, t, **kwargs))
    for k, v in kwargs.items():
        assert getattr(m, k) == v
    with pytest.raises(TypeError, match="unexpected"):
        getattr(lnn, name)(not_an_option=1)


def test_own_module_defaults_are_the_functions():
    m = lnn.SigmoidFocalLoss()
    assert (m.alpha, m.gamma, m.reduction) == (0.25, 2, "none")
    assert "alpha=0.25" in repr(m)
    w = torch.rand(3)
    d = lnn.DiceLoss(weight=w)
    assert "weight" in dict(d.named_buffers())


def test_routed_replaces_and_restores():
    original = F.cross_entropy
    x, y = torch.randn(5, 4, dtype=torch.float64, requires_grad=True), torch.randint(0, 4, (5,))
    ref = original(x, y)
    with lnn.routed():
        assert F.cross_entropy is LT.cross_entropy and F.mse_loss is LT.mse_loss
        out = torch.nn.CrossEntropyLoss()(x, y)  # torch's module, losskit's function
        assert out.grad_fn is not None and "LossFunction" in type(out.grad_fn).__name__
        torch.testing.assert_close(out, ref)
    assert F.cross_entropy is original
    with pytest.raises(RuntimeError, match="inside"):
        with lnn.routed(["mse_loss"]):
            assert F.mse_loss is LT.mse_loss and F.cross_entropy is original
            raise RuntimeError("inside")
    assert F.mse_loss is not LT.mse_loss
    lnn.route(["kl_div"])
    assert F.kl_div is LT.kl_div
    lnn.unroute()
    assert F.kl_div is not LT.kl_div
    with pytest.raises(ValueError, match="not a loss"):
        lnn.route(["relu"])
