"""archdsl.ir.ops: the op table itself, its shape rules against torch, its counts against
fvcore's FlopCountAnalysis and ``numel``, for the ops and attributes the next papers need."""
from __future__ import annotations

import itertools
import logging
import warnings
from math import prod

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archdsl.analysis.count import COLUMNS, count
from archdsl.ir.graph import Node, attrs
from archdsl.ir.ops import OPS, ShapeError, infer_shape
from test_count_nets import SPAN, L, conv, graph, pool


def fvcore_total(module: nn.Module, x: torch.Tensor) -> int:
    """fvcore 0.1.5's FlopCountAnalysis total of ``module(x)`` in eval mode."""
    from fvcore.nn import FlopCountAnalysis
    module.eval()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)   # fvcore logs every op it skips
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fca = FlopCountAnalysis(module, x)
            fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return int(fca.total())
    finally:
        logging.disable(previous)


# ---- the table -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(OPS))
def test_every_entry_is_complete(name):
    spec = OPS[name]
    assert spec.name == name and spec.base.isidentifier() and spec.summary
    assert not set(spec.required) & set(spec.optional)
    for key, (t, default) in spec.optional.items():
        assert t.admits(default), (key, default)   # a default is a legal value of its type
    assert spec.inputs >= 1 and (not spec.variadic or spec.inputs >= 2)
    assert spec.column is None or spec.column in COLUMNS


def test_optional_attributes_are_the_agreed_ones():
    """lowering/torch_ops.py reads exactly these names."""
    assert {n: tuple(s.optional) for n, s in OPS.items() if s.optional} == {
        "conv": ("dilation",), "maxpool": ("ceil_mode",), "avgpool": ("ceil_mode",)}
    assert set(OPS["leaky_relu"].required) == {"negative_slope"}
    for op in ("concat", "mul", "sigmoid", "relu6", "identity"):
        assert not OPS[op].required and not OPS[op].optional
    assert (OPS["mul"].inputs, OPS["mul"].variadic) == (2, False)
    assert (OPS["concat"].inputs, OPS["concat"].variadic) == (2, True)


def test_a_node_reads_a_left_out_optional_attribute_as_its_default():
    op, a = conv(4, 4)
    n = Node("c", op, ("input",), a, (4, 8, 8), SPAN, "s")
    assert "dilation" not in dict(n.attrs)
    assert n["dilation"] == (1, 1) and n.get("dilation") == (1, 1)
    op, a = pool("maxpool", 2, 2)
    assert Node("p", op, ("input",), a, (4, 4, 4), SPAN, "s")["ceil_mode"] is False
    with pytest.raises(KeyError):
        n["ceil_mode"]
    assert n.get("ceil_mode", 7) == 7


def test_weighted_ops_are_conv_and_fc():
    assert {n for n, s in OPS.items() if s.weighted} == {"conv", "fc"}


# ---- shape rules against torch ----------------------------------------------------------------

def _torch_or_none(f):
    try:
        return tuple(f().shape[1:])
    except RuntimeError:
        return None


def _check_against_torch(op, a, shape, want):
    """Our rule gives torch's shape, or refuses where torch does (or, by design, where a
    floor-mode window would silently drop the last pixels)."""
    try:
        got = infer_shape(op, a, [shape])
    except ShapeError as e:
        assert want is None or "does not tile" in e.message, (op, a, shape, want, e.message)
        return
    assert got == want, (op, a, shape)


@pytest.mark.parametrize("size", range(4, 12))
def test_dilated_conv_shapes_match_torch(size):
    x = torch.zeros(1, 2, size, size + 1)
    for k, s, p, d in itertools.product((1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2, 3)):
        op, a = conv(2, 3, k, s, p, d=d)
        want = _torch_or_none(lambda: F.conv2d(x, torch.zeros(3, 2, k, k), None, s, p, d))
        _check_against_torch(op, dict(a), (2, size, size + 1), want)


