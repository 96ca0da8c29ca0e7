"""Export a lowered model: ``torch.export`` programs (``.pt2``) and ONNX, written atomically.

Both have a dynamic batch axis (traced at batch 2, valid for any batch ≥ 1). ONNX is one
self-contained file: the weights are stored inside it (up to protobuf's 2 GiB; a bigger
model keeps them in ``<name>.data`` beside it, a stable name the ``.onnx`` refers to).
The exporter writes into a private temporary folder next to the target, and only the
finished files are renamed into place; the folder is removed whatever happens, so nothing
hidden is left behind. ONNX needs the ``export`` extra (onnx, onnxscript); without it
:class:`ExportUnavailable` says what to install.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from archdsl.atomic import atomic_path
from archdsl.errors import COMMAND_LINE, ArchError
from archdsl.extras import available, missing_message

FORMATS = {"pt2": ".pt2", "onnx": ".onnx"}
#: Batch size the export is traced at: 2, because torch.export specialises a size-1 axis.
TRACE_BATCH = 2
#: protobuf's limit on one file; a model above it keeps its weights in a .data file
ONNX_INLINE_LIMIT = 2 * 2**30 - 2**20


class ExportUnavailable(ArchError):
    """The requested export format needs a package that is not installed (an
    :class:`~archdsl.errors.ArchError` about the ``--export`` flag)."""


def example_input(model: nn.Module, batch: int = 1) -> torch.Tensor:
    """A random batch of the model's input shape (``model.input_shape`` = (C, H, W))."""
    return torch.randn(batch, *model.input_shape)


def _dynamic_batch() -> tuple[dict[int, "torch.export.Dim"]]:
    return ({0: torch.export.Dim("batch", min=1, max=2**20)},)


def export_program(model: nn.Module, batch: int = TRACE_BATCH) -> "torch.export.ExportedProgram":
    """``torch.export.export`` of ``model`` in eval mode, with a dynamic batch axis."""
    model.eval()
    return torch.export.export(model, (example_input(model, batch),),
                               dynamic_shapes=_dynamic_batch())


def check_available(fmt: str) -> None:
    """Raise :class:`ExportUnavailable` unless ``fmt`` can be written here (an unknown
    format is an :class:`~archdsl.errors.ArchError` too)."""
    if fmt not in FORMATS:
        raise ArchError(f"unknown export format {fmt!r}", COMMAND_LINE,
                        hint=f"use one of {', '.join(FORMATS)}")
    for module in ("onnx", "onnxscript") if fmt == "onnx" else ():
        if not available(module):
            raise ExportUnavailable(missing_message(module, "--export onnx"), COMMAND_LINE)


def export_model(model: nn.Module, path: str | Path, fmt: str) -> Path:
    """Write ``model`` as ``fmt`` (``"pt2"`` or ``"onnx"``) to ``path``, atomically."""
    check_available(fmt)
    path = Path(path)
    if fmt == "pt2":
        with atomic_path(path) as tmp:
            torch.export.save(export_program(model), str(tmp))
        return path
    return _export_onnx(model, path)


def _export_onnx(model: nn.Module, path: Path) -> Path:
    model.eval()
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    inline = size < ONNX_INLINE_LIMIT
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        # exported under its final name, so an external .data file is named after it
        torch.onnx.export(model, (example_input(model, TRACE_BATCH),), str(work / path.name),
                          dynamo=True, external_data=not inline, dynamic_shapes=_dynamic_batch(),
                          input_names=["images"], output_names=["logits"], verbose=False)
        data = path.with_name(path.name + ".data")
        if (work / data.name).exists():
            os.replace(work / data.name, data)    # weights first: the .onnx refers to them
        elif data.exists():
            data.unlink()                          # a stale one from a bigger, older build
        os.replace(work / path.name, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path
