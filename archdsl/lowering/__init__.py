"""Lowering: IR -> PyTorch (modules, standalone source, torchvision weights, export).

The only torch-importing layer besides ``archdsl.train``. Entry point::

    model = archdsl.lowering.create_model("resnet50", num_classes=10)
    model.conv2_x[0].conv1            # modules named after the spec
    feats = model.forward_stages(x)   # {"conv1": …, "conv2_x": …, …}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph
from archdsl.ir.limits import Limits

__all__ = ["create_model", "TORCH_OPS", "Network", "load_graph", "generate_source",
           "load_torchvision_weights"]

# torch costs ~2 s to import: `archdsl build` without --export (codegen, IR, counts) must not
# pay it, so the torch-backed names are imported on first use (PEP 562).
# (``lower`` the function lives in ``.lower`` the module, which shadows it here: import it
# from archdsl.lowering.lower.)
_LAZY = {"create_model": ".lower", "TORCH_OPS": ".torch_ops", "Network": ".modules",
         "generate_source": ".codegen", "load_torchvision_weights": ".weights"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_graph(spec: str | Path | Graph, num_classes: int | None = None,
               limits: Limits | None = None, **params: Any) -> Graph:
    """The IR for a bundled spec name, a path or an already built graph.

    ``num_classes`` overrides the spec's ``classes``; ``params`` are family parameters (the
    ``-D`` overrides); ``limits`` the resource budgets a spec is checked against
    (:class:`~archdsl.ir.limits.Limits`). A :class:`~archdsl.ir.graph.Graph` is returned as is (``num_classes`` must
    then agree with it: a built graph cannot be re-parameterised); either mismatch is an
    :class:`~archdsl.errors.ArchError` located in the graph's source.
    """
    if isinstance(spec, Graph):
        if params:
            raise ArchError(f"parameters {', '.join(sorted(params))} cannot be applied to the "
                            f"built graph {spec.name}", spec.nodes[0].span,
                            hint="pass the spec name or path to set family parameters",
                            source=spec.source or None)
        if num_classes is not None and num_classes != spec.num_classes:
            raise ArchError(f"{spec.name} is built with {spec.num_classes} classes, not "
                            f"{num_classes}", spec.nodes[-1].span,   # the classifier
                            hint="pass the spec name or path to change the class count",
                            source=spec.source or None)
        return spec
    from archdsl.api import load  # imported here: lowering must not need the parser at import

    if num_classes is not None:
        params["classes"] = num_classes
    return load(str(spec), limits=limits, **params)

