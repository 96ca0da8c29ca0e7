"""archdsl: write a network the way the papers print it; get a validated IR, exact counts,
PyTorch modules and a training harness.

The front end (this package's top level) never imports torch; ``archdsl.lowering`` and
``archdsl.train`` do. Every public name is bound once, to the same object on every access:
each is imported on first use (:data:`LAZY`) and then cached, so ``archdsl.count`` is always
the function (never a submodule that an import happened to bind over it), ``from archdsl
import *`` stays torch-free, and ``archdsl --help`` or ``archdsl --version`` start without
loading the parser, the builder or the analysis (start-up time: benchmarks/bench_startup.py).
"""

__version__ = "0.1.0"

#: every public name -> the module that defines it, imported on first access.
LAZY = {"count": "archdsl.analysis.count", "Counts": "archdsl.analysis.count",
        "Architecture": "archdsl.api", "draw": "archdsl.api", "find_spec": "archdsl.api",
        "list_specs": "archdsl.api", "load": "archdsl.api",
        "ArchError": "archdsl.errors", "Span": "archdsl.errors",
        "Graph": "archdsl.ir.graph", "Node": "archdsl.ir.graph", "Stage": "archdsl.ir.graph",
        "Limits": "archdsl.ir.limits", "parse": "archdsl.lang.parser",
        "create_model": "archdsl.lowering",
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
