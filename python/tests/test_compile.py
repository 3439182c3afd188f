"""losskit.torch under torch.compile: every loss is a custom operator (torch.library) with a fake
implementation and an autograd formula. opcheck on every operator over the cases of
loss_cases.py; eager calls through the operators equal the fast eager path; fullgraph compiles
(aot_eager for every case, inductor for a training step per loss family) give eager's loss and
gradients without a graph break."""
import pytest
import torch

import losskit.torch as LT
from losskit.torch import _function, _ops

import loss_cases

CASES = loss_cases.CASES


def _leaves(inputs, grad_of):
    return [t.detach().clone().requires_grad_(True) if i in grad_of else t for i, t in enumerate(inputs)]


def _value_and_grads(f, inputs, grad_of, seed=3):
    x = _leaves(inputs, grad_of)
    loss = f(*x)
    up = torch.rand(loss.shape, generator=torch.Generator().manual_seed(seed), dtype=loss.dtype) + 0.5
    grads = torch.autograd.grad(loss, [x[i] for i in grad_of], up)
    return loss.detach(), grads


def _close(a, b, dtype):
    tol = dict(rtol=2e-2, atol=2e-2) if dtype in (torch.bfloat16, torch.float16) else dict(rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(a, b, **tol)


def test_every_loss_has_its_operators():
    names = set(LT.__all__) - {"cosine_distance", "ctc_infeasible", "box_iou", "generalized_box_iou",
                               "distance_box_iou", "complete_box_iou"}  # helpers and matrices, not losses
    assert names == set(_ops.SPECS)
    for name, spec in _ops.SPECS.items():
        op = getattr(torch.ops.losskit, name).default
        args = [a.name for a in op._schema.arguments]
        assert args == list(spec.inputs) + [o.name for o in _ops.op_options(spec)] + ["fused"]
        assert getattr(torch.ops.losskit, f"{name}_backward").default is not None


def test_schema_defaults_are_the_bindings():
    s = torch.ops.losskit.cross_entropy.default._schema
    defaults = {a.name: a.default_value for a in s.arguments if a.has_default_value()}
    assert defaults == dict(weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, fused=[])


@pytest.fixture
def through_operators(monkeypatch):
    """losskit.torch's functions call the custom operators, as under torch.compile; the
    operator calls are recorded."""
    calls = []
    monkeypatch.setattr(_function, "_compiling", lambda: True)
    for name, op in list(_ops._OPS.items()):
        def rec(*args, _op=op, _name=name):
            calls.append((_name, _op, args))
            return _op(*args)
        monkeypatch.setitem(_ops._OPS, name, rec)
    return calls


@pytest.mark.parametrize("case", CASES, ids=loss_cases.ids())
def test_operators_equal_the_eager_path(case, through_operators):
    f, inputs = loss_cases.call(LT, case)
    grad_of = case[3]
    ref = _value_and_grads(f, inputs, grad_of)
    with_ops = _value_and_grads(f, inputs, grad_of)
    assert through_operators, "the operator was not called"
    dtype = inputs[0].dtype
    _close(with_ops[0], ref[0], dtype)
    assert with_ops[0].dtype == ref[0].dtype and with_ops[0].shape == ref[0].shape
    for a, b in zip(with_ops[1], ref[1]):
        _close(a, b, dtype)


@pytest.mark.parametrize("case", CASES, ids=loss_cases.ids())
def test_opcheck(case, through_operators):
    f, inputs = loss_cases.call(LT, case)
    f(*_leaves(inputs, case[3]))
    assert through_operators
    for name, op, args in through_operators:
        torch.library.opcheck(op, args)
        # the forward without fused gradients, and the backward operator alone
        nt = len(_ops.SPECS[name].inputs)
        torch.library.opcheck(op, tuple(args[:-1]) + ([],))
        loss = op(*[a.detach() if isinstance(a, torch.Tensor) else a for a in args])[0]
        bw = getattr(torch.ops.losskit, f"{name}_backward").default
        detached = [a.detach() if isinstance(a, torch.Tensor) else a for a in args[:-1]]
        torch.library.opcheck(bw, (torch.ones_like(loss),) + tuple(detached) + ([True] * nt,),
                              test_utils=("test_schema", "test_faketensor"))


@pytest.mark.parametrize("case", CASES, ids=loss_cases.ids())
def test_fullgraph_compile_matches_eager(case):
    f, inputs = loss_cases.call(LT, case)
    grad_of = case[3]
    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    ref = _value_and_grads(f, inputs, grad_of)
    got = _value_and_grads(compiled, inputs, grad_of)
    dtype = inputs[0].dtype
    _close(got[0], ref[0], dtype)
    for a, b in zip(got[1], ref[1]):
        _close(a, b, dtype)


# One training step per loss family, compiled with inductor: model, loss, backward, optimizer.
FAMILY_STEPS = {
    "classification": lambda out, y: LT.cross_entropy(out, y, label_smoothing=0.05),
    "classification_extra": lambda out, y: LT.sigmoid_focal_loss(out, (y[:, None] == torch.arange(4)).float(),
                                                                  reduction="mean"),
    "distribution": lambda out, y: LT.kl_div(torch.log_softmax(out, 1), torch.full_like(out, 0.25),
                                             reduction="batchmean"),
    "embedding": lambda out, y: LT.triplet_margin_loss(out, out.roll(1, 0), out.roll(2, 0), margin=0.5),
    "margin": lambda out, y: LT.multi_margin_loss(out, y, margin=0.5),
    "regression": lambda out, y: LT.huber_loss(out, torch.nn.functional.one_hot(y, 4).float(), delta=0.5),
    "segmentation": lambda out, y: LT.dice_loss(out[:, :, None], y[:, None, None].float(), softmax=True,
                                                to_onehot_y=True),
}


@pytest.mark.parametrize("family", sorted(FAMILY_STEPS))
def test_compiled_training_step(family):
    """torch.compile's training-step pattern: the model and the loss compiled with fullgraph=True
    (inductor; AOTAutograd compiles the backward graph too), then backward and an SGD step."""
    loss_fn = FAMILY_STEPS[family]
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 4, (16,), generator=torch.Generator().manual_seed(1))
    models = []
    for _ in range(2):
        torch.manual_seed(5)
        m = torch.nn.Linear(8, 4)
        models.append((m, torch.optim.SGD(m.parameters(), lr=0.1)))

    def forward(model):
        return loss_fn(model(x), y)

    torch._dynamo.reset()
    compiled = torch.compile(forward, fullgraph=True)
    for _ in range(3):
        losses = []
        for (model, opt), f in zip(models, (forward, compiled)):
            opt.zero_grad()
            loss = f(model)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    for p, q in zip(models[0][0].parameters(), models[1][0].parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=loss_cases.ids())
def test_wrappers_pass_only_binding_options(case, monkeypatch):
    """The functions hand the C++ entry options by position in the binding's order: every key
    they build must be one of the binding's options (a misspelt one would be dropped)."""
    seen = []
    real = _function._call

    def record(spec, pass_, tensors, out, grad_output, grads, options):
        seen.append((spec, set(options)))
        return real(spec, pass_, tensors, out, grad_output, grads, options)

    monkeypatch.setattr(_function, "_call", record)
    f, inputs = loss_cases.call(LT, case)
    f(*inputs)
    assert seen
    for spec, keys in seen:
        assert keys <= {o.name for o in spec.options}, (spec.name, keys)
