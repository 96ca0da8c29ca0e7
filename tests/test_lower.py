"""Lowering on hand-built graphs (tests/test_count_nets.py): tables, names, init, forward."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archdsl.ir.graph import Graph, Node
from archdsl.lowering import create_model, load_graph
from archdsl.lowering.lower import lower
from archdsl.lowering.torch_ops import TORCH_OPS, Context, init_layer
from archdsl.lowering.modules import Network, ResidualBlock, Stage
from archdsl.lowering.plan import PlanError, plan
from archdsl.lowering.verify import verify
from archdsl.errors import ArchError
from archdsl.ir.ops import OPS
from test_count_nets import L, SPAN, bn, conv, fc, graph, tiny_alexnet, tiny_resnet, tiny_vgg

TINY = [tiny_resnet, tiny_alexnet, tiny_vgg]


def test_every_op_has_a_builder_and_a_source():
    assert set(TORCH_OPS) == set(OPS)


@pytest.mark.parametrize("make", TINY)
def test_module_names_are_node_names(make):
    g = make()
    model = lower(g)
    names = dict(model.named_modules())
    assert all(n.name in names for n in g.nodes)
    assert model.stage_names == tuple(s.name for s in g.stages)


@pytest.mark.parametrize("make", TINY)
def test_forward_shape_counts_and_export(make):
    g = make()
    model = lower(g).eval()
    x = torch.randn(2, *g.input_shape)
    assert tuple(model(x).shape) == (2, *g.output_shape)
    result = verify(g, model=model)  # params and fvcore flops per module agree with count()
    assert result.ok, result.render()
    ep = torch.export.export(model, (x,))
    torch.testing.assert_close(ep.module()(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("make", TINY)
def test_train_backward_reaches_every_parameter(make):
    g = make()
    model = lower(g).train()
    model(torch.randn(2, *g.input_shape)).square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_names_and_indexing():
    model = lower(tiny_resnet())
    assert isinstance(model, Network) and isinstance(model.conv2_x, Stage)
    assert isinstance(model.conv2_x[0], ResidualBlock)
    assert model.conv3_x[0].conv2.groups == 2
    keys = set(model.state_dict())
    assert {"conv3_x.0.shortcut.conv.weight", "conv3_x.0.shortcut.bn.running_var",
            "conv2_x.0.bn1.num_batches_tracked", "head.fc.bias"} <= keys
    assert model.input_shape == (3, 18, 18) and model.num_classes == 10


def test_features_head_and_stages_compose():
    g = tiny_resnet()
    model = lower(g).eval()
    x = torch.randn(2, *g.input_shape)
    feats = model.forward_features(x)
    assert tuple(feats.shape) == (2, 16, 3, 3)
    torch.testing.assert_close(model.forward_head(feats), model(x), rtol=0, atol=0)
    stages = model.forward_stages(x)
    assert list(stages) == ["conv1", "conv2_x", "conv3_x", "head"]
    assert tuple(stages["conv2_x"].shape) == (2, *g.node("conv2_x.0.relu").shape)


def test_split_inside_a_stage():
    """The head starts mid-stage when a conv stage ends with the global pool."""
    g = graph("mixed", (3, 8, 8), [
        L("body.conv", conv(3, 4), "body"), L("body.relu", ("relu", ()), "body"),
        L("body.pool", ("gap", ()), "body"), L("body.flatten", ("flatten", ()), "body"),
        L("body.fc", fc(4, 2), "body")])
    model = lower(g).eval()
    x = torch.randn(1, 3, 8, 8)
    assert tuple(model.forward_features(x).shape) == (1, 4, 8, 8)
    torch.testing.assert_close(model.forward_head(model.forward_features(x)), model(x))


def test_input_tensor_is_never_modified_in_place():
    g = graph("relu-first", (2, 4, 4), [
        L("s.relu", ("relu", ()), "s"), L("s.conv", conv(2, 2), "s"),
        L("s.relu2", ("relu", ()), "s")])
    model = lower(g)
    assert not model.s.relu.inplace and model.s.relu2.inplace
    x = torch.randn(1, 2, 4, 4)
    before = x.clone()
    model(x)
    assert torch.equal(x, before)


def _node(op, attrs, name="s.layer"):
    return Node(name, op, ("input",), attrs, (1,), SPAN, "s")


def test_initialisation_follows_the_papers():
    torch.manual_seed(0)
    _, a = conv(64, 256, 3)
    he_node = _node("conv", a)
    m = TORCH_OPS["conv"].build(he_node, Context())
    init_layer(m, he_node)
    fan_out = 256 * 9
    assert abs(m.weight.std().item() - (2 / fan_out) ** 0.5) < 0.002
    a = tuple((k, v) for k, v in a if k not in ("init", "bias", "bias_init")) + \
        (("bias", True), ("bias_init", 1.0), ("init", "normal(0.01)"))
    n = _node("conv", tuple(sorted(a)))
    m = TORCH_OPS["conv"].build(n, Context())
    init_layer(m, n)
    assert abs(m.weight.std().item() - 0.01) < 0.001 and torch.all(m.bias == 1)
    _, a = fc(512, 1000)
    a = tuple(sorted(dict(a, init="normal(0.01)").items()))
    n = _node("fc", a)
    m = TORCH_OPS["fc"].build(n, Context())
    init_layer(m, n)
    assert abs(m.weight.std().item() - 0.01) < 0.001 and torch.all(m.bias == 0)
    _, a = bn(8)
    n = _node("bn", a)
    m = TORCH_OPS["bn"].build(n, Context())
    with torch.no_grad():
        m.weight.fill_(3)
    init_layer(m, n)
    assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_unknown_init_scheme_is_an_error():
    _, a = conv(3, 4)
    n = _node("conv", tuple(sorted(dict(a, init="xavier").items())))
    with pytest.raises(ArchError, match="xavier"):
        init_layer(TORCH_OPS["conv"].build(n, Context()), n)


def test_relu_before_add_keeps_autograd_valid():
    """A residual branch ending in ReLU: the add must not run in place on its output."""
    b = "s.0"
    g = graph("relu-before-add", (4, 6, 6), [
        L(f"{b}.conv1", conv(4, 4), "s", b), L(f"{b}.bn1", bn(4), "s", b),
        L(f"{b}.relu1", ("relu", ()), "s", b),
        L(f"{b}.add", ("add", ()), "s", b, (f"{b}.relu1", "input"))])
    model = lower(g).train()
    assert not model.s[0].add.inplace
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None


def test_miswired_graph_is_refused():
    g = tiny_vgg()
    nodes = list(g.nodes)
    nodes[2] = Node(nodes[2].name, nodes[2].op, ("input",), nodes[2].attrs, nodes[2].shape,
                    SPAN, nodes[2].stage)
    bad = Graph(g.name, g.input_shape, g.num_classes, tuple(nodes), g.stages)
    with pytest.raises(PlanError, match="conv1.pool"):
        plan(bad)


def test_graph_is_used_as_is():
    g = tiny_vgg()
    assert load_graph(g) is g
    model = create_model(g)
    assert model.graph is g
    with pytest.raises(ArchError, match="3 classes"):
        create_model(g, num_classes=7)
    with pytest.raises(ArchError, match="cannot be applied"):
        create_model(g, n=3)


def test_state_dict_round_trip_and_deepcopy():
    import copy
    g = tiny_resnet()
    a, b = lower(g).eval(), copy.deepcopy(lower(g)).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, *g.input_shape)
    assert torch.equal(a(x), b(x))
    assert isinstance(a.head.softmax, nn.Identity)
