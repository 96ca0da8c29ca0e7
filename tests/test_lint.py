"""Graph.lint(): one failing case per rule, located at the offending node; every bundled spec
lints clean; a hand-built graph with the next papers' ops lints clean and counts correctly."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archdsl
from archdsl.analysis.count import count
from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Graph, Stage
from archdsl.ir.yamlio import graph_from_yaml, graph_to_yaml
from test_count_nets import tiny_alexnet, tiny_gated, tiny_resnet, tiny_vgg
from test_ops import fvcore_total

BAD = Span("<bad>", 7, 3)


def edit(g: Graph, target: str, **changes) -> Graph:
    """``g`` with node ``target`` changed (and located at BAD, so the error's span is checked)."""
    nodes = tuple(dataclasses.replace(n, span=BAD, **changes) if n.name == target else n
                  for n in g.nodes)
    return dataclasses.replace(g, nodes=nodes)


def with_attrs(g: Graph, name: str, update=None, drop=()) -> Graph:
    a = {k: v for k, v in g.node(name).attrs if k not in drop}
    a.update(update or {})
    return edit(g, name, attrs=tuple(sorted(a.items())))


def fails(g: Graph, message: str, span: Span | None = BAD) -> ArchError:
    with pytest.raises(ArchError, match=message) as e:
        g.lint()
    if span is not None:
        assert e.value.span == span
    return e.value


G = tiny_gated()


@pytest.mark.parametrize("make", [tiny_resnet, tiny_alexnet, tiny_vgg, tiny_gated])
def test_hand_built_graphs_lint_clean(make):
    assert make().lint() is None


def test_every_bundled_spec_lints_clean():
    names = sorted(map(str, set(archdsl.api.list_specs().values())))
    assert len(names) >= 20
    for name in names:
        assert archdsl.load(name).lint() is None, name


def test_build_lints_what_it_built(monkeypatch):
    linted = []
    monkeypatch.setattr(Graph, "lint", lambda self: linted.append(self.name))
    archdsl.load("resnet20")
    assert linted == ["resnet20"]


# ---- one failing case per rule ---------------------------------------------------------------

def test_inputs_must_exist():
    fails(edit(G, "mix.0.relu", inputs=("mix.0.nowhere",)), "mix.0.relu: input 'mix.0.nowhere' is not defined")


def test_inputs_must_come_earlier():
    e = fails(edit(G, "mix.0.concat", inputs=("mix.0.branch1", "mix.0.mul")),
              "mix.0.concat: input 'mix.0.mul' comes after it")
    assert "nodes before it" in e.hint


def test_names_are_unique():
    fails(edit(G, "mix.0.branch2", name="mix.0.branch1"), "node name 'mix.0.branch1' is used twice")
    fails(edit(G, "stem.conv", name="input"), "may not be called 'input'")


def test_ops_are_known():
    e = fails(edit(G, "stem.relu", op="relu7"), "stem.relu: unknown op 'relu7'")
    assert "relu6" in e.hint


def test_attributes_are_in_the_schema():
    e = fails(with_attrs(G, "stem.conv", {"colour": "red"}), "stem.conv: conv has no attribute 'colour'")
    assert "dilation" in e.hint
    e = fails(with_attrs(G, "mix.0.concat", {"axis": 1}), "concat has no attribute 'axis'")
    assert e.hint == "concat takes no attributes"


def test_required_attributes_are_present():
    fails(with_attrs(G, "stem.conv", drop=("groups", "bias")), "stem.conv: conv needs attributes bias, groups")
    fails(with_attrs(G, "mix.0.relu", drop=("negative_slope",)), "leaky_relu needs attribute negative_slope")


@pytest.mark.parametrize("node, key, value, why", [
    ("stem.conv", "kernel", (3,), "a pair of integers ≥ 1"),
    ("stem.conv", "padding", (-1, 1), "a pair of integers ≥ 0"),
    ("stem.conv", "groups", True, "an integer ≥ 1"),
    ("stem.conv", "init", "xavier", "an initialisation"),
    ("stem.conv", "bias_init", "one", "a number or null"),
    ("stem.conv", "dilation", (0, 1), "a pair of integers ≥ 1"),
    ("stem.pool", "ceil_mode", 1, "true or false"),
    ("mix.0.relu", "negative_slope", "0.1", "a finite number"),
    ("mix.0.relu", "negative_slope", float("nan"), "a finite number"),
    ("head.fc", "out_features", 0, "an integer ≥ 1"),
])
def test_attribute_values_have_the_schema_types(node, key, value, why):
    fails(with_attrs(G, node, {key: value}), f"{node}: attribute {key} = .* must be {why}")


def test_an_optional_attribute_at_its_default_is_left_out():
    e = fails(with_attrs(G, "stem.conv", {"dilation": (1, 1)}), r"dilation = \(1, 1\) is its default")
    assert e.hint == "remove dilation"
    fails(with_attrs(G, "head.pool", {"ceil_mode": False}), "ceil_mode = False is its default")


def test_an_attribute_is_given_once():
    g = edit(G, "mix.0.relu", attrs=(("negative_slope", 0.1), ("negative_slope", 0.2)))
    fails(g, "an attribute is given twice")


def test_arity():
    fails(edit(G, "mix.0.mul", inputs=("mix.0.relu",)), "mix.0.mul: mul takes 2 inputs, not 1")
    fails(edit(G, "mix.0.concat", inputs=("mix.0.branch1",)), "concat takes at least 2 inputs, not 1")
    fails(edit(G, "stem.relu", inputs=("stem.conv", "input")), "relu6 takes 1 input, not 2")


def test_stored_shapes_reinfer():
    fails(edit(G, "mix.0.concat", shape=(12, 8, 8)),
          r"mix.0.concat: stored shape \(12, 8, 8\) but concat gives \(16, 8, 8\)")
    fails(edit(G, "stem.pool", attrs=G.node("stem.pool").attrs[1:]),   # ceil_mode dropped: 16 → 7 refused
          "stem.pool: 3×3 window with stride 2 does not tile")
    fails(edit(G, "mix.0.concat", inputs=("mix.0.branch1", "stem.conv")),
          "concat joins maps of one height×width")
    fails(edit(G, "head.gap", shape=(16, 0, 1)), "shape .* must be C×H×W or F positive integers")


def test_stage_lists_match_the_nodes():
    stages = list(G.stages)
    mix = stages[1]
    short = dataclasses.replace(G, stages=(stages[0], dataclasses.replace(mix, nodes=mix.nodes[:-1]),
                                           *stages[2:]))
    fails(short, "stage mix lists 10 nodes, but 11 nodes are in stage mix", mix.span)
    swapped = dataclasses.replace(mix, nodes=(mix.nodes[1], mix.nodes[0], *mix.nodes[2:]))
    fails(dataclasses.replace(G, stages=(stages[0], swapped, *stages[2:])),
          "stage mix lists 'mix.0.branch2' as its node 1, but node 1 of stage mix is 'mix.0.branch1'",
          mix.span)
    empty = Stage("extra", None, (), Span("<stage>", 9, 1))
    fails(dataclasses.replace(G, stages=(*stages, empty)), "stage extra has no nodes", empty.span)
    fails(edit(G, "head.fc", stage="tail"), "head.fc: stage 'tail' is not one of the stages")
    fails(dataclasses.replace(G, stages=(*stages, stages[0])), "stage name 'stem' is used twice",
          stages[0].span)


def test_graph_level_rules():
    fails(dataclasses.replace(G, nodes=(), stages=()), "the graph has no nodes", None)
    fails(dataclasses.replace(G, input_shape=(3, 16)), "input shape must be three positive", None)


# ---- lint on ir.yaml ------------------------------------------------------------------------

def test_ir_yaml_round_trips_the_new_ops_and_is_linted():
    text = graph_to_yaml(G)
    assert graph_from_yaml(text) == G
    assert "dilation: [2, 2]" in text and "ceil_mode: true" in text
    bad = text.replace("dilation: [2, 2]", "dilation: [2, 2], colour: red")
    with pytest.raises(ArchError, match="mix.0.branch2: conv has no attribute 'colour'"):
        graph_from_yaml(bad)
    bad = text.replace("ceil_mode: true", "ceil_mode: false", 1)
    with pytest.raises(ArchError, match="ceil_mode = False is its default"):
        graph_from_yaml(bad)


# ---- the gated graph counts correctly ----------------------------------------------------------

class Gated(nn.Module):
    """tiny_gated written by hand in torch."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.branch1 = nn.Conv2d(8, 4, 1, bias=False)
        self.branch2 = nn.Conv2d(8, 4, 3, padding=2, dilation=2, bias=False)
        self.se1, self.se2 = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1)
        self.head_pool = nn.AvgPool2d(3, 2, ceil_mode=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool(F.relu6(self.stem(x)))
        x = F.leaky_relu(torch.cat([self.branch1(x), self.branch2(x), x], 1), 0.1)
        gate = torch.sigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(x, 1)))))
        x = x * gate
        return self.fc(F.adaptive_avg_pool2d(F.silu(self.head_pool(x)), 1).flatten(1))


def test_gated_graph_counts_match_torch_and_fvcore():
    m = Gated()
    x = torch.randn(3, 3, 16, 16)
    assert m(x).shape == (3, 10)
    c = count(G, batch=3)
    assert c.total.params == sum(p.numel() for p in m.parameters()) == 216 + 32 + 288 + 68 + 80 + 170
    macs = 8 * 256 * 27 + 4 * 64 * 8 + 4 * 64 * 8 * 9 + 16 * 4 + 4 * 16 + 16 * 10
    assert c.total.macs == 3 * macs
    assert c.total.cost == 3 * (macs + 16 * 64 + 16 * 16) == fvcore_total(m, x)
    full = count(G, convention="full").total
    e = 16 * 8 * 8
    assert full.add == e                                        # the gate's mul
    # relu6, leaky, se relu, sigmoid, silu (4 per element of the 16×4×4 head map)
    assert full.relu == 2 * 8 * 256 + 2 * e + 4 + 3 * 16 + 4 * 16 * 16
    assert full.cost == 2 * macs + full.elementwise
