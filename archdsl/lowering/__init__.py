"""Lowering: IR -> PyTorch (modules, standalone source, torchvision weights, export).

The only torch-importing layer besides ``archdsl.train``. Entry point::

    model = archdsl.lowering.create_model("resnet50", num_classes=10)
    model.conv2_x[0].conv1            # modules named after the spec
    feats = model.forward_stages(x)   # {"conv1": …, "conv2_x": …, …}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..ir import Graph
from .lower import BUILDERS, lower
from .modules import Network

__all__ = ["create_model", "lower", "BUILDERS", "Network", "load_graph"]


def load_graph(spec: str | Path | Graph, num_classes: int | None = None, **params: Any) -> Graph:
    """The IR for a bundled spec name, a path or an already built graph.

    ``num_classes`` overrides the spec's ``classes``; ``params`` are family parameters (the
    ``-D`` overrides). A :class:`~archdsl.ir.Graph` is returned as is (``num_classes`` must
    then agree with it: a built graph cannot be re-parameterised).
    """
    if isinstance(spec, Graph):
        if params:
            raise TypeError(f"parameters {sorted(params)} cannot be applied to a built Graph")
        if num_classes is not None and num_classes != spec.num_classes:
            raise ValueError(f"{spec.name} is built with {spec.num_classes} classes, not "
                             f"{num_classes}; pass the spec name or path to change it")
        return spec
    from ..api import load  # imported here: lowering must not need the parser at import

    if num_classes is not None:
        params["classes"] = num_classes
    return load(str(spec), **params)


def create_model(spec: str | Path | Graph, num_classes: int | None = None,
                 **params: Any) -> Network:
    """timm-style: the ``nn.Module`` for a spec name (``"resnet50"``), path or Graph.

    ``input_size=(C, H, W)`` (as the training harness passes it) checks that the network
    accepts that input and records it as ``model.input_shape``; other keywords are family
    parameters. Raises :class:`archdsl.errors.ArchError` for spec errors.
    """
    input_size = params.pop("input_size", None)
    graph = load_graph(spec, num_classes, **params)
    model = lower(graph)
    if input_size is not None and tuple(input_size) != tuple(graph.input_shape):
        from ..count import reinfer  # raises a located ArchError if the fc fixes the size

        reinfer(graph, tuple(input_size))
        model.input_shape = tuple(int(v) for v in input_size)
    return model
