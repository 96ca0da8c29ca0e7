"""Lowering general graphs: parallel branches + concat, a squeeze-excitation gate, dilation,
ceil-mode pools, leaky ReLU / ReLU6 / identity.

The IR graphs are built by hand (Node by Node, shapes written out) so these tests need
neither the parser nor the front end's op table. Each is compared with a hand-written torch
reference carrying the same weights (the lowered model's state dict, loaded by key):
outputs and gradients in train and eval mode, parameter count, torch.export.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archdsl.ir.graph import Graph, Node, Stage, attrs
from archdsl.lowering.layers import Concat, Mul
from archdsl.lowering.lower import lower
from archdsl.lowering.torch_ops import TORCH_OPS, context
from test_count_nets import SPAN, bn, conv, fc, pool


def N(name, op_attrs, shape, inputs, stage, block=None, role="main"):
    op, a = op_attrs
    return Node(name, op, tuple(inputs), a, tuple(shape), SPAN, stage, block, role)


def net(name, input_shape, nodes):
    stages: dict[str, list[str]] = {}
    for n in nodes:
        stages.setdefault(n.stage, []).append(n.name)
    return Graph(name, input_shape, nodes[-1].shape[0], tuple(nodes),
                 tuple(Stage(s, None, tuple(ns), SPAN) for s, ns in stages.items()))


def with_attrs(op_attrs, **extra):
    op, a = op_attrs
    return op, attrs(**dict(a, **extra))


def tree(**children) -> nn.ModuleDict:
    """A namespace module, so the reference's state_dict keys are the lowered model's."""
    return nn.ModuleDict(children)


RELU, SIGMOID, IDENTITY = ("relu", ()), ("sigmoid", ()), ("identity", ())
GAP, FLATTEN, CONCAT, MUL, ADD = ("gap", ()), ("flatten", ()), ("concat", ()), ("mul", ()), ("add", ())


# ---- an inception-like module: three parallel branches, concatenated ------------------

def inception() -> Graph:
    b = "mix.0"
    return net("inception", (3, 10, 10), [
        N("stem.conv", conv(3, 8), (8, 10, 10), ["input"], "stem"),
        N("stem.relu", RELU, (8, 10, 10), ["stem.conv"], "stem"),
        N(f"{b}.b1.conv", conv(8, 4, 1, bias=True), (4, 10, 10), ["stem.relu"], "mix", b),
        N(f"{b}.b2.reduce", conv(8, 4, 1, bias=True), (4, 10, 10), ["stem.relu"], "mix", b),
        N(f"{b}.b2.relu", RELU, (4, 10, 10), [f"{b}.b2.reduce"], "mix", b),
        N(f"{b}.b2.conv", conv(4, 6, 3, bias=True), (6, 10, 10), [f"{b}.b2.relu"], "mix", b),
        N(f"{b}.b3.pool", pool("maxpool", 3, 1, 1), (8, 10, 10), ["stem.relu"], "mix", b),
        N(f"{b}.b3.conv", conv(8, 2, 1, bias=True), (2, 10, 10), [f"{b}.b3.pool"], "mix", b),
        N(f"{b}.cat", CONCAT, (12, 10, 10), [f"{b}.b1.conv", f"{b}.b2.conv", f"{b}.b3.conv"],
          "mix", b),
        N(f"{b}.relu", RELU, (12, 10, 10), [f"{b}.cat"], "mix", b),
        N("head.pool", GAP, (12, 1, 1), [f"{b}.relu"], "head"),
        N("head.flatten", FLATTEN, (12,), ["head.pool"], "head"),
        N("head.fc", fc(12, 5), (5,), ["head.flatten"], "head")])


class InceptionRef(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = tree(conv=nn.Conv2d(3, 8, 3, padding=1, bias=False))
        self.mix = tree(**{"0": tree(b1=tree(conv=nn.Conv2d(8, 4, 1)),
                                     b2=tree(reduce=nn.Conv2d(8, 4, 1), conv=nn.Conv2d(4, 6, 3, padding=1)),
                                     b3=tree(conv=nn.Conv2d(8, 2, 1)))})
        self.head = tree(fc=nn.Linear(12, 5))

    def forward(self, x):
        x = F.relu(self.stem.conv(x))
        m = self.mix["0"]
        b1 = m.b1.conv(x)
        b2 = m.b2.conv(F.relu(m.b2.reduce(x)))
        b3 = m.b3.conv(F.max_pool2d(x, 3, 1, 1))
        x = F.relu(torch.cat([b1, b2, b3], 1))
        return self.head.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ---- a residual block with a squeeze-excitation gate ------------------------------------

def squeeze_excitation() -> Graph:
    b = "s.0"
    return net("se", (8, 6, 6), [
        N(f"{b}.conv1", conv(8, 16), (16, 6, 6), ["input"], "s", b),
        N(f"{b}.bn1", bn(16), (16, 6, 6), [f"{b}.conv1"], "s", b),
        N(f"{b}.relu1", RELU, (16, 6, 6), [f"{b}.bn1"], "s", b),
        N(f"{b}.se.pool", GAP, (16, 1, 1), [f"{b}.relu1"], "s", b),
        N(f"{b}.se.fc1", conv(16, 4, 1, bias=True), (4, 1, 1), [f"{b}.se.pool"], "s", b),
        N(f"{b}.se.relu", RELU, (4, 1, 1), [f"{b}.se.fc1"], "s", b),
        N(f"{b}.se.fc2", conv(4, 16, 1, bias=True), (16, 1, 1), [f"{b}.se.relu"], "s", b),
        N(f"{b}.se.gate", SIGMOID, (16, 1, 1), [f"{b}.se.fc2"], "s", b),
        N(f"{b}.scale", MUL, (16, 6, 6), [f"{b}.relu1", f"{b}.se.gate"], "s", b),
        N(f"{b}.shortcut", conv(8, 16, 1), (16, 6, 6), ["input"], "s", b, "shortcut"),
        N(f"{b}.add", ADD, (16, 6, 6), [f"{b}.scale", f"{b}.shortcut"], "s", b),
        N(f"{b}.relu", RELU, (16, 6, 6), [f"{b}.add"], "s", b),
        N("head.pool", GAP, (16, 1, 1), [f"{b}.relu"], "head"),
        N("head.flatten", FLATTEN, (16,), ["head.pool"], "head"),
        N("head.fc", fc(16, 3), (3,), ["head.flatten"], "head")])


class SqueezeExcitationRef(nn.Module):
    def __init__(self):
        super().__init__()
        se = tree(fc1=nn.Conv2d(16, 4, 1), fc2=nn.Conv2d(4, 16, 1))
        self.s = tree(**{"0": tree(conv1=nn.Conv2d(8, 16, 3, padding=1, bias=False),
                                   bn1=nn.BatchNorm2d(16), se=se,
                                   shortcut=nn.Conv2d(8, 16, 1, bias=False))})
        self.head = tree(fc=nn.Linear(16, 3))

    def forward(self, x):
        b = self.s["0"]
        out = F.relu(b.bn1(b.conv1(x)))
        gate = torch.sigmoid(b.se.fc2(F.relu(b.se.fc1(F.adaptive_avg_pool2d(out, 1)))))
        out = F.relu(out * gate + b.shortcut(x))
        return self.head.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


# ---- dilation, ceil-mode pools, leaky ReLU, ReLU6, identity -------------------------------

def dilated() -> Graph:
    return net("dilated", (3, 15, 15), [
        N("a.conv", with_attrs(conv(3, 4, 3, p=2), dilation=(2, 2)), (4, 15, 15), ["input"], "a"),
        N("a.act", ("leaky_relu", attrs(negative_slope=0.2)), (4, 15, 15), ["a.conv"], "a"),
        N("a.pool", with_attrs(pool("maxpool", 2, 2), ceil_mode=True), (4, 8, 8), ["a.act"], "a"),
        N("b.conv", conv(4, 4, 3), (4, 8, 8), ["a.pool"], "b"),
        N("b.act", ("relu6", ()), (4, 8, 8), ["b.conv"], "b"),
        N("b.same", IDENTITY, (4, 8, 8), ["b.act"], "b"),
        N("b.pool", with_attrs(pool("avgpool", 3, 2), ceil_mode=True), (4, 4, 4), ["b.same"], "b"),
        N("head.flatten", FLATTEN, (64,), ["b.pool"], "head"),
        N("head.fc", fc(64, 3), (3,), ["head.flatten"], "head")])


class DilatedRef(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = tree(conv=nn.Conv2d(3, 4, 3, padding=2, dilation=2, bias=False))
        self.b = tree(conv=nn.Conv2d(4, 4, 3, padding=1, bias=False))
        self.head = tree(fc=nn.Linear(64, 3))

    def forward(self, x):
        x = F.max_pool2d(F.leaky_relu(self.a.conv(x), 0.2), 2, 2, ceil_mode=True)
        x = F.avg_pool2d(F.relu6(self.b.conv(x)), 3, 2, ceil_mode=True)
        return self.head.fc(torch.flatten(x, 1))


CASES = {"inception": (inception, InceptionRef, 8 * 27 + 36 + 36 + 222 + 18 + 65),
         "squeeze-excitation": (squeeze_excitation, SqueezeExcitationRef,
                                16 * 72 + 32 + 68 + 80 + 128 + 51),
         "dilated": (dilated, DilatedRef, 108 + 144 + 195)}


def _pair(case):
    make, ref_cls, params = CASES[case]
    g = make()
    torch.manual_seed(0)
    model = lower(g)
    ref = ref_cls()
    ref.load_state_dict(model.state_dict())  # strict: the same keys, layer for layer
    return g, model, ref, params


@pytest.mark.parametrize("case", CASES)
def test_outputs_and_gradients_equal_the_reference(case):
    g, model, ref, params = _pair(case)
    assert sum(p.numel() for p in model.parameters()) == params
    assert all(n.name in dict(model.named_modules()) for n in g.nodes)
    for mode in ("train", "eval"):
        model.train(mode == "train"), ref.train(mode == "train")
        x = torch.randn(3, *g.input_shape, requires_grad=True)
        xr = x.detach().clone().requires_grad_()
        out, want = model(x), ref(xr)
        assert tuple(out.shape) == (3, *g.output_shape)
        torch.testing.assert_close(out, want)
        out.square().sum().backward()
        want.square().sum().backward()
        torch.testing.assert_close(x.grad, xr.grad)
        theirs = dict(ref.named_parameters())
        for name, p in model.named_parameters():
            torch.testing.assert_close(p.grad, theirs[name].grad, msg=name)
        model.zero_grad(), ref.zero_grad()


@pytest.mark.parametrize("case", CASES)
def test_torch_export(case):
    g, model, _, _ = _pair(case)
    model.eval()
    x = torch.randn(2, *g.input_shape)
    ep = torch.export.export(model, (x,))
    torch.testing.assert_close(ep.module()(x), model(x))


def test_in_place_only_where_safe():
    """ReLU/ReLU6/add overwrite their producer's output when they are its sole reader and
    it is fresh (conv, bn, concat, mul); not after a sigmoid, leaky ReLU or identity."""
    assert context(inception()).inplace == {"stem.relu", "mix.0.b2.relu", "mix.0.relu"}
    # the add overwrites the gated tensor (mul's backward reads only its inputs)
    assert context(squeeze_excitation()).inplace == {"s.0.relu1", "s.0.se.relu", "s.0.add",
                                                     "s.0.relu"}
    assert context(dilated()).inplace == {"b.act"}
    model = lower(squeeze_excitation())
    assert model.s[0].relu1.inplace and model.s[0].add.inplace
    assert lower(dilated()).b.act.inplace


def test_features_stop_at_the_stage_level_head():
    """The gate's global pool sits inside a block: the head is the stage-level pool."""
    g, model, ref, _ = _pair("squeeze-excitation")
    model.eval()
    x = torch.randn(2, *g.input_shape)
    feats = model.forward_features(x)
    assert tuple(feats.shape) == (2, 16, 6, 6)
    torch.testing.assert_close(model.forward_head(feats), model(x), rtol=0, atol=0)
    assert list(model.forward_stages(x)) == ["s", "head"]


