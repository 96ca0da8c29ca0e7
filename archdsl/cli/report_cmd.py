"""The ``archdsl report`` command: counts of a spec as a table, JSON, CSV or Markdown.

``archdsl report SPEC [-D k=v] [--input 3x224x224] [--batch N] [--by layer|block|stage]
[--convention paper|fvcore|full] [--format table|json|csv|markdown] [--verify]
[--sweep n=3,5,7]``

Torch is imported only with ``--verify`` (lazily, through :mod:`archdsl.lowering.verify`),
so a plain report costs parsing, building and counting: milliseconds. ``-D`` values are
parsed as integers or comma lists of integers, never evaluated.
"""
from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from archdsl.analysis.count import CONVENTIONS, count
from archdsl.errors import COMMAND_LINE, ArchError
from archdsl.ir.graph import Graph
from archdsl.ir.limits import add_limit_options, limits_from_args
from archdsl.analysis.report import FORMATS, LEVELS, SweepRow, render, render_sweep

_INT = re.compile(r"[+-]?\d+")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_value(text: str) -> int | tuple[int, ...]:
    """``"9"`` -> 9, ``"3,4,6,3"`` -> (3, 4, 6, 3); anything else raises ArchError."""
    parts = [p.strip() for p in text.split(",")]
    if not all(_INT.fullmatch(p) for p in parts):
        raise ArchError(f"bad value {text!r}: expected an integer or a comma list of integers",
                        COMMAND_LINE, hint="for example -D n=9 or -D depths=3,4,6,3")
    values = tuple(int(p) for p in parts)
    return values[0] if len(values) == 1 and "," not in text else values


def parse_define(text: str) -> tuple[str, int | tuple[int, ...]]:
    """``"n=9"`` -> ("n", 9); the key must be an identifier."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not _KEY.fullmatch(key):
        raise ArchError(f"bad definition {text!r}: expected NAME=VALUE", COMMAND_LINE,
                        hint="for example -D n=9")
    return key, parse_value(value)


def parse_input(text: str, channels: int) -> tuple[int, int, int]:
    """``"3x224x224"`` (or ``×``), ``"224x224"`` or ``"224"`` -> (C, H, W)."""
    parts = re.split(r"[x×X,]", text.strip())
    if not all(p.isdigit() and int(p) > 0 for p in parts) or not 1 <= len(parts) <= 3:
        raise ArchError(f"bad input size {text!r}", hint="write it as CxHxW, e.g. 3x224x224")
    dims = [int(p) for p in parts]
    if len(dims) == 1:
        dims *= 2
    return tuple([channels] * (3 - len(dims)) + dims)  # type: ignore[return-value]


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``report`` on an argparse ``subparsers`` object; returns the sub-parser."""
    p = subparsers.add_parser(
        "report", help="parameters, MACs and FLOPs per layer, block and stage",
        description="Count a spec's parameters, multiply-adds and FLOPs analytically. "
                    + " ".join(f"{k}: {v}." for k, v in CONVENTIONS.items()))
    p.add_argument("spec", help="spec file or built-in name (e.g. resnet50)")
    p.add_argument("-D", "--define", action="append", default=[], metavar="K=V",
                   help="set a family parameter (integer or comma list of integers)")
    p.add_argument("--input", metavar="CxHxW", help="input size (default: the spec's)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--by", choices=LEVELS, default="stage", help="row granularity")
    p.add_argument("--convention", choices=tuple(CONVENTIONS), default="fvcore",
                   help="what FLOPs means (default fvcore)")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format")
    p.add_argument("--verify", action="store_true",
                   help="lower the model and cross-check with torch and fvcore (imports torch)")
    p.add_argument("--sweep", metavar="K=V1,V2,...",
                   help="one row per family member, e.g. n=3,5,7,9,18,200")
    add_limit_options(p, batch=False)   # the activation budget is checked at --batch
    p.set_defaults(func=run_report)
    return p


def run_report(args: argparse.Namespace) -> int:
    """Run ``report``; returns the exit status (1 when --verify finds a mismatch).

    ArchError propagates: the CLI prints it and exits 2.
    """
    from archdsl.api import load  # the front end (parse + build); torch-free

    params = dict(parse_define(d) for d in args.define)
    if args.batch < 1:
        raise ArchError(f"--batch must be at least 1, not {args.batch}")
    limits = limits_from_args(args)
    if args.sweep:
        return _sweep(args, lambda spec, **kw: load(spec, limits=limits, **kw), params)
    graph = load(args.spec, limits=limits, **params)
    shape = parse_input(args.input, graph.input_shape[0]) if args.input else None
    counts = count(graph, shape, args.batch, args.convention)
    _write(render(counts, args.format, args.by))
    return _verify(graph, shape, args.batch) if args.verify else 0


def _sweep(args: argparse.Namespace, load: Any, params: dict[str, Any]) -> int:
    key, values = parse_define(args.sweep)
    values = values if isinstance(values, tuple) else (values,)
    rows, status = [], 0
    for v in values:
        graph = load(args.spec, **{**params, key: v})
        shape = parse_input(args.input, graph.input_shape[0]) if args.input else None
        rows.append(SweepRow(v, graph.name, graph.depth,
                             count(graph, shape, args.batch, args.convention)))
        if args.verify:
            status |= _verify(graph, shape, args.batch)
    _write(render_sweep(key, rows, args.format))
    return status


def _verify(graph: Graph, shape: Any, batch: int) -> int:
    from archdsl.lowering.verify import verify  # torch: only here

    result = verify(graph, shape, batch)
    print(result.render(), file=sys.stderr)
    return 0 if result.ok else 1


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def main(argv: list[str] | None = None) -> int:
    """``python -m archdsl.cli.report_cmd SPEC …``: the same as ``archdsl report SPEC …``."""
    from archdsl.cli.main import main as cli_main
    return cli_main(["report", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