@pytest.mark.parametrize("op, f", [("maxpool", F.max_pool2d), ("avgpool", F.avg_pool2d)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_shapes_match_torch(op, f, ceil_mode):
    for size, k, s, p in itertools.product(range(3, 12), (1, 2, 3, 4), (1, 2, 3), (0, 1, 2)):
        x = torch.zeros(1, 1, size, size + 2)
        want = _torch_or_none(lambda: f(x, k, s, p, ceil_mode=ceil_mode))
        _check_against_torch(op, dict(pool(op, k, s, p, ceil_mode)[1]), (1, size, size + 2), want)


def test_ceil_mode_keeps_the_window_that_floor_drops():
    # ResNet's 3×3/2 max pool on 112 without padding: floor refuses, ceil gives 56
    a = dict(pool("maxpool", 3, 2)[1])
    with pytest.raises(ShapeError, match="does not tile"):
        infer_shape("maxpool", a, [(64, 112, 112)])
    assert infer_shape("maxpool", {**a, "ceil_mode": True}, [(64, 112, 112)]) == (64, 56, 56)
    # torch's correction: with padding 1, 2×2/2 on 5 would start a 4th window in the right padding
    a = dict(pool("maxpool", 2, 2, 1, ceil_mode=True)[1])
    assert infer_shape("maxpool", a, [(1, 5, 5)]) == (1, 3, 3) == F.max_pool2d(
        torch.zeros(1, 1, 5, 5), 2, 2, 1, ceil_mode=True).shape[1:]


def test_pool_padding_over_half_the_window_is_refused():
    with pytest.raises(ShapeError, match="padding 2 is more than half its 3-wide window"):
        infer_shape("maxpool", dict(pool("maxpool", 3, 1, 2)[1]), [(1, 8, 8)])


def test_dilated_kernel_larger_than_input_is_explained():
    with pytest.raises(ShapeError, match=r"kernel 3 \(dilated 3: spans 7\) is larger than its 5-pixel"):
        infer_shape("conv", dict(conv(1, 1, 3, p=0, d=3)[1]), [(1, 5, 5)])


def test_concat_joins_channels():
    assert infer_shape("concat", {}, [(4, 8, 8), (2, 8, 8), (6, 8, 8)]) == (12, 8, 8)
    with pytest.raises(ShapeError, match=r"input 1 is 4×8×8 and input 2 is 2×4×4") as e:
        infer_shape("concat", {}, [(4, 8, 8), (2, 4, 4)])
    assert "same stride" in e.value.hint
    with pytest.raises(ShapeError, match="concat needs a C×H×W feature map"):
        infer_shape("concat", {}, [(4, 8, 8), (16,)])


def test_mul_broadcasts_a_channel_gate_or_takes_an_equal_map():
    assert infer_shape("mul", {}, [(8, 5, 5), (8, 1, 1)]) == (8, 5, 5)
    assert infer_shape("mul", {}, [(8, 5, 5), (8, 5, 5)]) == (8, 5, 5)
    for gate in [(4, 1, 1), (8, 5, 1), (8, 1, 5), (1, 5, 5), (8,)]:
        with pytest.raises(ShapeError, match="gate of 8×1×1 or 8×5×5"):
            infer_shape("mul", {}, [(8, 5, 5), gate])
    with pytest.raises(ShapeError, match="mul needs a C×H×W"):
        infer_shape("mul", {}, [(8,), (8,)])
    # torch broadcasts the same way
    assert (torch.zeros(1, 8, 5, 5) * torch.zeros(1, 8, 1, 1)).shape[1:] == (8, 5, 5)


# ---- counts against numel and fvcore ---------------------------------------------------------

class _Cat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Conv2d(3, 2, 1, bias=False)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


class _Gate(nn.Module):
    """x · σ(conv1×1(gap(x))) or, ``full``, x · conv(x)."""
    def __init__(self, full: bool):
        super().__init__()
        self.full = full
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.gate = nn.Conv2d(4, 4, 3 if full else 1, padding=1 if full else 0, bias=False)

    def forward(self, x):
        x = self.conv(x)
        g = self.gate(x) if self.full else torch.sigmoid(self.gate(F.adaptive_avg_pool2d(x, 1)))
        return x * g


def _conv_then(*layers):
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), *layers)


