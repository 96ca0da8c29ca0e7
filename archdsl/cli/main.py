"""The ``archdsl`` command: argument parsing only; the work is done by the API modules.

Every failure a user can cause (:class:`ArchError`: spec errors, limits, recipes, data,
checkpoints, weights, export) prints like a compiler diagnostic and exits 2. Sub-commands
that need torch (build --export, train, eval, bench, report --verify) import it only when run.
Shared options come from :mod:`archdsl.cli.options`; each verb group registers its own
sub-commands, and none of them imports this module (no import cycles).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from archdsl.atomic import unwind_on_signal
from archdsl.errors import ArchError
from archdsl.ir.graph import dims_text
from archdsl.cli.options import SPEC, add_options, defines, limits_from_args


def _check(args: argparse.Namespace) -> int:
    """Validate specs; print one line per spec (name, layers, output shape); never imports torch."""
    from archdsl.api import load
    params = defines(args)
    limits = limits_from_args(args)
    failed = 0
    for spec in args.specs:
        t0 = time.perf_counter()
        try:
            g = load(spec, limits=limits, **params)
        except ArchError as e:
            print(e.render(), file=sys.stderr)
            failed += 1
            continue
        ms = (time.perf_counter() - t0) * 1e3
        shape = dims_text(g.output_shape)
        print(f"ok  {g.name:<22} {g.depth:>5} layers  {len(g.nodes):>5} nodes  "
              f"{dims_text(g.input_shape)} → {shape}  ({ms:.0f} ms)")
    return 2 if failed else 0


def _show(args: argparse.Namespace) -> int:
    """Print the validated IR, one node per line."""
    from archdsl.api import load
    print(load(args.spec, limits=limits_from_args(args), **defines(args)))
    return 0


def _list(args: argparse.Namespace) -> int:
    from archdsl.api import list_specs
    for name, path in sorted(list_specs().items()):
        print(f"{name:<24} {path.name}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    """The full argument parser (sub-commands registered by their own modules)."""
    parser = argparse.ArgumentParser(prog="archdsl", description="A declarative architecture "
                                     "compiler for convolutional networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="validate specs (torch-free)")
    p.add_argument("specs", nargs="+", help="spec files or bundled names")
    add_options(p, *SPEC, "batch")
    p.set_defaults(func=_check)
    p = sub.add_parser("show", help="print the validated IR of a spec")
    p.add_argument("spec", help="spec file or bundled name")
    add_options(p, *SPEC, "batch")
    p.set_defaults(func=_show)
    p = sub.add_parser("list", help="list bundled networks and family members")
    p.set_defaults(func=_list)
    from archdsl.cli.report_cmd import add_report_parser
    add_report_parser(sub)
    from archdsl.cli.build_cmd import add_build_parser
    add_build_parser(sub)
    from archdsl.cli.table_cmd import add_table_parsers
    add_table_parsers(sub)
    from archdsl.cli.train_cmd import register
    register(sub)
    from archdsl.cli.draw_cmd import add_draw_parser
    add_draw_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``archdsl`` console script."""
    args = make_parser().parse_args(argv)
    in_main = threading.current_thread() is threading.main_thread()
    # SIGTERM (kill, torchrun, a CI timeout) unwinds for the whole command, not only
    # during a write: the command's own cleanup runs too
    previous = signal.signal(signal.SIGTERM, unwind_on_signal) if in_main else None
    try:
        return args.func(args)
    except ArchError as e:
        print(e.render(), file=sys.stderr)
        return 2
    except OSError as e:   # a file system refusing a write the command did not foresee
        print(f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:   # an embedding program (or pytest) gets its own handler back
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
