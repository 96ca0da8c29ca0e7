"""IR -> ``nn.Module``: one module per node from the torch op table (:mod:`.torch_ops`),
installed at its IR name in a :class:`~.modules.Network` whose forward follows the graph.

Semantics follow notes/ir-contract.md; initialisation follows the papers (``init`` and
``bias_init`` attributes; BatchNorm weight 1, bias 0).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from archdsl.errors import API_CALL
from archdsl.ir.graph import Graph
from archdsl.ir.limits import Limits
from archdsl.lowering import load_graph
from archdsl.lowering.modules import Network
from archdsl.lowering.torch_ops import build_layer, context


def lower(graph: Graph) -> Network:
    """Build the ``nn.Module`` of ``graph``: module names = IR node names, papers' init.

    Layers are created in IR order, so a seeded run draws the same initial weights whatever
    the graph's shape; the forward follows the nodes' ``inputs`` (:mod:`.modules`).
    """
    ctx = context(graph)
    return Network(graph, [(n, build_layer(n, ctx)) for n in graph.nodes])


def create_model(spec: str | Path | Graph, num_classes: int | None = None,
                 limits: Limits | None = None, **params: Any) -> Network:
    """timm-style: the ``nn.Module`` for a spec name (``"resnet50"``), path or Graph.

    ``input_size=(C, H, W)`` (as the training harness passes it) checks that the network
    accepts that input and records it as ``model.input_shape``; other keywords are family
    parameters. ``limits`` (:class:`~archdsl.ir.limits.Limits`) are the resource budgets checked
    on the IR before any weight is allocated. Raises :class:`archdsl.errors.ArchError` for spec errors.
    """
    input_size = params.pop("input_size", None)
    call = API_CALL.set("archdsl.create_model")   # an argument error names this call
    try:
        graph = load_graph(spec, num_classes, limits, **params)
    finally:
        API_CALL.reset(call)
    model = lower(graph)
    if input_size is not None and tuple(input_size) != tuple(graph.input_shape):
        from archdsl.analysis.count import reinfer  # raises a located ArchError if the fc fixes the size

        reinfer(graph, tuple(input_size))
        model.input_shape = tuple(int(v) for v in input_size)
    return model
