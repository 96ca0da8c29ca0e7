"""Optional dependencies: import one, or fail with one line that names the extra to install.

The core install (parse, build, count, lower, codegen) needs none of these; the extras
declared in pyproject.toml bring them: ``archdsl[train]`` (scikit-learn for the default
``--data digits``, Pillow for image folders and the curves PNG) and ``archdsl[export]``
(onnx, onnxscript, onnxruntime).
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from archdsl.errors import ArchError

#: module -> (distribution to name, the extra that installs it)
PROVIDERS = {"sklearn": ("scikit-learn", "train"), "PIL": ("Pillow", "train"),
             "onnx": ("onnx", "export"), "onnxscript": ("onnxscript", "export"),
             "onnxruntime": ("onnxruntime", "export")}


def missing_message(module: str, what: str) -> str:
    """``"--data digits needs scikit-learn: pip install 'archdsl[train]'"``."""
    dist, extra = PROVIDERS[module.split(".")[0]]
    return f"{what} needs {dist}: pip install 'archdsl[{extra}]' (or pip install {dist})"


def available(module: str) -> bool:
    """Whether ``module`` (a top-level package) can be imported here, without importing it."""
    return importlib.util.find_spec(module) is not None


def need(module: str, what: str) -> ModuleType:
    """Import ``module`` for ``what`` (the feature that wants it), or raise a one-line
    :class:`ArchError` naming the package and the extra (no hint line, no traceback)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ArchError(missing_message(module, what)) from None
