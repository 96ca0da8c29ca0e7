"""archdsl: write a network the way the papers print it; get a validated IR, exact counts,
PyTorch modules and a training harness.

The front end (this package's top level) never imports torch; ``archdsl.lowering`` and
``archdsl.train`` do. Every public name is bound once, to the same object on every access:
most are imported here, the torch-backed ones and the table functions (:data:`LAZY`) on
first use, and then cached, so ``archdsl.count`` is always the function (never a submodule that an
import happened to bind over it) and ``from archdsl import *`` stays torch-free.
"""
from archdsl.analysis.count import Counts, count
from archdsl.api import Architecture, draw, find_spec, list_specs, load
from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Graph, Node, Stage
from archdsl.ir.limits import Limits
from archdsl.lang.parser import parse

__version__ = "0.1.0"

#: public names imported on first access -> their module: the torch-backed ones, and the
#: table renderer and reader (torch-free, but not needed to start the CLI).
LAZY = {"create_model": "archdsl.lowering",
        "load_torchvision_weights": "archdsl.lowering.weights",
        "render_table": "archdsl.analysis.table", "parse_table": "archdsl.analysis.table_read"}
#: the LAZY names that import torch, kept out of __all__
NEEDS_TORCH = ("create_model", "load_torchvision_weights")

# torch-free only: `from archdsl import *` binds these without importing torch. The
# NEEDS_TORCH names are importable by name (`from archdsl import create_model`), not starred.
__all__ = ["load", "count", "render_table", "parse_table", "list_specs", "find_spec", "parse",
           "draw", "Architecture", "Graph", "Node", "Stage", "Counts", "Limits", "ArchError", "Span",
           "__version__"]


def __getattr__(name: str):
    # PEP 562: only reached for names not bound yet; the result is bound, so the next
    # access is an ordinary attribute (the same object every time).
    if name in LAZY:
        import importlib
        value = getattr(importlib.import_module(LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'archdsl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(LAZY))
