"""Export a lowered model: ``torch.export`` programs (``.pt2``) and ONNX, written atomically.

ONNX needs the optional ``onnx`` package (and ``onnxscript`` for torch's dynamo exporter);
without it :class:`ExportUnavailable` says what to install.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from archdsl.atomic import atomic_path
from archdsl.errors import COMMAND_LINE, ArchError

FORMATS = {"pt2": ".pt2", "onnx": ".onnx"}


class ExportUnavailable(ArchError):
    """The requested export format needs a package that is not installed (an
    :class:`~archdsl.errors.ArchError` about the ``--export`` flag)."""


def example_input(model: nn.Module, batch: int = 1) -> torch.Tensor:
    """A random batch of the model's input shape (``model.input_shape`` = (C, H, W))."""
    return torch.randn(batch, *model.input_shape)


def export_program(model: nn.Module, batch: int = 1) -> "torch.export.ExportedProgram":
    """``torch.export.export`` of ``model`` in eval mode on a random batch."""
    model.eval()
    return torch.export.export(model, (example_input(model, batch),))


def check_available(fmt: str) -> None:
    """Raise :class:`ExportUnavailable` unless ``fmt`` can be written here (an unknown
    format is an :class:`~archdsl.errors.ArchError` too)."""
    if fmt not in FORMATS:
        raise ArchError(f"unknown export format {fmt!r}", COMMAND_LINE,
                        hint=f"use one of {', '.join(FORMATS)}")
    if fmt == "onnx" and importlib.util.find_spec("onnx") is None:
        raise ExportUnavailable("--export onnx needs the 'onnx' package", COMMAND_LINE,
                                hint="pip install onnx onnxscript")


def export_model(model: nn.Module, path: str | Path, fmt: str) -> Path:
    """Write ``model`` as ``fmt`` (``"pt2"`` or ``"onnx"``) to ``path``, atomically
    (a temporary file in the same directory, then ``os.replace``)."""
    check_available(fmt)
    path = Path(path)
    with atomic_path(path) as tmp:
        if fmt == "pt2":
            torch.export.save(export_program(model), str(tmp))
        else:
            model.eval()
            dynamo = importlib.util.find_spec("onnxscript") is not None
            torch.onnx.export(model, (example_input(model),), str(tmp), dynamo=dynamo,
                              input_names=["images"], output_names=["logits"])
    return path
