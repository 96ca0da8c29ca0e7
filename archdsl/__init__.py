"""archdsl: write a network the way the papers print it; get a validated IR, exact counts,
PyTorch modules and a training harness.

The front end (this package's top level) never imports torch; ``archdsl.lowering`` and
``archdsl.train`` do. Every public name is bound once, to the same object on every access:
the torch-free ones are imported here, the torch-backed ones (:data:`LAZY`) on first use,
and then cached, so ``archdsl.count`` is always the function (never a submodule that an
import happened to bind over it) and ``from archdsl import *`` stays torch-free.
"""
from archdsl.analysis.count import Counts, count
from archdsl.analysis.table import render_table
from archdsl.analysis.table_read import parse_table
from archdsl.api import Architecture, find_spec, list_specs, load
from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Graph, Node, Stage
from archdsl.ir.limits import Limits
from archdsl.lang.parser import parse

__version__ = "0.1.0"

#: torch-backed public names -> the module that defines them (imported on first access).
LAZY = {"create_model": "archdsl.lowering",
        "load_torchvision_weights": "archdsl.lowering.weights"}

# torch-free only: `from archdsl import *` binds these without importing torch. The LAZY
# names are importable by name (`from archdsl import create_model`) but not starred.
__all__ = ["load", "count", "render_table", "parse_table", "list_specs", "find_spec", "parse",
           "Architecture", "Graph", "Node", "Stage", "Counts", "Limits", "ArchError", "Span",
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