def test_nested_names_become_nested_modules():
    model = lower(inception())
    assert isinstance(model.mix[0].b2.conv, nn.Conv2d) and model.mix[0].b2.conv.out_channels == 6
    assert isinstance(model.mix[0].cat, Concat) and isinstance(lower(squeeze_excitation()).s[0].scale, Mul)


NEW = {"concat": (CONCAT, ()), "mul": (MUL, ()), "sigmoid": (SIGMOID, ()), "identity": (IDENTITY, ()),
       "silu": (("silu", ()), ()),
       "relu6": (("relu6", ()), ()), "leaky_relu": (("leaky_relu", attrs(negative_slope=0.1)), ()),
       "conv": (with_attrs(conv(4, 8, 3, p=2), dilation=(2, 2)), ("dilation=2",)),
       "maxpool": (with_attrs(pool("maxpool", 3, 2), ceil_mode=True), ("ceil_mode=True",)),
       "avgpool": (with_attrs(pool("avgpool", 2, 2), ceil_mode=True), ("ceil_mode=True",))}


@pytest.mark.parametrize("op", NEW)
def test_source_builds_what_build_builds(op):
    """The constructor source codegen writes evaluates to the module lowering builds."""
    op_attrs, expect = NEW[op]
    node = N("s.x", op_attrs, (1,), ["input"], "s")
    ctx = context(net("one", (4, 9, 9), [node]))
    built = TORCH_OPS[op].build(node, ctx)
    expr, _ = TORCH_OPS[op].source(node, ctx)
    assert all(e in expr for e in expect), expr
    helpers = {"nn": nn, "Concat": Concat, "Mul": Mul, "he": lambda layer: layer}
    made = eval(expr, helpers)  # noqa: S307 - our own source
    assert type(made) is type(built) and _settings(made) == _settings(built)


