"""IR -> ``nn.Module``: one module per node from the torch op table (:mod:`.torch_ops`),
assembled into the structured modules of :mod:`.modules` following :func:`.plan.plan`.

Semantics follow notes/ir-contract.md; initialisation follows the papers (``init`` and
``bias_init`` attributes; BatchNorm weight 1, bias 0).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from torch import nn

from archdsl.ir.graph import Graph
from archdsl.ir.limits import Limits
from archdsl.lowering import load_graph
from archdsl.lowering.layers import Add
from archdsl.lowering.modules import Network, ResidualBlock, Stage
from archdsl.lowering.plan import Block, plan
from archdsl.lowering.torch_ops import Context, build_layer


def _block(b: Block, ctx: Context) -> ResidualBlock:
    main = [(n.local_name, build_layer(n, ctx)) for n in b.main]
    shortcut = None
    if b.shortcut:
        if len(b.shortcut) == 1 and b.shortcut[0].local_name == "shortcut":
            shortcut = build_layer(b.shortcut[0], ctx)
        else:  # shortcut.conv, shortcut.bn
            shortcut = nn.Sequential(OrderedDict(
                (n.local_name.split(".", 1)[1], build_layer(n, ctx)) for n in b.shortcut))
    add = (b.add.local_name, Add(inplace=b.add_inplace)) if b.add is not None else None
    post = [(n.local_name, build_layer(n, ctx)) for n in b.post]
    return ResidualBlock(main, shortcut, add, post)


def lower(graph: Graph) -> Network:
    """Build the ``nn.Module`` of ``graph``: module names = IR node names, papers' init."""
    p = plan(graph)
    ctx = Context(p.inplace)
    stages: OrderedDict[str, Stage] = OrderedDict()
    for sp in p.stages:
        children: OrderedDict[str, nn.Module] = OrderedDict()
        for item in sp.items:
            if isinstance(item, Block):
                children[item.local] = _block(item, ctx)
            else:
                children[item.local_name] = build_layer(item, ctx)
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
