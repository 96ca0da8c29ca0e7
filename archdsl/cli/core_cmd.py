"""``archdsl check``, ``show`` and ``list``: validate specs, print the IR, list the bundled
networks. Torch-free; registered by :mod:`archdsl.cli.main`, which imports this module only
when one of them runs."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from archdsl.cli import views
from archdsl.cli.options import SPEC, add_options, defines, limits_from_args
from archdsl.errors import ArchError
from archdsl.ir.graph import dims_text

#: check, show and list print text, or one JSON object (schemas: docs/json.md)
TEXT_JSON = {"choices": ("text", "json"), "default": "text"}


def _check(args: argparse.Namespace) -> int:
    """Validate specs; print one line per spec (name, layers, output shape); never imports torch."""
    from archdsl.api import load
    params = defines(args)
    limits = limits_from_args(args)
    failed, rows = 0, []
    for spec in args.specs:
        t0 = time.perf_counter()
        try:
            g = load(spec, limits=limits, **params)
        except ArchError as e:
            print(e.render(), file=sys.stderr)
            failed += 1
            rows.append({"spec": spec, "ok": False, "error": e.message})
            continue
        ms = (time.perf_counter() - t0) * 1e3
        if args.format == "json":
            rows.append({"spec": spec, "ok": True, **views.summary(g), "ms": round(ms, 1)})
            continue
        shape = dims_text(g.output_shape)
        print(f"ok  {g.name:<22} {g.depth:>5} layers  {len(g.nodes):>5} nodes  "
              f"{dims_text(g.input_shape)} → {shape}  ({ms:.0f} ms)")
    if args.format == "json":
        views.print_json({"specs": rows})
    return 2 if failed else 0


def _show(args: argparse.Namespace) -> int:
    """Print the validated IR, one node per line."""
    from archdsl.api import load
    g = load(args.spec, limits=limits_from_args(args), **defines(args))
    if args.format == "json":
        views.print_json(views.show_dict(g))
    else:
        sys.stdout.write(views.show_text(g))
    return 0


def _list(args: argparse.Namespace) -> int:
    """Bundled networks (a wildcard pattern keeps the matching names): name and file."""
    from archdsl.api import list_specs
    found = list_specs(args.pattern)
    if args.format == "json":
        views.print_json({"specs": [{"name": n, "file": str(p), "family_member": n != p.stem}
                                    for n, p in found.items()]})
        return 0
    for name, path in found.items():
        print(f"{name:<24} {path.name}")
    if args.pattern and not found:
        print(f"no bundled network matches {args.pattern!r}", file=sys.stderr)
        return 1
    return 0


def add_core_parsers(sub: Any) -> None:
    """check, show, list: the sub-commands this module runs itself."""
    p = sub.add_parser("check", help="validate specs (torch-free)")
    p.add_argument("specs", nargs="+", help="spec files or bundled names")
    add_options(p, *SPEC, "batch", format=TEXT_JSON)
    p.set_defaults(func=_check)
    p = sub.add_parser("show", help="print the validated IR of a spec")
    p.add_argument("spec", help="spec file or bundled name")
    add_options(p, *SPEC, "batch", format=TEXT_JSON)
    p.set_defaults(func=_show)
    p = sub.add_parser("list", help="list bundled networks and family members")
    p.add_argument("pattern", nargs="?", help="shell wildcard, e.g. 'resnet*' (quote it)")
    add_options(p, format=TEXT_JSON)
    p.set_defaults(func=_list)
