"""The ``archdsl build`` command: a spec compiled to files.

``archdsl build SPEC [-o DIR] [-D k=v] [--export pt2|onnx] [--max-params N …] [--batch N]`` writes into ``build/<name>/``
(or DIR): ``model.py`` (standalone PyTorch source), ``ir.yaml`` (the validated IR, which
``archdsl.load`` reads back), ``report.json`` (counts) and, with ``--export``, ``model.pt2``
or ``model.onnx`` (a freshly initialised model, or with ``--checkpoint CKPT`` a trained one).
The files are written atomically, as a set: each to a temporary file in the same
directory, then all renamed into place (``os.replace``), so a reader never sees half a file
and a killed build leaves the previous one. Torch is imported only for ``--export``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Mapping

from archdsl.analysis.count import count
from archdsl.analysis.report import json_dict
from archdsl.atomic import locked_dir, output_error, write_texts
from archdsl.cli.options import SPEC, add_options, defines, limits_from_args
from archdsl.errors import COMMAND_LINE, ArchError
from archdsl.ir.graph import Graph, dims_text
from archdsl.ir.limits import Limits
from archdsl.ir.yamlio import graph_to_yaml

EXPORTS = ("pt2", "onnx")


def report_dict(graph: Graph) -> dict[str, Any]:
    """``report.json`` (docs/json.md): headline figures, then the per-stage/block/layer
    counts as ``report -f json`` prints them. ``flops`` is in the named ``convention``
    (fvcore, which equals what fvcore measures on the lowered model); ``macs`` are the
    papers' "FLOPs"."""
    fv = count(graph, convention="fvcore")
    return {"network": graph.name, "spec": graph.file, "input_shape": list(graph.input_shape),
            "output_shape": list(graph.output_shape), "num_classes": graph.num_classes,
            "depth": graph.depth, "params": fv.total.params, "macs": fv.total.macs,
            "convention": fv.convention, "flops": fv.total.cost,
            "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in graph.params},
            "counts": json_dict(fv)}


def run_build(spec: str | Path, out_dir: str | Path | None = None,
              params: Mapping[str, Any] | None = None, export: str | None = None,
              limits: Limits | None = None, checkpoint: str | Path | None = None) -> int:
    """Compile ``spec`` into ``out_dir`` (default ``build/<name>``); returns the exit status.

    ``checkpoint`` (a training run's ``checkpoint.pt``, made from this spec) gives the
    exported model its trained weights, class count, input size and parameters.

    ``params`` are the ``-D`` overrides; ``limits`` the resource budgets (default
    :class:`~archdsl.ir.limits.Limits`). :class:`ArchError` (spec errors, an unknown or
    unavailable export format) propagates for the CLI to print; nothing is written then.
    """
    from archdsl.lowering import load_graph
    from archdsl.lowering.codegen import generate_source

    if export is not None and export not in EXPORTS:
        raise ArchError(f"unknown export format {export!r}", COMMAND_LINE,
                        hint="use --export pt2 or --export onnx")
    state = None
    if checkpoint is not None:
        if export is None:
            raise ArchError("--checkpoint gives the weights of an export: add --export onnx "
                            "or --export pt2", COMMAND_LINE)
        from archdsl.train import checkpoint as ckpt_io
        from archdsl.train.models import spec_text
        state = ckpt_io.load(checkpoint, spec_text(str(spec)), dict(params) if params else None)
        params = state["params"]
    graph = load_graph(spec, state and state.get("num_classes"), limits, **dict(params or {}))
    if export is not None:
        from archdsl.lowering.export import check_available

        check_available(export)  # before writing anything: a failed build leaves no partial output
    out = Path(out_dir) if out_dir is not None else _default_out(graph.name)
    report = report_dict(graph)
    # All three texts exist before any file (or the directory) changes, and they are renamed
    # into place together: a killed build leaves the old set, not a new model.py beside an
    # old IR, and a graph codegen refuses leaves nothing.
    texts = {"model.py": generate_source(graph), "ir.yaml": graph_to_yaml(graph),
             "report.json": json.dumps(report, indent=1) + "\n"}
    # one build at a time per directory: a second one into it is refused, not interleaved
    with locked_dir(out, "build"):
        try:
            written = write_texts({out / name: text for name, text in texts.items()})
            if export is not None:
                from archdsl.lowering.export import FORMATS, export_model
                from archdsl.lowering.lower import lower

                model = lower(graph) if state is None else _trained(spec, graph, state, checkpoint)
                written.append(export_model(model, out / f"model{FORMATS[export]}", export))
        except OSError as e:   # read-only or full file system, a name too long …
            raise output_error(e, out) from None
    _summary(graph, report, written)
    return 0


def _trained(spec: Any, graph: Graph, state: dict[str, Any], path: Any) -> Any:
    """The lowered model with a checkpoint's weights, at the input size it was trained at."""
    from archdsl.train.models import make_model
    shape = tuple(state.get("input_shape") or graph.input_shape)
    model = make_model(str(spec), dict(state["params"]), graph.num_classes, shape)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise ArchError(f"{path}: its weights do not fit {graph.name} "
                        f"({str(e).splitlines()[0]})", COMMAND_LINE) from None
    return model
def _default_out(name: str) -> Path:
    """``build/<name>``, which must stay inside ``build/``: the name is checked where it is
    made (the grammar's NAME rule), and the resolved path once more here."""
    root = Path("build")
    out = root / name
    if name in ("", ".", "..") or root.resolve() not in out.resolve().parents:
        raise ArchError(f"the network name {name[:60]!r} would write outside {root}/",
                        COMMAND_LINE, hint="name the network with letters, digits, '_', '-' "
                        "and '.', or choose the directory with -o")
    return out


def _summary(graph: Graph, report: dict[str, Any], files: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"archdsl build {graph.name}", show_header=False, box=None)
    t.add_row("spec", str(graph.file))
    t.add_row("params", f"{report['params']:,}")
    t.add_row("MACs", f"{report['macs']:,} (conv+fc, per image)")
    t.add_row("output", f"{dims_text(graph.input_shape)} → "
                        f"{dims_text(graph.output_shape)}")
    Console(highlight=False).print(t)
    # Paths as plain lines: a table would wrap or truncate long ones on a narrow terminal,
    # and scripts copy them from here.
    for f in files:
        print(f"wrote {f}")


def add_build_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``build`` on an argparse ``subparsers`` object; returns the sub-parser."""
    p = subparsers.add_parser("build", help="compile a spec to model.py, ir.yaml, report.json",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("spec", help="spec file or built-in name (e.g. resnet50)")
    add_options(p, "out", *SPEC, "batch")
    p.add_argument("--export", choices=EXPORTS, help="also export the model (torch.export / "
                   "ONNX, dynamic batch axis; freshly initialised unless --checkpoint)")
    p.add_argument("--checkpoint", metavar="CKPT",
                   help="export a training run's weights (its checkpoint.pt or best.pt)")
    p.set_defaults(func=_run_args)
    return p


def _run_args(args: argparse.Namespace) -> int:
    return run_build(args.spec, args.out, defines(args), args.export, limits_from_args(args),
                     args.checkpoint)

