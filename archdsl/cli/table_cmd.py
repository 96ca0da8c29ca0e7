"""The ``archdsl table`` and ``archdsl fmt`` sub-commands (torch-free)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from archdsl.atomic import write_text
from archdsl.cli.options import SPEC, add_options, defines, limits_from_args

FORMATS = ("text", "markdown", "latex")


def _fmt(args: argparse.Namespace) -> int:
    """Print, check or rewrite specs in canonical form (exit 1 under --check if any differ)."""
    from archdsl.api import find_spec, read_spec
    from archdsl.lang.fmt import format_spec
    changed = 0
    for spec in args.specs:
        if not args.in_place and not os.path.exists(spec) and os.sep not in spec:
            spec = str(find_spec(spec)[0])    # a bundled name: print or check only
        text = read_spec(spec)
        new = format_spec(text, str(spec))
        if args.check:
            if new != text:
                changed += 1
                print(f"would reformat {spec}", file=sys.stderr)
        elif args.in_place:
            if new != text:
                write_text(Path(spec), new)
                print(f"reformatted {spec}", file=sys.stderr)
        else:
            sys.stdout.write(new)
    return 1 if changed else 0


def _table(args: argparse.Namespace) -> int:
    """Render one paper-style table for the given specs (one column per spec)."""
    from archdsl.api import load
    from archdsl.analysis.table import render_table
    limits = limits_from_args(args)
    graphs = [load(s, limits=limits, **defines(args)) for s in args.specs]
    sys.stdout.write(render_table(graphs, args.format, stacked=args.stacked, layout=args.layout))
    return 0


def add_table_parsers(sub: Any) -> None:
    """Register ``table`` and ``fmt`` on the CLI's sub-parser object."""
    p = sub.add_parser("fmt", help="print specs in canonical form (--check, --in-place)")
    p.add_argument("specs", nargs="+", help="spec files")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true", help="exit 1 if a file is not canonical")
    g.add_argument("--in-place", "-i", action="store_true", help="rewrite files atomically")
    p.set_defaults(func=_fmt)
    p = sub.add_parser("table", help="print a paper-style architecture table (torch-free)")
    p.add_argument("specs", nargs="+", help="spec files or bundled names (one column each)")
    add_options(p, *SPEC, "batch", format={"choices": FORMATS, "default": "text"})
    p.add_argument("--stacked", action="store_true",
                   help="print bracketed blocks one layer per line, as the papers do")
    p.add_argument("--layout", choices=("auto", "stages", "inception"), default="auto",
                   help="stages: a description column per network (ResNet's Table 1); "
                        "inception: GoogLeNet's Table 1 columns; auto: inception where a "
                        "network is written one layer or module per stage")
    p.set_defaults(func=_table)
