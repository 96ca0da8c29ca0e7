"""Codegen on graphs that are not chains of residual blocks: parallel branches inside a block,
a skip connection between stages, block classes named by template and split when their
instances differ. The generated forward is checked against a reference that follows the
IR's inputs node by node, using the generated model's own modules (found by IR name)."""
from __future__ import annotations

import dataclasses

import torch

from archdsl.lowering.codegen import generate_source
from archdsl.lowering.torch_ops import TORCH_OPS, Context
from test_codegen import import_source
from test_count_nets import L, bn, conv, fc, graph


def reference(g, model, x: torch.Tensor) -> torch.Tensor:
    """The IR evaluated node by node: each node's module at its IR name, else (inline
    ops such as add) the torch table's module for it."""
    values = {"input": x}
    modules = dict(model.named_modules())
    for n in g.nodes:
        m = modules.get(n.name) or TORCH_OPS[n.op].build(n, Context())
        values[n.name] = m(*(values[i] for i in n.inputs))
    return values[g.output]


def _check(g, tmp_path):
    source = generate_source(g)
    net = import_source(source, tmp_path / "gen.py").build().eval()
    x = torch.randn(2, *g.input_shape)
    with torch.no_grad():
        assert torch.equal(net(x), reference(g, net, x))
        assert list(net.forward_stages(x)) == [s.name for s in g.stages]
        assert torch.equal(net.forward_stages(x)[g.stages[-1].name], net(x))
    scripted = torch.jit.script(net)
    with torch.no_grad():
        assert torch.equal(scripted(x), net(x))
    return source, net


def branchy(blocks: int = 2, template: str | None = None):
    """Blocks of three parallel paths merged by two adds (the block input is the third)."""
    layers = [L("stem.conv", conv(3, 8), "stem"), L("stem.relu", ("relu", ()), "stem")]
    prev = "stem.relu"
    for i in range(blocks):
        b = f"body.{i}"
        layers += [
            L(f"{b}.branch1.conv", conv(8, 8, 1), "body", b, (prev,)),
            L(f"{b}.branch1.bn", bn(8), "body", b),
            L(f"{b}.branch2.conv", conv(8, 8, 3), "body", b, (prev,)),
            L(f"{b}.branch2.bn", bn(8), "body", b),
            L(f"{b}.add", ("add", ()), "body", b, (f"{b}.branch1.bn", f"{b}.branch2.bn")),
            L(f"{b}.merge", ("add", ()), "body", b, (f"{b}.add", prev)),
            L(f"{b}.relu", ("relu", ()), "body", b),
        ]
        prev = f"{b}.relu"
    layers += [L("head.pool", ("gap", ()), "head"), L("head.flatten", ("flatten", ()), "head"),
               L("head.fc", fc(8, 5), "head")]
    g = graph("branchy", (3, 8, 8), layers)
    if template:
        g = dataclasses.replace(g, nodes=tuple(dataclasses.replace(n, template=template)
                                               if n.block else n for n in g.nodes))
    return g


def test_parallel_branches_in_a_block(tmp_path):
    source, net = _check(branchy(), tmp_path)
    assert "        branch1 = self.branch1(x)\n        branch2 = self.branch2(x)\n" in source
    # the second add may overwrite the first one's fresh sum, as lowering's Add(inplace) does
    assert "        out = branch1 + branch2\n        out += x\n" in source
    assert "*(Block() for _ in range(2)),  # 8×8×8" in source  # identical blocks: a loop
    assert [k for k in net.state_dict() if k.startswith("body.0.")][:2] == [
        "body.0.branch1.conv.weight", "body.0.branch1.bn.weight"]


def test_template_names_the_class(tmp_path):
    source, _ = _check(branchy(template="inception_ish"), tmp_path)
    assert "class InceptionIsh(nn.Module):" in source
    assert "Block 'inception_ish' of the spec" in source


def test_skip_between_stages(tmp_path):
    """A stage-level add that reads an earlier stage: the network forward follows inputs."""
    g = graph("skip", (3, 8, 8), [
        L("stem.conv", conv(3, 4), "stem"), L("stem.relu", ("relu", ()), "stem"),
        L("body.conv", conv(4, 4), "body"), L("body.bn", bn(4), "body"),
        L("body.add", ("add", ()), "body", None, ("body.bn", "stem.relu")),
        L("body.relu", ("relu", ()), "body"),
        L("head.pool", ("gap", ()), "head"), L("head.flatten", ("flatten", ()), "head"),
        L("head.fc", fc(4, 3), "head"),
    ])
    source, net = _check(g, tmp_path)
    assert "        x2 = self.body.conv(x)\n        x2 = self.body.bn(x2)\n        x = x2 + x\n" in source
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert net.forward_features(x).shape == (1, 4, 8, 8)


def _drop(g, name: str, rewire: dict[str, tuple[str, ...]]):
    nodes = tuple(dataclasses.replace(n, inputs=rewire.get(n.name, n.inputs))
                  for n in g.nodes if n.name != name and not n.name.startswith(name + "."))
    return dataclasses.replace(g, nodes=nodes, stages=tuple(
        dataclasses.replace(s, nodes=tuple(n.name for n in nodes if n.stage == s.name))
        for s in g.stages))


def test_a_group_only_some_instances_have_is_an_argument(tmp_path):
    """Without branch2 the add reads the block input: branch2 is optional, like a projection."""
    g = _drop(branchy(blocks=3, template="mixed"), "body.2.branch2",
              {"body.2.add": ("body.2.branch1.bn", "body.1.relu")})
    source, _ = _check(g, tmp_path)
    assert "def __init__(self, branch2=False):" in source
    assert "branch2 = x if self.branch2 is None else self.branch2(x)" in source
    assert "*(Mixed(branch2=True) for _ in range(2)),  # 8×8×8\n            Mixed()," in source


def test_instances_that_differ_in_wiring_get_their_own_class(tmp_path):
    g = _drop(branchy(blocks=3, template="mixed"), "body.2.branch2.bn",
              {"body.2.add": ("body.2.branch1.bn", "body.2.branch2.conv")})
    source, _ = _check(g, tmp_path)
    assert "class Mixed(nn.Module):" in source and "class Mixed2(nn.Module):" in source