def _settings(m: nn.Module) -> dict:
    """A module's constructor settings (``3`` and ``(3, 3)`` are the same window)."""
    out = {k: v for k, v in vars(m).items() if not k.startswith("_") and k != "training"}
    for k in ("kernel_size", "stride", "padding", "dilation"):
        if isinstance(out.get(k), int):
            out[k] = (out[k], out[k])
    return out


def test_inline_expressions():
    a, b, gate = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4), torch.rand(2, 3, 1, 1)
    cat = N("s.cat", CONCAT, (8, 4, 4), ["input", "input"], "s")
    mul = N("s.mul", MUL, (3, 4, 4), ["input", "input"], "s")
    ctx = context(net("one", (3, 4, 4), [cat]))
    expr = TORCH_OPS["concat"].inline(cat, ctx, ["a", "b"])
    assert expr == "torch.cat([a, b], 1)"
    assert torch.equal(eval(expr, {"torch": torch, "a": a, "b": b}), Concat()(a, b))  # noqa: S307
    expr = TORCH_OPS["mul"].inline(mul, ctx, ["x", "gate"])
    assert expr == "x * gate"
    assert torch.equal(eval(expr, {"x": a, "gate": gate}), Mul()(a, gate))  # noqa: S307


def test_silu_lowers_to_x_times_its_sigmoid():
    node = N("s.x", ("silu", ()), (1,), ["input"], "s")
    model = lower(net("one", (4, 9, 9), [node]))
    x = torch.randn(2, 4, 9, 9)
    assert torch.allclose(model(x), x * torch.sigmoid(x), atol=1e-6)
