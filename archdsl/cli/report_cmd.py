"""The ``archdsl report`` command: counts of a spec as a table, JSON, CSV or Markdown.

``archdsl report SPEC [-D k=v] [--input 3x224x224] [--batch N] [--by layer|block|stage]
[--convention paper|fvcore|full] [-f/--format table|json|csv|markdown] [--verify]
[--sweep n=3,5,7]``

Torch is imported only with ``--verify`` (lazily, through :mod:`archdsl.lowering.verify`),
so a plain report costs parsing, building and counting: milliseconds. ``-D`` values are
parsed as integers or comma lists of integers, never evaluated.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from archdsl.analysis.count import CONVENTIONS, count
from archdsl.analysis.report import FORMATS, LEVELS, SweepRow, render, render_sweep
from archdsl.cli.options import SPEC, add_options, defines, input_shape, limits_from_args, parse_define
from archdsl.ir.graph import Graph


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``report`` on an argparse ``subparsers`` object; returns the sub-parser."""
    p = subparsers.add_parser(
        "report", help="parameters, MACs and FLOPs per layer, block and stage",
        description="Count a spec's parameters, multiply-adds and FLOPs analytically. "
                    + " ".join(f"{k}: {v}." for k, v in CONVENTIONS.items()))
    p.add_argument("spec", help="spec file or built-in name (e.g. resnet50)")
    add_options(p, *SPEC, "input", "batch", format={"choices": FORMATS, "default": "table"})
    p.add_argument("--by", choices=LEVELS, default="stage", help="row granularity")
    p.add_argument("--convention", choices=tuple(CONVENTIONS), default="fvcore",
                   help="what FLOPs means (default fvcore)")
    p.add_argument("--verify", action="store_true",
                   help="lower the model and cross-check with torch and fvcore (imports torch)")
    p.add_argument("--sweep", metavar="K=V1,V2,...",
                   help="one row per family member, e.g. n=3,5,7,9,18,200")
    p.set_defaults(func=run_report)
    return p


def run_report(args: argparse.Namespace) -> int:
    """Run ``report``; returns the exit status (1 when --verify finds a mismatch).

    ArchError propagates: the CLI prints it and exits 2.
    """
    from archdsl.api import load  # the front end (parse + build); torch-free

    params = defines(args)
    limits = limits_from_args(args)
    if args.sweep:
        return _sweep(args, lambda spec, **kw: load(spec, limits=limits, **kw), params)
    graph = load(args.spec, limits=limits, **params)
    shape = input_shape(args.input, graph.input_shape[0]) if args.input else None
    counts = count(graph, shape, args.batch or 1, args.convention)
    _write(render(counts, args.format, args.by))
    return _verify(graph, shape, args.batch or 1) if args.verify else 0


def sweep_values(text: str, is_list: Any) -> tuple[str, list[Any]]:
    """``n=3,5,7`` -> ("n", [3, 5, 7]); a list parameter's members are separated by ``/``:
    ``depths=2,2,2,2/3,4,6,3`` -> ("depths", [(2, 2, 2, 2), (3, 4, 6, 3)]), and without a
    ``/`` the whole comma list is one member when ``is_list(key)`` says the parameter is a
    list."""
    key, _, rest = text.partition("=")
    members = [parse_define(f"{key}={part}")[1] for part in rest.split("/")]
    if "/" not in rest and isinstance(members[0], tuple) and not is_list(key.strip()):
        members = list(members[0])                # n=3,5,7: one member per value
    return key.strip(), [m if isinstance(m, tuple) or not is_list(key.strip()) else (m,)
                         for m in members]


def _sweep(args: argparse.Namespace, load: Any, params: dict[str, Any]) -> int:
    first: list[Graph] = []
    def is_list(key: str) -> bool:               # what the spec declares, from one load
        if not first:
            first.append(load(args.spec, **params))
        return isinstance(first[0].param(key), (list, tuple))
    key, values = sweep_values(args.sweep, is_list)
    rows, status = [], 0
    for v in values:
        graph = load(args.spec, **{**params, key: v})
        shape = input_shape(args.input, graph.input_shape[0]) if args.input else None
        rows.append(SweepRow(v, graph.name, graph.depth,
                             count(graph, shape, args.batch or 1, args.convention)))
        if args.verify:
            status |= _verify(graph, shape, args.batch or 1)
    _write(render_sweep(key, rows, args.format))
    return status


def _verify(graph: Graph, shape: Any, batch: int) -> int:
    from archdsl.lowering.verify import verify  # torch: only here

    result = verify(graph, shape, batch)
    print(result.render(), file=sys.stderr)
    return 0 if result.ok else 1


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")

