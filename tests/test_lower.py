"""Lowering on hand-built graphs (tests/test_count_nets.py): tables, names, init, forward."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archdsl.ir.graph import Graph, Node
from archdsl.lowering import create_model, load_graph
from archdsl.lowering.lower import lower
from archdsl.lowering.torch_ops import TORCH_OPS, Context, init_layer
from archdsl.lowering.modules import Block, Network, Stage
from archdsl.lowering.verify import verify
from archdsl.errors import ArchError
from archdsl.ir.ops import OPS
from test_count_nets import L, SPAN, bn, conv, fc, graph, tiny_alexnet, tiny_resnet, tiny_vgg

TINY = [tiny_resnet, tiny_alexnet, tiny_vgg]


def test_the_two_halves_of_the_op_table_have_the_same_ops():
    """ir/ops.py (front end) and lowering/torch_ops.py (torch) are keyed alike."""
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
    assert isinstance(model.conv2_x[0], Block)
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


def test_forward_follows_the_inputs_not_the_order():
    """A layer that reads the network input rather than its predecessor, and an add of two
    paths: the forward does what the wiring says."""
    g = graph("skip", (3, 6, 6), [
        L("s.conv1", conv(3, 3), "s"), L("s.relu", ("relu", ()), "s"),
        L("s.conv2", conv(3, 3), "s", None, ("input",)),
        L("s.add", ("add", ()), "s", None, ("s.relu", "s.conv2"))])
    model = lower(g).eval()
    x = torch.randn(2, 3, 6, 6)
    want = torch.relu(model.s.conv1(x)) + model.s.conv2(x)
    torch.testing.assert_close(model(x), want, rtol=0, atol=0)


def test_reading_a_later_layer_is_an_error():
    g = tiny_vgg()
    nodes = list(g.nodes)
    nodes[1] = Node(nodes[1].name, nodes[1].op, (nodes[3].name,), nodes[1].attrs,
                    nodes[1].shape, SPAN, nodes[1].stage)
    with pytest.raises(ArchError, match="not an earlier layer"):
        lower(Graph(g.name, g.input_shape, g.num_classes, tuple(nodes), g.stages))


def test_a_tensor_read_twice_is_not_overwritten():
    """conv output read by a ReLU and by the add: neither may run in place."""
    b = "s.0"
    g = graph("fork", (4, 6, 6), [
        L("s.conv", conv(4, 4), "s"),
        L(f"{b}.relu", ("relu", ()), "s", b, ("s.conv",)),
        L(f"{b}.conv", conv(4, 4), "s", b),
        L(f"{b}.add", ("add", ()), "s", b, ("s.conv", f"{b}.conv")),
        L("t.relu", ("relu", ()), "t")])
    model = lower(g).train()
    assert not model.s[0].relu.inplace and not model.s[0].add.inplace
    assert not model.t.relu.inplace  # it reads the stage output forward_stages returns
    x = torch.randn(2, 4, 6, 6)
    c = model.s.conv(x)
    want = torch.relu(c + model.s[0].conv(torch.relu(c)))
    torch.testing.assert_close(model(x), want)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_groups_are_namespaces_not_layers():
    model = lower(tiny_resnet())
    with pytest.raises(ArchError, match="namespace"):
        model.conv2_x(torch.randn(1, 4, 9, 9))
    with pytest.raises(IndexError, match="no child '7'"):
        model.conv2_x[7]
    assert len(model.conv3_x[0]) == len(list(model.conv3_x[0].children()))


def test_code_graph_module_and_compile():
    g = tiny_resnet()
    model = lower(g).eval()
    x = torch.randn(2, *g.input_shape)
    assert "self.conv1.conv(x)" in model.code and "for " not in model.code
    gm = model.graph_module()
    assert isinstance(gm, torch.fx.GraphModule) and gm.conv1.conv is model.conv1.conv
    torch.testing.assert_close(gm(x), model(x), rtol=0, atol=0)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x))


def test_pickle_round_trip(tmp_path):
    g = tiny_resnet()
    model = lower(g).eval()
    torch.save(model, tmp_path / "m.pt")
    back = torch.load(tmp_path / "m.pt", weights_only=False)
    x = torch.randn(1, *g.input_shape)
    assert torch.equal(back(x), model(x)) and back.graph == g


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
