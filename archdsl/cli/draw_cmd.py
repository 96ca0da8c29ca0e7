"""The ``archdsl draw`` sub-command (torch-free): specs -> an SVG or a self-contained HTML page.

``archdsl draw SPEC… [-o FILE.svg|FILE.html] [-f svg|html] [--by layer|block|stage] [-D k=v]``;
several specs are drawn side by side. ``-f html`` or an output file named ``.html``
gives the page, else SVG; without ``-o`` the picture goes to stdout. Files are written atomically.
``--by stage`` boxes list their stage's table rows and draw no shortcut arcs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from archdsl.cli.options import SPEC, add_options, defines, limits_from_args
from archdsl.errors import COMMAND_LINE, ArchError

FORMATS = ("svg", "html")
LEVELS = ("layer", "block", "stage")


def _format(args: argparse.Namespace) -> str:
    """``-f html``, or an output file named .html/.htm, gives HTML; anything else SVG."""
    suffix = Path(args.out).suffix.lower() if args.out else ""
    if args.format == "html" or suffix in (".html", ".htm"):
        return "html"
    if args.out and suffix != ".svg":
        raise ArchError(f"cannot tell the picture's format from {args.out!r}", COMMAND_LINE,
                        hint="name the file .svg or .html")
    return "svg"


def _draw(args: argparse.Namespace) -> int:
    """Draw the specs into one picture (one column per spec)."""
    from archdsl.api import load
    from archdsl.analysis.diagram_html import draw
    fmt = _format(args)
    limits = limits_from_args(args)
    graphs = [load(s, limits=limits, **defines(args)) for s in args.specs]
    text = draw(graphs, format=fmt, by=args.by)
    if not args.out:
        sys.stdout.write(text)
        return 0
    from archdsl.atomic import write_text
    write_text(Path(args.out), text)
    print(f"wrote {args.out} ({len(text.encode()):,} bytes, {fmt})", file=sys.stderr)
    return 0


def add_draw_parser(sub: Any) -> None:
    """Register ``draw`` on the CLI's sub-parser object."""
    p = sub.add_parser("draw", help="draw specs as an SVG or a self-contained HTML page (torch-free)")
    p.add_argument("specs", nargs="+", help="spec files or bundled names (one column each)")
    add_options(p, *SPEC, "batch", "out", format={"choices": FORMATS, "default": "svg"})
    p.add_argument("--by", choices=LEVELS, default="layer",
                   help="one box per layer (default), block or stage")
    p.set_defaults(func=_draw)
