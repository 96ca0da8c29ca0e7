"""Small hand-built IR graphs (and, for the torch tests, a minimal contract lowering).

They exercise every op of the table without the parser, so counting can be tested on its
own; ``tests/test_verify.py`` lowers them with :func:`lower` to check the fvcore rules.
"""
from __future__ import annotations

from archdsl.errors import Span
from archdsl.ir.graph import Graph, Node, Stage, attrs
from archdsl.ir.ops import OPS, infer_shape

SPAN = Span("<test>", 1, 1)


def conv(cin, cout, k=3, s=1, p=None, g=1, bias=False, d=1):
    p = d * (k // 2) if p is None else p
    dilation = {"dilation": (d, d)} if d != 1 else {}   # a default is left out of the IR
    return "conv", attrs(in_channels=cin, out_channels=cout, kernel=(k, k), stride=(s, s),
                         padding=(p, p), groups=g, bias=bias, bias_init=None, init="he", **dilation)


def bn(c):
    return "bn", attrs(channels=c, eps=1e-5, momentum=0.1)


def pool(op, k, s, p=0, ceil_mode=False):
    ceil = {"ceil_mode": True} if ceil_mode else {}
    return op, attrs(kernel=(k, k), stride=(s, s), padding=(p, p), **ceil)


def fc(i, o, bias=True):
    return "fc", attrs(in_features=i, out_features=o, bias=bias, bias_init=None, init="torch")


def graph(name, input_shape, layers, source=""):
    """Build a Graph from ``(name, (op, attrs), stage, block, inputs|None, role)`` tuples."""
    nodes, shapes, prev, stages = [], {"input": input_shape}, "input", {}
    for name_, (op, a), stage, block, inputs, role in layers:
        inputs = inputs or (prev,)
        shape = infer_shape(op, dict(a), [shapes[i] for i in inputs])
        nodes.append(Node(name_, op, inputs, a, shape, SPAN, stage, block, role))
        shapes[name_] = shape
        stages.setdefault(stage, []).append(name_)
        prev = name_
    classes = nodes[-1].shape[0]
    return Graph(name, input_shape, classes, tuple(nodes),
                 tuple(Stage(s, None, tuple(ns), SPAN) for s, ns in stages.items()), source=source)


def L(name, op_attrs, stage, block=None, inputs=None, role="main"):
    return (name, op_attrs, stage, block, inputs, role)


def tiny_resnet(width=4, input_shape=(3, 18, 18), classes=10):
    """conv1 stage; a basic block with an option-A shortcut; a bottleneck with option B; head."""
    w, b1, b2 = width, "conv2_x.0", "conv3_x.0"
    return graph("tiny-resnet", input_shape, [
        L("conv1.conv", conv(3, w), "conv1"), L("conv1.bn", bn(w), "conv1"),
        L("conv1.relu", ("relu", ()), "conv1"),
        L("conv1.pool", pool("maxpool", 3, 2, 1), "conv1"),
        L(f"{b1}.conv1", conv(w, 2 * w, s=2), "conv2_x", b1), L(f"{b1}.bn1", bn(2 * w), "conv2_x", b1),
        L(f"{b1}.relu1", ("relu", ()), "conv2_x", b1),
        L(f"{b1}.conv2", conv(2 * w, 2 * w), "conv2_x", b1), L(f"{b1}.bn2", bn(2 * w), "conv2_x", b1),
        L(f"{b1}.shortcut", ("pad_shortcut", attrs(stride=2, pad_before=w // 2, pad_after=w - w // 2)),
          "conv2_x", b1, ("conv1.pool",), "shortcut"),
        L(f"{b1}.add", ("add", ()), "conv2_x", b1, (f"{b1}.bn2", f"{b1}.shortcut")),
        L(f"{b1}.relu", ("relu", ()), "conv2_x", b1),
        L(f"{b2}.conv1", conv(2 * w, w, 1, 2), "conv3_x", b2), L(f"{b2}.bn1", bn(w), "conv3_x", b2),
        L(f"{b2}.relu1", ("relu", ()), "conv3_x", b2),
        L(f"{b2}.conv2", conv(w, w, g=2), "conv3_x", b2), L(f"{b2}.bn2", bn(w), "conv3_x", b2),
        L(f"{b2}.relu2", ("relu", ()), "conv3_x", b2),
        L(f"{b2}.conv3", conv(w, 4 * w, 1), "conv3_x", b2), L(f"{b2}.bn3", bn(4 * w), "conv3_x", b2),
        L(f"{b2}.shortcut.conv", conv(2 * w, 4 * w, 1, 2), "conv3_x", b2, (f"{b1}.relu",), "shortcut"),
        L(f"{b2}.shortcut.bn", bn(4 * w), "conv3_x", b2, None, "shortcut"),
        L(f"{b2}.add", ("add", ()), "conv3_x", b2, (f"{b2}.bn3", f"{b2}.shortcut.bn")),
        L(f"{b2}.relu", ("relu", ()), "conv3_x", b2),
        L("head.pool", ("gap", ()), "head"), L("head.flatten", ("flatten", ()), "head"),
        L("head.fc", fc(4 * w, classes), "head"), L("head.softmax", ("softmax", ()), "head"),
    ])


def tiny_alexnet(input_shape=(3, 33, 33)):
    """Grouped biased convs, LRN, max/avg/adaptive pooling, dropout and an input-fixing fc."""
    return graph("tiny-alexnet", input_shape, [
        L("conv1.conv", conv(3, 8, 5, 2, 0, bias=True), "conv1"),
        L("conv1.relu", ("relu", ()), "conv1"),
        L("conv1.lrn", ("lrn", attrs(size=5, alpha=1e-4, beta=0.75, k=2.0)), "conv1"),
        L("conv1.pool", pool("maxpool", 3, 2), "conv1"),
        L("conv2.conv", conv(8, 12, 3, 1, 1, g=2, bias=True), "conv2"),
        L("conv2.relu", ("relu", ()), "conv2"),
        L("conv2.pool", pool("avgpool", 2, 2, 1), "conv2"),
        L("conv3.pool", ("adaptive_avgpool", attrs(size=(3, 3))), "conv3"),
        L("head.flatten", ("flatten", ()), "head"),
        L("head.dropout1", ("dropout", attrs(p=0.5)), "head"),
        L("head.fc1", fc(12 * 9, 20), "head"), L("head.relu", ("relu", ()), "head"),
        L("head.fc2", fc(20, 5, bias=False), "head"), L("head.softmax", ("softmax", ()), "head"),
    ], source="network tiny\n" * 3)


def tiny_vgg(input_shape=(3, 8, 8)):
    """A net whose flatten follows a plain max pool: the fc fixes the input at 8×8."""
    return graph("tiny-vgg", input_shape, [
        L("conv1.conv", conv(3, 4), "conv1"), L("conv1.relu", ("relu", ()), "conv1"),
        L("conv1.pool", pool("maxpool", 2, 2), "conv1"),
        L("head.flatten", ("flatten", ()), "head"), L("head.fc", fc(4 * 16, 3), "head"),
    ])


def tiny_gated(input_shape=(3, 16, 16), classes=10):
    """The next papers' ops: ceil-mode pools, three parallel branches (1×1, dilated 3×3,
    identity) joined by concat, a squeeze-excitation gate (gap → 1×1 → relu → 1×1 → sigmoid
    → mul), ReLU6, leaky ReLU and SiLU."""
    m, se = "mix.0", "mix.0.se"
    return graph("tiny-gated", input_shape, [
        L("stem.conv", conv(3, 8), "stem"), L("stem.relu", ("relu6", ()), "stem"),
        L("stem.pool", pool("maxpool", 3, 2, ceil_mode=True), "stem"),        # 16 → 8 (floor: 7)
        L(f"{m}.branch1", conv(8, 4, 1), "mix", m, ("stem.pool",)),
        L(f"{m}.branch2", conv(8, 4, 3, d=2), "mix", m, ("stem.pool",)),
        L(f"{m}.branch3", ("identity", ()), "mix", m, ("stem.pool",)),
        L(f"{m}.concat", ("concat", ()), "mix", m, (f"{m}.branch1", f"{m}.branch2", f"{m}.branch3")),
        L(f"{m}.relu", ("leaky_relu", attrs(negative_slope=0.1)), "mix", m),
        L(f"{se}.pool", ("gap", ()), "mix", m),
        L(f"{se}.conv1", conv(16, 4, 1, bias=True), "mix", m),
        L(f"{se}.relu", ("relu", ()), "mix", m),
        L(f"{se}.conv2", conv(4, 16, 1, bias=True), "mix", m),
        L(f"{se}.sigmoid", ("sigmoid", ()), "mix", m),
        L(f"{m}.mul", ("mul", ()), "mix", m, (f"{m}.relu", f"{se}.sigmoid")),
        L("head.pool", pool("avgpool", 3, 2, ceil_mode=True), "head"),      # 8 → 4 (floor: 3)
        L("head.act", ("silu", ()), "head"),
        L("head.gap", ("gap", ()), "head"), L("head.flatten", ("flatten", ()), "head"),
        L("head.fc", fc(16, classes), "head"),
    ])


def test_tiny_graphs_cover_every_op():
    ops = {n.op for g in (tiny_resnet(), tiny_alexnet(), tiny_vgg(), tiny_gated()) for n in g.nodes}
    assert ops == set(OPS)


def test_tiny_graph_shapes():
    g = tiny_resnet()
    assert g.node("conv2_x.0.add").shape == (8, 5, 5)
    assert g.node("conv3_x.0.add").shape == (16, 3, 3)
    assert g.output_shape == (10,)
    assert tiny_alexnet().node("conv3.pool").shape == (12, 3, 3)
    g = tiny_gated()
    assert g.node("stem.pool").shape == (8, 8, 8) and g.node("mix.0.branch2").shape == (4, 8, 8)
    assert g.node("mix.0.concat").shape == (16, 8, 8) and g.node("mix.0.mul").shape == (16, 8, 8)
    assert g.node("head.pool").shape == (16, 4, 4)