CASES = {
    "concat": (lambda: [L("a", conv(3, 4), "s"), L("b", conv(3, 2, 1), "s", None, ("input",)),
                        L("cat", ("concat", ()), "s", None, ("a", "b"))], _Cat),
    "se gate": (lambda: [L("x", conv(3, 4), "s"), L("pool", ("gap", ()), "s"),
                         L("g", conv(4, 4, 1), "s"), L("sig", ("sigmoid", ()), "s"),
                         L("mul", ("mul", ()), "s", None, ("x", "sig"))], lambda: _Gate(False)),
    "mul": (lambda: [L("x", conv(3, 4), "s"), L("g", conv(4, 4), "s"),
                     L("mul", ("mul", ()), "s", None, ("x", "g"))], lambda: _Gate(True)),
    "sigmoid": (lambda: [L("x", conv(3, 4), "s"), L("a", ("sigmoid", ()), "s")],
                lambda: _conv_then(nn.Sigmoid())),
    "relu6": (lambda: [L("x", conv(3, 4), "s"), L("a", ("relu6", ()), "s")],
              lambda: _conv_then(nn.ReLU6())),
    "hardtanh": (lambda: [L("x", conv(3, 4), "s"), L("a", ("relu6", ()), "s")],
                 lambda: _conv_then(nn.Hardtanh(0.0, 6.0))),
    "leaky_relu": (lambda: [L("x", conv(3, 4), "s"),
                            L("a", ("leaky_relu", attrs(negative_slope=0.2)), "s")],
                   lambda: _conv_then(nn.LeakyReLU(0.2))),
    "silu": (lambda: [L("x", conv(3, 4), "s"), L("a", ("silu", ()), "s")],
             lambda: _conv_then(nn.SiLU())),
    "identity": (lambda: [L("x", conv(3, 4), "s"), L("a", ("identity", ()), "s")],
                 lambda: _conv_then(nn.Identity())),
    "dilation": (lambda: [L("x", conv(3, 5, 3, 2, 1, bias=True, d=2), "s")],
                 lambda: nn.Conv2d(3, 5, 3, 2, 1, dilation=2, bias=True)),
    "maxpool ceil": (lambda: [L("x", conv(3, 4), "s"), L("p", pool("maxpool", 3, 2, ceil_mode=True), "s")],
                     lambda: _conv_then(nn.MaxPool2d(3, 2, ceil_mode=True))),
    "avgpool ceil": (lambda: [L("x", conv(3, 4), "s"), L("p", pool("avgpool", 3, 2, 1, True), "s")],
                     lambda: _conv_then(nn.AvgPool2d(3, 2, 1, ceil_mode=True))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fvcore_convention_equals_flop_count_analysis(case):
    layers, module = CASES[case]
    g = graph(case, (3, 10, 10), layers())
    m = module()
    x = torch.randn(2, 3, 10, 10)
    assert tuple(m(x).shape[1:]) == g.output_shape
    assert count(g, batch=2, convention="fvcore").total.cost == fvcore_total(m, x)
    assert count(g).total.params == sum(p.numel() for p in m.parameters())


def test_dilation_keeps_params_and_macs_per_output():
    plain, dilated = conv(8, 16, 3, p=0), conv(8, 16, 3, p=0, d=2)
    a, b = dict(plain[1]), dict(dilated[1])
    assert OPS["conv"].params(a, [(8, 9, 9)], (16, 7, 7)) == OPS["conv"].params(b, [(8, 9, 9)], (16, 5, 5)) \
        == nn.Conv2d(8, 16, 3, dilation=2, bias=False).weight.numel()
    assert infer_shape("conv", b, [(8, 9, 9)]) == (16, 5, 5)
    assert OPS["conv"].macs(b, [(8, 9, 9)], (16, 5, 5)) == 16 * 25 * 8 * 9


def test_full_flops_of_the_new_ops_by_hand():
    """Activations land in the relu column, mul in add; concat and identity cost nothing."""
    g = graph("ew", (3, 6, 6), [
        L("x", conv(3, 4), "s"), L("r6", ("relu6", ()), "s"),
        L("lr", ("leaky_relu", attrs(negative_slope=0.01)), "s"), L("sg", ("sigmoid", ()), "s"),
        L("id", ("identity", ()), "s"), L("mul", ("mul", ()), "s", None, ("id", "sg")),
        L("cat", ("concat", ()), "s", None, ("mul", "x", "x")),
    ])
    rows = {r.name: r for r in count(g, convention="full").layers}
    e = 4 * 6 * 6
    assert (rows["r6"].relu, rows["lr"].relu, rows["sg"].relu) == (2 * e, 2 * e, 3 * e)
    assert rows["mul"].add == e and rows["mul"].cost == e
    assert rows["cat"].elementwise == rows["cat"].cost == 0 and rows["cat"].shape == (12, 6, 6)
    assert rows["id"].elementwise == rows["id"].cost == 0
    fv = {r.name: r.cost for r in count(g, convention="fvcore").layers}
    assert [fv[k] for k in ("r6", "lr", "sg", "id", "mul", "cat")] == [0] * 6


def test_gated_net_params_equal_numel_op_by_op():
    from test_count_nets import tiny_gated
    g = tiny_gated()
    rows = {r.name: r for r in count(g).layers}
    assert rows["mix.0.branch2"].params == nn.Conv2d(8, 4, 3, dilation=2, bias=False).weight.numel()
    se1 = nn.Conv2d(16, 4, 1)
    assert rows["mix.0.se.conv1"].params == sum(p.numel() for p in se1.parameters())
    assert all(rows[n].params == 0 for n in ("mix.0.concat", "mix.0.mul", "mix.0.se.sigmoid",
                                             "stem.relu", "mix.0.relu", "mix.0.branch3"))
    assert prod(g.node("mix.0.concat").shape) == 16 * 8 * 8
