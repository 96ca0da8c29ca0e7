"""The fvcore convention checked op by op against fvcore itself, on hand-built graphs.

``lower`` is a minimal lowering that follows notes/ir-contract.md (module names = node
names), so these tests need neither the parser nor the real lowering.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings, strategies as st
from torch import nn

from archdsl.analysis.count import count
from archdsl.lowering.verify import flop_counter_flops, fvcore_flops, verify
from test_count_nets import L, bn, conv, fc, graph, pool, tiny_alexnet, tiny_resnet


class _Add(nn.Module):
    def forward(self, a, b):
        return a + b


class _Pad(nn.Module):
    def __init__(self, stride, before, after):
        super().__init__()
        self.stride, self.before, self.after = stride, before, after

    def forward(self, x):
        s = self.stride
        return F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, self.before, self.after))


def _module(node):
    a = dict(node.attrs)
    match node.op:
        case "conv":
            return nn.Conv2d(a["in_channels"], a["out_channels"], a["kernel"], a["stride"],
                             a["padding"], groups=a["groups"], bias=a["bias"])
        case "bn":
            return nn.BatchNorm2d(a["channels"], a["eps"], a["momentum"])
        case "relu":
            return nn.ReLU(inplace=True)
        case "lrn":
            return nn.LocalResponseNorm(a["size"], a["alpha"] * a["size"], a["beta"], a["k"])
        case "maxpool":
            return nn.MaxPool2d(a["kernel"], a["stride"], a["padding"])
        case "avgpool":
            return nn.AvgPool2d(a["kernel"], a["stride"], a["padding"])
        case "gap":
            return nn.AdaptiveAvgPool2d(1)
        case "adaptive_avgpool":
            return nn.AdaptiveAvgPool2d(a["size"])
        case "flatten":
            return nn.Flatten(1)
        case "fc":
            return nn.Linear(a["in_features"], a["out_features"], a["bias"])
        case "dropout":
            return nn.Dropout(a["p"])
        case "add":
            return _Add()
        case "pad_shortcut":
            return _Pad(a["stride"], a["pad_before"], a["pad_after"])
        case "softmax":
            return nn.Identity()  # the contract: logits out, softmax is the loss's job


class _Lowered(nn.Module):
    """Interprets the graph; every node is a module at its dotted name."""

    def __init__(self, g):
        super().__init__()
        self.plan = [(n.name, n.inputs) for n in g.nodes]
        for n in g.nodes:
            parent = self
            *path, leaf = n.name.split(".")
            for seg in path:
                if not hasattr(parent, seg):
                    parent.add_module(seg, nn.Module())
                parent = getattr(parent, seg)
            parent.add_module(leaf, _module(n))

    def forward(self, x):
        env = {"input": x}
        for name, inputs in self.plan:
            env[name] = self.get_submodule(name)(*(env[i] for i in inputs))
        return env[name]


def lower(g):
    torch.manual_seed(0)
    return _Lowered(g).eval()


@pytest.mark.parametrize("make", [tiny_resnet, tiny_alexnet])
def test_fvcore_convention_matches_fvcore_per_module(make):
    g = make()
    result = verify(g, model=lower(g))
    assert result.ok, result.render()
    assert result.compared > 2 * len(g.nodes)  # every node + groups, flops and params


def test_batch_and_other_input_sizes():
    g = tiny_resnet()
    result = verify(g, input=(3, 35, 35), batch=3, model=lower(g))
    assert result.ok, result.render()
    assert result.counts.batch == 3 and result.counts.input_shape == (3, 35, 35)


def test_mismatch_is_reported_by_layer():
    g = tiny_resnet()
    model = lower(g)
    # a wider classifier: params and flops of head.fc now disagree with the graph
    model.head.fc = nn.Linear(16, 11)
    model.plan[-1] = ("head.softmax", ("head.fc",))
    result = verify(g, model=model, flop_counter=False)
    assert not result.ok
    names = {(m.name, m.what) for m in result.mismatches}
    assert ("head.fc", "params") in names and ("head.fc", "fvcore flops") in names
    assert ("total", "params") in names
    assert "head.fc: params predicted 170 measured 187 (+17)" in result.render()


def test_flop_counter_mode_is_twice_the_macs():
    g = tiny_alexnet()
    x = torch.randn(2, *g.input_shape)
    assert flop_counter_flops(lower(g), x) == count(g, batch=2).total.flops


def test_fvcore_batchnorm_rule_needs_eval_mode():
    """fvcore counts BN 5/element in training mode; verify must measure in eval mode."""
    g = tiny_resnet()
    model = lower(g).train()
    total, _ = fvcore_flops(model, torch.randn(1, *g.input_shape))
    assert total == count(g).total.cost and not model.training


_RAN = []


@st.composite
def _random_net(draw):
    c = draw(st.integers(1, 4))
    size = draw(st.integers(9, 20))
    layers, shape = [], (c, size, size)
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "bn", "maxpool", "avgpool", "lrn", "adaptive"]))
        k = draw(st.integers(1, 3))
        s = draw(st.integers(1, 2))
        p = draw(st.integers(0, k // 2)) if kind != "conv" else draw(st.integers(0, 2))
        if kind == "conv":
            g = draw(st.sampled_from([d for d in (1, 2, 3) if c % d == 0]))
            out = g * draw(st.integers(1, 3))
            oa = conv(c, out, k, s, p, g, draw(st.booleans()))
            c = out
        elif kind == "bn":
            oa = bn(c)
        elif kind == "lrn":
            oa = ("lrn", (("alpha", 1e-4), ("beta", 0.75), ("k", 2.0), ("size", 3)))
        elif kind == "adaptive":
            oa = ("adaptive_avgpool", (("size", (draw(st.integers(1, 4)),) * 2),))
        else:
            oa = pool(kind, k, s, p)
        layers.append(L(f"s{i}.layer", oa, f"s{i}"))
    return layers, shape


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_net())
def test_random_nets_match_fvcore(net):
    layers, shape = net
    try:
        g = graph("random", shape, layers + [L("head.pool", ("gap", ()), "head"),
                                             L("head.flatten", ("flatten", ()), "head"),
                                             L("head.fc", fc(1, 2), "head")][:1])
    except Exception:  # an invalid combination (window too large, non-tiling): skip
        return
    _RAN.append(g)
    result = verify(g, model=lower(g), flop_counter=False)
    assert result.ok, result.render()


def test_random_nets_mostly_valid():
    assert len(_RAN) >= 5  # the property test above really compared some networks


@pytest.mark.parametrize("make, size", [(tiny_resnet, 34), (tiny_alexnet, 37)])
def test_real_lowering_matches_on_tiny_graphs(make, size):
    import archdsl.lowering as lowering
    g = make()
    result = verify(g, input=(3, size, size), batch=2, model=lowering.create_model(g))
    assert result.ok, result.render()


def test_report_verify_exit_status(monkeypatch, capsys):
    """`report --verify` prints the comparison and exits 1 on a mismatch, 0 otherwise."""
    import sys
    import types

    import archdsl.lowering as lowering
    from archdsl.cli.main import main
    monkeypatch.setitem(sys.modules, "archdsl.api",
                        types.SimpleNamespace(load=lambda name, **p: tiny_resnet()))
    monkeypatch.setattr(lowering, "create_model", lambda g: lower(g))
    assert main(["report", "tiny", "--verify", "--format", "json"]) == 0
    assert "all agree" in capsys.readouterr().err

    def wrong(g):
        model = lower(g)
        model.head.fc = nn.Linear(16, 11)
        return model
    monkeypatch.setattr(lowering, "create_model", wrong)
    assert main(["report", "tiny", "--verify"]) == 1
    err = capsys.readouterr().err
    assert "head.fc: params predicted 170 measured 187 (+17)" in err
