"""Block kinds as data (archdsl/builder/blocks.py).

The residual kind must build what the hand-written ``place._block`` built before it became a
table entry: ``tests/blocks_reference.json.gz`` holds the IR of one small network under every
combination of shortcut option, ReLU placement, batchnorm and stride placement, recorded from
that code (commit 190d673) by ``python tests/test_blocks.py``. A second kind, defined only as
data here, goes through the same expander.
"""
from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "golden"))
import record  # noqa: E402  (tests/golden/record.py: the IR as plain data)

import archdsl  # noqa: E402
from archdsl.builder import blocks  # noqa: E402
from archdsl.builder.blocks import BlockKind, Fixed, Shortcut  # noqa: E402
from archdsl.builder.layer import Layer  # noqa: E402
from archdsl.builder.place import BlockSite, State  # noqa: E402
from archdsl.builder.settings import Settings  # noqa: E402
from archdsl.errors import Span  # noqa: E402

REFERENCE = HERE / "blocks_reference.json.gz"
SPAN = Span("<test>", 1, 1)

# A block keeping its input's shape (s2), a named bottleneck that downsamples by the stage's
# declared size and widens (s3), and a repeated block with an explicit stride (s4).
SPEC = """network blocks
input 3×16×16
classes 10
with {settings}
block bneck(c) = [1×1, c; 3×3, c; 1×1, 2*c]

conv1 16×16: 3×3, 8
s2    16×16: [3×3, 8; 3×3, 8]
s3      8×8: bneck(8) ×2
s4      4×4: [3×3, 32; 3×3, 32] ×2, stride 2
head    1×1: average pool, 10-d fc
"""

COMBOS = list(itertools.product(("A", "B", "C", "plain"), ("after", "before"),
                                ("batchnorm", "no batchnorm"), ("first", "1×1", "3×3")))


def settings_line(combo) -> str:
    shortcut, relu, bn, stride_on = combo
    return f"shortcut {shortcut}, relu {relu} add, {bn}, stride on {stride_on}"


def build(combo):
    return archdsl.load(SPEC.format(settings=settings_line(combo)))


def reference() -> dict:
    return json.loads(gzip.decompress(REFERENCE.read_bytes()))


@pytest.mark.parametrize("combo", COMBOS, ids=settings_line)
def test_residual_kind_builds_what_place_block_built(combo):
    want = reference()[settings_line(combo)]
    got = record.ir_record(build(combo))
    assert got["nodes"] == want["nodes"]
    assert got == want


def test_nodes_of_a_named_block_carry_its_template():
    graph = build(("B", "after", "batchnorm", "1×1"))
    for n in graph.nodes:
        assert n.template == ("bneck" if n.stage == "s3" else None), n.name
    resnet50 = archdsl.load("resnet50")
    templates = {n.template for n in resnet50.nodes if n.block is not None}
    assert templates == {"bottleneck"}
    assert {n.template for n in resnet50.nodes if n.block is None} == {None}


def test_the_template_survives_ir_yaml():
    from archdsl.ir.yamlio import graph_from_yaml, graph_to_yaml
    graph = build(("C", "after", "batchnorm", "first"))
    again = graph_from_yaml(graph_to_yaml(graph))
    assert [n.template for n in again.nodes] == [n.template for n in graph.nodes]


# ---- kinds defined only as data, placed by the same expander ---------------------------

# Pre-activation residual (He et al. 2016b, "Identity Mappings"): BN → ReLU → conv per entry,
# the shortcut added with nothing after it.
PREACT = BlockKind("preact", entry=("bn", "relu", "conv"), shortcut=blocks.BY_OPTION,
                   merge="add")

# A gate on the branch's output, like squeeze-excitation but with today's ops (add for mul).
GATE = BlockKind("gate", fixed=(Fixed("conv1", "conv", (("kernel", (1, 1)),), reduce=2),
                                Fixed("relu", "relu"),
                                Fixed("conv2", "conv", (("kernel", (1, 1)),), reduce=1)),
                 shortcut=Shortcut("identity", "identity"), merge="add", shortcut_first=True)


def build_as(kind: BlockKind, combo, monkeypatch):
    """The test network with every block expanded as ``kind``: today's syntax writes only
    the default kind, so the test puts ``kind`` in its slot of the table."""
    monkeypatch.setattr(blocks, "KINDS", {"residual": kind})
    return build(combo)


