"""archdsl: write a network the way the papers print it; get a validated IR, exact counts,
PyTorch modules and a training harness.

The front end (this package's top level) never imports torch; ``archdsl.lowering`` and
``archdsl.train`` do.
"""
from archdsl.api import Architecture, draw, find_spec, list_specs, load
from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Graph, Node, Stage
from archdsl.lang.parser import parse

__all__ = ["load", "parse", "find_spec", "list_specs", "Architecture", "Graph", "Node", "Stage",
           "ArchError", "Span", "count", "create_model", "draw"]
__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that `import archdsl` stays torch-free and fast.
    if name == "count":
        from archdsl.analysis.count import count
        return count
    if name == "create_model":
        from archdsl.lowering import create_model
        return create_model
    if name == "parse_table":
        from archdsl.analysis.table_read import parse_table
        return parse_table
    if name == "load_torchvision_weights":
        from archdsl.lowering.weights import load_torchvision_weights
        return load_torchvision_weights
    raise AttributeError(f"module 'archdsl' has no attribute {name!r}")
