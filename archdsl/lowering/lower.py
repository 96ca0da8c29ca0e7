"""IR -> ``nn.Module``: one builder per op (keyed like :data:`archdsl.ir.ops.OPS`), assembled
into the structured modules of :mod:`.modules` following :func:`.plan.plan`.

Semantics follow notes/ir-contract.md; initialisation follows the papers (``init`` and
``bias_init`` attributes; BatchNorm weight 1, bias 0).
"""
from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from torch import nn

from archdsl.ir.graph import Graph, Node
from archdsl.ir.limits import Limits
from archdsl.lowering import load_graph
from archdsl.lowering.modules import Add, Network, PadShortcut, ResidualBlock, Stage
from archdsl.lowering.plan import Block, Plan, plan

Builder = Callable[[Node, Plan], nn.Module]


def _conv(n: Node, p: Plan) -> nn.Module:
    return nn.Conv2d(n["in_channels"], n["out_channels"], n["kernel"], n["stride"],
                     n["padding"], groups=n["groups"], bias=n["bias"])


def _lrn(n: Node, p: Plan) -> nn.Module:
    # the paper divides by (k + α Σa²)^β; torch divides α by the window size first
    return nn.LocalResponseNorm(n["size"], alpha=n["alpha"] * n["size"], beta=n["beta"], k=n["k"])


BUILDERS: dict[str, Builder] = {
    "conv": _conv,
    "bn": lambda n, p: nn.BatchNorm2d(n["channels"], eps=n["eps"], momentum=n["momentum"]),
    "relu": lambda n, p: nn.ReLU(inplace=n.name in p.inplace),
    "lrn": _lrn,
    "maxpool": lambda n, p: nn.MaxPool2d(n["kernel"], n["stride"], n["padding"]),
    "avgpool": lambda n, p: nn.AvgPool2d(n["kernel"], n["stride"], n["padding"]),
    "gap": lambda n, p: nn.AdaptiveAvgPool2d(1),
    "adaptive_avgpool": lambda n, p: nn.AdaptiveAvgPool2d(tuple(n["size"])),
    "flatten": lambda n, p: nn.Flatten(1),
    "fc": lambda n, p: nn.Linear(n["in_features"], n["out_features"], bias=n["bias"]),
    "dropout": lambda n, p: nn.Dropout(n["p"]),
    # inplace is decided per block (Block.add_inplace); this is the stand-alone default
    "add": lambda n, p: Add(),
    "pad_shortcut": lambda n, p: PadShortcut(n["stride"], n["pad_before"], n["pad_after"]),
    # the contract: the model returns logits and the loss applies the soft-max
    "softmax": lambda n, p: nn.Identity(),
}
"""op -> builder(node, plan) -> module. Every op of :data:`archdsl.ir.ops.OPS` has one."""

_NORMAL = re.compile(r"normal\(\s*([0-9.eE+-]+)\s*\)$")


def init_layer(module: nn.Module, node: Node) -> None:
    """Initialise a conv/fc/bn module as its node says.

    ``init``: ``"he"`` → Kaiming normal (fan_out, ReLU gain, as torchvision's ResNet),
    ``"normal(σ)"`` → N(0, σ²) (AlexNet, VGG), ``"torch"`` → torch's default. The bias is
    ``bias_init`` when given (AlexNet's 1s), else 0 (torch's default under ``"torch"``).
    BatchNorm: weight 1, bias 0.
    """
    if node.op == "bn":
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
        return
    if node.op not in ("conv", "fc"):
        return
    scheme = node.get("init", "torch")
    m = _NORMAL.match(scheme)
    if scheme == "he":
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    elif m:
        nn.init.normal_(module.weight, 0.0, float(m.group(1)))
    elif scheme != "torch":
        raise ValueError(f"{node.name}: unknown init scheme {scheme!r}")
    if module.bias is not None:
        bias_init = node.get("bias_init")
        if bias_init is not None:
            nn.init.constant_(module.bias, float(bias_init))
        elif scheme != "torch":
            nn.init.zeros_(module.bias)


def build_layer(node: Node, p: Plan) -> nn.Module:
    """The initialised module for one node."""
    module = BUILDERS[node.op](node, p)
    init_layer(module, node)
    return module


def _block(b: Block, p: Plan) -> ResidualBlock:
    main = [(n.local_name, build_layer(n, p)) for n in b.main]
    shortcut = None
    if b.shortcut:
        if len(b.shortcut) == 1 and b.shortcut[0].local_name == "shortcut":
            shortcut = build_layer(b.shortcut[0], p)
        else:  # shortcut.conv, shortcut.bn
            shortcut = nn.Sequential(OrderedDict(
                (n.local_name.split(".", 1)[1], build_layer(n, p)) for n in b.shortcut))
    add = (b.add.local_name, Add(inplace=b.add_inplace)) if b.add is not None else None
    post = [(n.local_name, build_layer(n, p)) for n in b.post]
    return ResidualBlock(main, shortcut, add, post)


def lower(graph: Graph) -> Network:
    """Build the ``nn.Module`` of ``graph``: module names = IR node names, papers' init."""
    p = plan(graph)
    stages: OrderedDict[str, Stage] = OrderedDict()
    for sp in p.stages:
        children: OrderedDict[str, nn.Module] = OrderedDict()
        for item in sp.items:
            if isinstance(item, Block):
                children[item.local] = _block(item, p)
            else:
                children[item.local_name] = build_layer(item, p)
        stages[sp.name] = Stage(children)
    return Network(stages, p.split, graph)


def create_model(spec: str | Path | Graph, num_classes: int | None = None,
                 limits: Limits | None = None, **params: Any) -> Network:
    """timm-style: the ``nn.Module`` for a spec name (``"resnet50"``), path or Graph.

    ``input_size=(C, H, W)`` (as the training harness passes it) checks that the network
    accepts that input and records it as ``model.input_shape``; other keywords are family
    parameters. ``limits`` (:class:`~archdsl.ir.limits.Limits`) are the resource budgets checked
    on the IR before any weight is allocated. Raises :class:`archdsl.errors.ArchError` for spec errors.
    """
    input_size = params.pop("input_size", None)
    graph = load_graph(spec, num_classes, limits, **params)
    model = lower(graph)
    if input_size is not None and tuple(input_size) != tuple(graph.input_shape):
        from archdsl.analysis.count import reinfer  # raises a located ArchError if the fc fixes the size

        reinfer(graph, tuple(input_size))
        model.input_shape = tuple(int(v) for v in input_size)
    return model