def block_nodes(graph, block: str) -> list[tuple]:
    """(local name, op, inputs, shape) of a block's nodes; inputs inside it by local name."""
    def local(name):
        return name[len(block) + 1:] if name.startswith(block + ".") else name
    return [(local(n.name), n.op, tuple(map(local, n.inputs)), n.shape)
            for n in graph.nodes if n.block == block]


def test_pre_activation_residual_as_table_data(monkeypatch):
    graph = build_as(PREACT, ("B", "after", "batchnorm", "3×3"), monkeypatch)
    assert block_nodes(graph, "s2.0") == [
        ("bn1", "bn", ("conv1.relu",), (8, 16, 16)),
        ("relu1", "relu", ("bn1",), (8, 16, 16)),
        ("conv1", "conv", ("relu1",), (8, 16, 16)),
        ("bn2", "bn", ("conv1",), (8, 16, 16)),
        ("relu2", "relu", ("bn2",), (8, 16, 16)),
        ("conv2", "conv", ("relu2",), (8, 16, 16)),
        ("add", "add", ("conv2", "conv1.relu"), (8, 16, 16)),   # identity, no ReLU after
    ]
    # Downsampling and widening: the stride on the 3×3, a projection shortcut of the input.
    assert block_nodes(graph, "s3.0") == [
        ("bn1", "bn", ("s2.0.add",), (8, 16, 16)),
        ("relu1", "relu", ("bn1",), (8, 16, 16)),
        ("conv1", "conv", ("relu1",), (8, 16, 16)),
        ("bn2", "bn", ("conv1",), (8, 16, 16)),
        ("relu2", "relu", ("bn2",), (8, 16, 16)),
        ("conv2", "conv", ("relu2",), (8, 8, 8)),
        ("bn3", "bn", ("conv2",), (8, 8, 8)),
        ("relu3", "relu", ("bn3",), (8, 8, 8)),
        ("conv3", "conv", ("relu3",), (16, 8, 8)),
        ("shortcut.conv", "conv", ("s2.0.add",), (16, 8, 8)),
        ("shortcut.bn", "bn", ("shortcut.conv",), (16, 8, 8)),
        ("add", "add", ("conv3", "shortcut.bn"), (16, 8, 8)),
    ]
    strides = {n.name: n["stride"] for n in graph.nodes if n.op == "conv" and n.block == "s3.0"}
    assert strides == {"s3.0.conv1": (1, 1), "s3.0.conv2": (2, 2), "s3.0.conv3": (1, 1),
                       "s3.0.shortcut.conv": (2, 2)}
    assert {n.template for n in graph.nodes if n.stage == "s3"} == {"bneck"}
    assert graph.depth == 1 + 2 + 3 * 2 + 2 * 2 + 1


def test_pre_activation_without_batchnorm_is_relu_conv(monkeypatch):
    graph = build_as(PREACT, ("A", "after", "no batchnorm", "first"), monkeypatch)
    assert [(name, op) for name, op, _, _ in block_nodes(graph, "s4.0")] == [
        ("relu1", "relu"), ("conv1", "conv"), ("relu2", "relu"), ("conv2", "conv"),
        ("shortcut", "pad_shortcut"), ("add", "add")]


def test_pre_activation_lowers_to_what_it_means(monkeypatch):
    import torch
    import torch.nn.functional as F
    graph = build_as(PREACT, ("B", "after", "batchnorm", "3×3"), monkeypatch)
    model = archdsl.create_model(graph).eval()
    m = dict(model.named_modules())
    seen = {}
    m["s2.0.bn1"].register_forward_hook(lambda mod, i, o: seen.update(x=i[0]))  # block input
    m["s3.0.bn1"].register_forward_hook(lambda mod, i, o: seen.update(y=i[0]))  # its output
    torch.manual_seed(0)
    with torch.no_grad():
        model(torch.randn(2, 3, 16, 16))
        x = seen["x"]
        h = m["s2.0.conv1"](F.relu(m["s2.0.bn1"](x)))
        h = m["s2.0.conv2"](F.relu(m["s2.0.bn2"](h)))
    torch.testing.assert_close(seen["y"], h + x)


def test_a_gate_inserted_after_the_last_conv_of_a_residual_branch(monkeypatch):
    kind = dataclasses.replace(blocks.KINDS["residual"], name="residual_gate", gate=GATE)
    graph = build_as(kind, ("B", "after", "batchnorm", "first"), monkeypatch)
    assert block_nodes(graph, "s2.0") == [
        ("conv1", "conv", ("conv1.relu",), (8, 16, 16)),
        ("bn1", "bn", ("conv1",), (8, 16, 16)),
        ("relu1", "relu", ("bn1",), (8, 16, 16)),
        ("conv2", "conv", ("relu1",), (8, 16, 16)),
        ("bn2", "bn", ("conv2",), (8, 16, 16)),
        ("gate.conv1", "conv", ("bn2",), (4, 16, 16)),
        ("gate.relu", "relu", ("gate.conv1",), (4, 16, 16)),
        ("gate.conv2", "conv", ("gate.relu",), (8, 16, 16)),
        ("gate.add", "add", ("bn2", "gate.conv2"), (8, 16, 16)),
        ("add", "add", ("gate.add", "conv1.relu"), (8, 16, 16)),
        ("relu", "relu", ("add",), (8, 16, 16)),
    ]
    gate_convs = [n for n in graph.nodes if n.name.startswith("s2.0.gate.conv")]
    assert [(n["kernel"], n["padding"], n["stride"]) for n in gate_convs] == \
        [((1, 1), (0, 0), (1, 1))] * 2
    assert {n.span for n in gate_convs} == {n.span for n in graph.nodes if n.name == "s2.0.add"}


def _entry(kernel: int, channels: int) -> Layer:
    return Layer("conv", {"kernel": (kernel, kernel), "out_channels": channels}, SPAN)


def _expand(kind: BlockKind, layer: Layer, shape=(8, 8, 8), s=Settings(batchnorm=True)):
    state = State("input", shape, shape)
    blocks.expand_block(kind, layer, BlockSite(state, "s", "s.0", None), s, 0, None)
    return [(n.local_name, n.op, tuple(i.removeprefix("s.0.") for i in n.inputs), n.shape)
            for n in state.nodes]


def test_parallel_branches_merged():
    # Inception's shape (its merge, concat, is not an op yet): branches from the same input.
    kind = BlockKind("paths", entry=("conv", "relu"), merge="add")
    layer = Layer("block", {}, SPAN, branches=[[_entry(3, 8)], [_entry(1, 4), _entry(3, 8)]])
    assert _expand(kind, layer) == [
        ("branch1.conv1", "conv", ("input",), (8, 8, 8)),
        ("branch1.relu1", "relu", ("branch1.conv1",), (8, 8, 8)),
        ("branch2.conv1", "conv", ("input",), (4, 8, 8)),
        ("branch2.relu1", "relu", ("branch2.conv1",), (4, 8, 8)),
        ("branch2.conv2", "conv", ("branch2.relu1",), (8, 8, 8)),
        ("branch2.relu2", "relu", ("branch2.conv2",), (8, 8, 8)),
        ("add", "add", ("branch1.relu1", "branch2.relu2"), (8, 8, 8)),
    ]


def test_the_input_merged_first():
    # A dense layer's shape (its merge, concat, is not an op yet): cat(x, new features).
    kind = BlockKind("dense", entry=("bn", "relu", "conv"),
                     shortcut=Shortcut("identity", "identity"), merge="add", shortcut_first=True)
    layer = Layer("block", {}, SPAN, entries=[_entry(1, 16), _entry(3, 8)])
    assert _expand(kind, layer)[-2:] == [
        ("conv2", "conv", ("relu2",), (8, 8, 8)),
        ("add", "add", ("input", "conv2"), (8, 8, 8)),
    ]


def test_a_residual_only_where_the_shape_is_kept():
    # MobileNetV2's inverted residual: linear bottleneck, add only at stride 1 and same shape.
    kind = BlockKind("inverted", entry=("conv", "bn", "relu"), last=("conv", "bn"),
                     shortcut=Shortcut("identity", None), merge="add")
    same = Layer("block", {}, SPAN, entries=[_entry(1, 32), _entry(3, 32), _entry(1, 8)])
    assert [name for name, *_ in _expand(kind, same)][-1] == "add"
    strided = dataclasses.replace(same, attrs={"stride": (2, 2)}, explicit={"stride"})
    assert [name for name, *_ in _expand(kind, strided)] == [
        "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3"]
    wider = Layer("block", {}, SPAN, entries=[_entry(1, 32), _entry(3, 32), _entry(1, 16)])
    assert "add" not in [name for name, *_ in _expand(kind, wider)]


def _record() -> None:
    """Rewrite the reference from the code under test (only when a change of meaning is meant)."""
    data = {settings_line(c): record.ir_record(build(c)) for c in COMBOS}
    REFERENCE.write_bytes(gzip.compress(json.dumps(data, ensure_ascii=False).encode(), mtime=0))


if __name__ == "__main__":
    _record()
